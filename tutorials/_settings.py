"""Settings shared by the tutorials: output folder and a fast mode for the test suite.

``SCSSL_TUTORIAL_EPOCHS`` (unset by default) caps every training run, so that
``tests/test_tutorials.py`` can execute each tutorial in seconds; a reader leaves it
unset and gets each model's own default budget. ``SCSSL_TUTORIAL_OUT`` (default
``./tutorial_output``) is where figures and saved models go.
"""

from __future__ import annotations

import os
from pathlib import Path

_epochs = os.environ.get("SCSSL_TUTORIAL_EPOCHS")
EPOCHS: int | None = int(_epochs) if _epochs else None  # None: the model's default
OUT = Path(os.environ.get("SCSSL_TUTORIAL_OUT", "tutorial_output"))
OUT.mkdir(parents=True, exist_ok=True)

"""Settings shared by the tutorials: output folder and a fast mode for the test suite.

``SCSSL_TUTORIAL_EPOCHS`` (unset by default) caps every training run, so that
``tests/test_tutorials.py`` can execute each tutorial in seconds; a reader leaves it
unset and gets each model's own default budget. ``SCSSL_TUTORIAL_OUT`` (default
``./tutorial_output``) is where figures and saved models go.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

# library chatter that says nothing about the tutorial's results
for message in (
    "IProgress not found",  # tqdm without ipywidgets
    ".*isinstance\\(treespec, LeafSpec\\)",  # a Lightning deprecation
    "The number of training batches",  # Lightning's logging-interval hint
    "Sparse CSR tensor support is in beta",
    "Sparse invariant checks are implicitly disabled",
):
    warnings.filterwarnings("ignore", message=message)

_epochs = os.environ.get("SCSSL_TUTORIAL_EPOCHS")
EPOCHS: int | None = int(_epochs) if _epochs else None  # None: the model's default
if EPOCHS is not None:
    print(
        f"Reduced budget: every model trains for at most {EPOCHS} epochs "
        "(SCSSL_TUTORIAL_EPOCHS); the figures quoted in the text come from full-budget runs."
    )
OUT = Path(os.environ.get("SCSSL_TUTORIAL_OUT", "tutorial_output"))
OUT.mkdir(parents=True, exist_ok=True)

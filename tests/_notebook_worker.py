"""Execute one tutorial notebook in fast mode: ``python _notebook_worker.py NOTEBOOK OUT``.

Run by ``tests/test_tutorials.py``, two notebooks at a time in separate processes. Exit
status 0: every cell ran; otherwise the failing cell and its traceback are on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbclient
import nbformat


def main(notebook_path: Path, out: Path) -> None:
    # the kernel inherits this environment: two epochs per model, outputs under `out`
    os.environ["SCSSL_TUTORIAL_EPOCHS"] = "2"
    os.environ["SCSSL_TUTORIAL_OUT"] = str(out)
    notebook = nbformat.read(notebook_path, as_version=4)
    nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook_path.parent)}},
    ).execute()  # raises CellExecutionError, with the failing cell, on any error


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

"""Every tutorial notebook runs end to end (fast mode: two epochs per model) and matches
its percent script (the two are a jupytext pair)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def _code_cells(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def test_tutorials_are_found():
    assert len(SCRIPTS) >= 4


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_matches_its_script(script):
    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    assert _code_cells(notebook) == _code_cells(jupytext.read(script)), (
        f"{script.name} and its notebook differ: run `jupytext --sync {script}`"
    )
    assert any(cell.get("outputs") for cell in notebook.cells), "commit the executed notebook"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs(script, tmp_path, monkeypatch, baron_small):  # baron_small: data present
    monkeypatch.setenv("SCSSL_TUTORIAL_EPOCHS", "2")
    monkeypatch.setenv("SCSSL_TUTORIAL_OUT", str(tmp_path))
    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIALS)}},
    ).execute()  # raises CellExecutionError, with the failing cell, on any error
    written = {p.name for p in tmp_path.iterdir()}
    assert written, "the tutorial wrote nothing to its output folder"

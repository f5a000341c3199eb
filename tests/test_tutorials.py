"""Every tutorial notebook runs end to end (fast mode: two epochs per model, two notebooks
at a time) and matches its percent script (the two are a jupytext pair)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
WORKER = Path(__file__).with_name("_notebook_worker.py")


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


def _run_notebook(script: Path, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(WORKER), str(script.with_suffix(".ipynb")), str(out)]
    # one thread per kernel: two kernels share the machine's cores without oversubscription
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


@pytest.fixture(scope="module")
def executed_notebooks(request, tmp_path_factory, baron_small):  # baron_small: data present
    """Each selected tutorial, executed in its own process, two at a time (each notebook
    starts a kernel and imports the stack, which alone takes seconds): stem -> (output
    folder, finished process)."""
    selected = [
        item.callspec.params["script"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_notebook_runs"
    ]
    outs = {script.stem: tmp_path_factory.mktemp(script.stem) for script in selected}
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {s.stem: pool.submit(_run_notebook, s, outs[s.stem]) for s in selected}
        return {stem: (outs[stem], run.result()) for stem, run in runs.items()}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs(script, executed_notebooks):
    out, run = executed_notebooks[script.stem]
    assert run.returncode == 0, f"{script.name} failed:\n{run.stderr[-6000:]}"
    written = {p.name for p in out.iterdir()}
    assert written, "the tutorial wrote nothing to its output folder"

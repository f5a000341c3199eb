"""Every tutorial runs end to end (fast mode: one or two epochs per model)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import matplotlib
import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def test_tutorials_are_found():
    assert len(SCRIPTS) >= 3


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_tutorial_runs(script, tmp_path, monkeypatch, baron_small):  # baron_small: data present
    matplotlib.use("Agg")
    monkeypatch.setenv("SCSSL_TUTORIAL_EPOCHS", "2")
    monkeypatch.setenv("SCSSL_TUTORIAL_OUT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(TUTORIALS))
    sys.modules.pop("_settings", None)  # re-read the environment
    runpy.run_path(str(script), run_name="__main__")
    written = {p.name for p in tmp_path.iterdir()}
    assert written, "the tutorial wrote nothing to its output folder"

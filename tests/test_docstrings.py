"""Every docstring example that is not marked ``+SKIP`` runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import logging
import pkgutil

import numpy as np
import pytest
import scvi

import scssl

MODULES = sorted(info.name for info in pkgutil.walk_packages(scssl.__path__, "scssl."))


def test_modules_are_found():
    assert "scssl.tl._benchmark" in MODULES and len(MODULES) > 50


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    # an example shows results, not scvi-tools' INFO lines (a user still sees those)
    monkeypatch.setattr(scvi.settings, "verbosity", logging.WARNING)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(
        module, extraglobs={"scssl": scssl, "np": np}
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in tests:
        if test.examples:
            runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)

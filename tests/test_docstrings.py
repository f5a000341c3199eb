"""Every docstring example that is not marked ``+SKIP`` runs and prints what it shows.

Method examples use the names a user would have at hand (``adata``, ``model``,
``ref_model``, ``query``): the namespace supplies them, built from real PBMCs with a
small trained model, so that the examples run instead of being skipped.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import logging
import pkgutil

import numpy as np
import pytest
import scvi
from anndata import AnnData

import scssl
from scssl.model._base import ScsslModelMixin

MODULES = sorted(info.name for info in pkgutil.walk_packages(scssl.__path__, "scssl."))
FAST = {"max_epochs": 1, "enable_progress_bar": False}


def _masked_ae_namespace() -> dict:
    """A MaskedAE (batch ``phase``) trained briefly; a query with 23 genes fewer, new batch."""
    adata = scssl.data.pbmc68k_counts()
    scssl.model.MaskedAE.setup_anndata(adata, layer="counts", batch_key="phase")
    model = scssl.model.MaskedAE(adata, encode_covariates=True)
    model.train(**FAST)
    query = adata[:100, 23:].copy()
    query.obs["phase"] = "new_batch"
    return {"adata": adata, "model": model, "ref_model": model, "query": query}


def _multimodal_namespace() -> dict:
    """A MultimodalMAE on PBMCs with simulated protein counts; an RNA-only query."""
    adata = scssl.data.pbmc68k_counts()
    proteins = np.random.default_rng(0).poisson(5, (adata.n_obs, 8)).astype(np.float32)
    adata.obsm["protein_expression"] = proteins
    scssl.model.MultimodalMAE.setup_anndata(
        adata, layer="counts", protein_expression_obsm_key="protein_expression"
    )
    model = scssl.model.MultimodalMAE(adata)
    model.train(**FAST)
    query = adata[:100].copy()
    del query.obsm["protein_expression"]
    return {"adata": adata, "model": model, "query": query}


def _classifier_namespace() -> dict:
    """The MaskedAE namespace plus a classifier on it (``ssl``, ``clf``, ``adata_query``)."""
    namespace = _masked_ae_namespace()
    clf = scssl.model.CellTypeClassifier.from_pretrained(
        namespace["model"], namespace["adata"], labels_key="bulk_labels"
    )
    clf.train(**FAST)
    adata_query = namespace["adata"][:50].copy()  # cells of known batches, the model's genes
    return namespace | {"ssl": namespace["model"], "clf": clf, "adata_query": adata_query}


NAMESPACES = {
    "scssl.model._multimodal": _multimodal_namespace,
    "scssl.model._classifier": _classifier_namespace,
}


def test_modules_are_found():
    assert "scssl.tl._benchmark" in MODULES and len(MODULES) > 50


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    # an example shows results, not scvi-tools' INFO lines (a user still sees those)
    monkeypatch.setattr(scvi.settings, "verbosity", logging.WARNING)
    # nor progress bars (scvi-tools writes them to stdout); an example that passes
    # enable_progress_bar itself still decides
    quiet_train = functools.partialmethod(ScsslModelMixin.train, enable_progress_bar=False)
    monkeypatch.setattr(ScsslModelMixin, "train", quiet_train)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module)
    runnable = [t for t in tests if any(not e.options.get(doctest.SKIP) for e in t.examples)]
    if not runnable:
        return
    namespace = {"scssl": scssl, "np": np}
    if name.startswith("scssl.model."):
        namespace |= NAMESPACES.get(name, _masked_ae_namespace)()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in runnable:
        # each example gets its own copy of the data (examples change them in place);
        # the module's own names win
        data = {k: v.copy() for k, v in namespace.items() if isinstance(v, AnnData)}
        test.globs = {**namespace, **data, **test.globs}
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)

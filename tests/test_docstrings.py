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
from pathlib import Path

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


def _programme_namespace() -> dict:
    """A MaskedAE trained briefly with programme-to-TF masking (C3 TF-target sets)."""
    adata = scssl.data.pbmc68k_counts()
    path = scssl.data.data_dir() / "gene_programs" / "c3.tft.v7.5.1.symbols.gmt"
    tfs = scssl.data.GeneProgrammes.from_gmt(path, tf_from_name=True).align(adata)
    scssl.model.MaskedAE.setup_anndata(adata, layer="counts")
    model = scssl.model.MaskedAE(adata, masking="gp_to_tf", programmes=tfs)
    model.train(**FAST)
    return {"adata": adata, "model": model}


def _benchmark_namespace() -> dict:
    """A small ``scssl.benchmark`` result (PCA and a one-epoch MaskedAE, one seed)."""
    adata = scssl.data.pbmc68k_counts()
    result = scssl.benchmark(
        adata,
        layer="counts",
        labels_key="bulk_labels",
        batch_key="phase",
        methods={"pca": None, "masked_ae": {"max_epochs": 1}},
        seeds=[0],
        progress_bar=False,
    )
    return {"adata": adata, "result": result}


def _drug_response_namespace() -> dict:
    """GDSC erlotinib bulk + PC9 cells in one AnnData, a DrugResponseTransfer trained briefly."""
    adata = scssl.data.build_drug_response_adata(
        scssl.data.gdsc_bulk_expression(),
        scssl.data.gdsc_ln_ic50("Erlotinib"),
        scssl.data.pc9_erlotinib(),
        threshold=scssl.data.ln_ic50_threshold("Erlotinib"),
    )
    scssl.model.DrugResponseTransfer.setup_anndata(adata)
    model = scssl.model.DrugResponseTransfer(adata)
    model.train(**FAST)
    return {"adata": adata, "model": model}


def _soma_namespace() -> dict:
    """Writes ``atlas.soma`` (300 Baron cells, 500 genes, ``donor``) in the current folder.

    Its path is absolute: TileDB resolves relative paths against the working folder of
    its first use in the process (another test's), not the current one.
    """
    import tiledbsoma.io
    from scipy import sparse

    baron = scssl.data.baron_pancreas()
    detected = np.asarray((baron.X > 0).sum(axis=0)).ravel()
    atlas = baron[:300, np.sort(np.argsort(-detected)[:500])].copy()
    atlas.X = sparse.csr_matrix(atlas.X, dtype=np.float32)
    atlas.obs = atlas.obs[["donor"]].astype(str)
    uri = str(Path.cwd().resolve() / "atlas.soma")
    tiledbsoma.io.from_anndata(uri, atlas, measurement_name="RNA")
    return {"atlas_uri": uri}


NAMESPACES = {
    "scssl.data._soma": _soma_namespace,
    "scssl.model._drug_response": _drug_response_namespace,
    "scssl.tl._drug_response": _drug_response_namespace,
    "scssl.model._multimodal": _multimodal_namespace,
    "scssl.model._classifier": _classifier_namespace,
    "scssl.tl._programmes": _programme_namespace,
    "scssl.pl._programmes": _programme_namespace,
    "scssl.tl._benchmark_result": _benchmark_namespace,
    "scssl.pl._benchmark": _benchmark_namespace,
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
    if name in NAMESPACES:
        namespace |= NAMESPACES[name]()
    elif name.startswith("scssl.model."):
        namespace |= _masked_ae_namespace()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in runnable:
        # each example gets its own copy of the data (examples change them in place);
        # the module's own names win
        data = {k: v.copy() for k, v in namespace.items() if isinstance(v, AnnData)}
        test.globs = {**namespace, **data, **test.globs}
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)

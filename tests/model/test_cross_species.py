"""Cross-species reference mapping: a mouse query onto a human reference through orthologues."""

from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest

import scssl
from scssl import cli


@pytest.fixture(scope="module")
def human_reference(baron_small, tmp_path_factory):
    """A tiny MaskedAE on human Baron cells, saved; and a mouse query sharing its orthologues."""
    pairs, *_ = scssl.data.read_gene_map(
        scssl.data.human_mouse_orthologues(), baron_small.var_names
    )
    mouse = scssl.data.mouse_pancreas()
    human_genes = [g for g in baron_small.var_names if pairs.get(g) in set(mouse.var_names)]
    ref = baron_small[:, human_genes].copy()
    scssl.model.MaskedAE.setup_anndata(ref, batch_key="donor")
    model = scssl.model.MaskedAE(ref, n_latent=4, n_hidden=16, n_layers=1, encode_covariates=True)
    model.train(max_epochs=1, batch_size=64, enable_progress_bar=False)
    folder = tmp_path_factory.mktemp("human") / "ref"
    model.save(str(folder))
    query = mouse[:60].copy()
    query.obs["donor"] = "mouse"
    return folder, ref, query


def test_prepare_query_renames_mouse_genes_into_the_reference_space(human_reference):
    folder, ref, query = human_reference
    original = query.copy()
    with pytest.raises(ValueError, match="gene_map="):  # without the map nothing matches
        scssl.model.MaskedAE.prepare_query_anndata(query.copy(), str(folder))
    prepared = scssl.model.MaskedAE.prepare_query_anndata(
        query, str(folder), inplace=False, gene_map=scssl.data.human_mouse_orthologues()
    )
    # the user's object is untouched; the prepared one has the reference's genes
    assert query.var_names.equals(original.var_names) and "query_gene" not in query.var
    assert prepared.var_names.equals(ref.var_names)
    record = prepared.uns["scssl_query_genes"]
    assert record["n_shared"] == ref.n_vars and record["gene_map"]["n_mapped"] >= ref.n_vars
    gcg = prepared.var_names.get_loc("GCG")  # the counts travel with their gene
    assert prepared.var["query_gene"].iloc[gcg] == "Gcg"
    np.testing.assert_array_equal(
        np.asarray(prepared.X[:, gcg].todense()).ravel(),
        np.asarray(original[:, "Gcg"].X.todense()).ravel(),
    )
    query_model = scssl.model.MaskedAE.load_query_data(prepared, str(folder))
    query_model.train(max_epochs=1, batch_size=32, enable_progress_bar=False)
    assert query_model.get_latent_representation().shape == (60, 4)


def test_load_query_data_takes_the_gene_map_and_low_overlap_is_refused(human_reference):
    folder, ref, query = human_reference
    query = query.copy()
    model = scssl.model.MaskedAE.load_query_data(
        query, str(folder), gene_map=scssl.data.human_mouse_orthologues()
    )
    assert query.var_names.equals(ref.var_names)  # prepared in place
    assert model.get_latent_representation().shape == (60, 4)
    few = scssl.data.mouse_pancreas()[:20, :40].copy()
    before = few.var_names.copy()
    with pytest.raises(ValueError, match="too few reference genes.*gene map"):
        scssl.model.MaskedAE.prepare_query_anndata(
            few, str(folder), gene_map=scssl.data.human_mouse_orthologues()
        )
    assert few.var_names.equals(before)  # refused before anything changed


def test_scssl_map_with_a_gene_map(baron_small, tmp_path, capsys):
    human = baron_small.copy()
    human.write_h5ad(tmp_path / "human.h5ad")
    reference = tmp_path / "ref"
    argv = ["pretrain", "--input", str(tmp_path / "human.h5ad"), "--batch-key", "donor"]
    argv += ["--output", str(reference), "--max-epochs", "1", "--batch-size", "64"]
    argv += ["--n-top-genes", "0"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    pairs, *_ = scssl.data.read_gene_map(scssl.data.human_mouse_orthologues(), human.var_names)
    mouse_names = [pairs[g] for g in human.var_names if g in pairs.index]
    query = anndata.AnnData(
        human.X[:30, [human.var_names.get_loc(g) for g in human.var_names if g in pairs.index]],
        obs=pd.DataFrame({"donor": "mouse"}, index=[f"m{i}" for i in range(30)]),
        var=pd.DataFrame(index=mouse_names),
    )
    query.write_h5ad(tmp_path / "mouse.h5ad")
    out = tmp_path / "mapped.h5ad"
    argv = ["map", "--reference", str(reference), "--query", str(tmp_path / "mouse.h5ad")]
    argv += ["--output", str(out), "--labels-key", "cell_type1", "--max-epochs", "1"]
    missing = argv + ["--gene-map", str(tmp_path / "nope.csv")]
    assert cli.main(missing) == 2  # a missing map fails before any work
    assert not out.exists()
    assert cli.main(argv + ["--gene-map", str(scssl.data.human_mouse_orthologues())]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["genes_renamed_by_gene_map"] == len(mouse_names)
    assert summary["reference_genes_in_query"] == len(mouse_names)
    assert anndata.read_h5ad(out).obsm["X_scssl"].shape[0] == 30

"""MuData registration for the RNA models, and the RNA + protein masked autoencoder."""

from __future__ import annotations

import anndata
import mudata
import numpy as np
import pandas as pd
import pytest

import scssl
from scssl.model import MaskedAE, MultimodalMAE

FAST = {"max_epochs": 3, "enable_progress_bar": False}


@pytest.fixture(scope="module")
def cite():
    path = scssl.data.data_dir() / "scrna" / "cite_pbmc"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    adata = scssl.data.cite_pbmc()
    detected = np.asarray((adata.X > 0).sum(axis=0)).ravel()
    return adata[:, np.sort(np.argsort(-detected)[:300])].copy()


def test_cite_pbmc_holds_two_batches_and_the_shared_panel(cite):
    assert cite.n_obs == 400 and set(cite.obs["batch"]) == {"pbmc_10k", "pbmc_5k"}
    proteins = cite.obsm["protein_expression"]
    assert isinstance(proteins, pd.DataFrame) and proteins.shape == (400, 14)
    assert (proteins.to_numpy() > 0).any(axis=1).all()


def test_rna_model_trains_on_mudata_and_round_trips(cite, tmp_path):
    mdata = mudata.MuData({"rna": cite.copy()})
    MaskedAE.setup_mudata(
        mdata, batch_key="batch", modalities={"rna_layer": "rna", "batch_key": "rna"}
    )
    model = MaskedAE(mdata, n_hidden=32, n_latent=8)
    model.train(**FAST)
    z = model.get_latent_representation()
    assert z.shape == (400, 8)
    model.save(tmp_path / "m", overwrite=True)
    np.testing.assert_allclose(
        MaskedAE.load(str(tmp_path / "m"), adata=mdata).get_latent_representation(), z, atol=1e-6
    )
    with pytest.raises(ValueError, match="modalities"):
        MaskedAE.setup_mudata(mdata)
    with pytest.raises(KeyError, match="not a modality"):
        MaskedAE.setup_mudata(mdata, modalities={"rna_layer": "atac"})


def test_multimodal_mae_predicts_the_proteins_of_an_rna_only_batch(cite):
    adata = cite.copy()
    held = (adata.obs["batch"] == "pbmc_5k").to_numpy()
    truth = adata.obsm["protein_expression"].to_numpy().copy()
    adata.obsm["protein_expression"].loc[held] = 0  # unmeasured
    MultimodalMAE.setup_anndata(
        adata, protein_expression_obsm_key="protein_expression", batch_key="batch"
    )
    model = MultimodalMAE(adata, n_hidden=64)
    model.train(max_epochs=60, enable_progress_bar=False)
    predicted = model.predict_modality(source="rna", target="protein")
    assert list(predicted.columns) == list(cite.obsm["protein_expression"].columns)
    logged = np.log1p(truth[held])
    clr = logged - logged.mean(axis=1, keepdims=True)
    r = [np.corrcoef(predicted.to_numpy()[held][:, j], clr[:, j])[0, 1] for j in range(14)]
    assert np.nanmean(r) > 0.3  # far above chance (0) on cells never seen with proteins
    for source in ("joint", "rna", "protein"):
        assert model.get_latent_representation(source=source).shape == (400, 32)
    with pytest.raises(ValueError, match="source"):
        model.predict_modality(source="rna", target="rna")


def test_multimodal_setup_refuses_bad_proteins_and_takes_mudata(cite):
    adata = cite.copy()
    with pytest.raises(KeyError, match="obsm"):
        MultimodalMAE.setup_anndata(adata, protein_expression_obsm_key="adt")
    adata.obsm["bad"] = -np.ones((adata.n_obs, 3))
    with pytest.raises(ValueError, match="protein counts"):
        MultimodalMAE.setup_anndata(adata, protein_expression_obsm_key="bad")
    protein = anndata.AnnData(
        cite.obsm["protein_expression"].to_numpy(), obs=pd.DataFrame(index=cite.obs_names)
    )
    mdata = mudata.MuData({"rna": cite.copy(), "protein": protein})
    MultimodalMAE.setup_mudata(
        mdata,
        batch_key="batch",
        modalities={"rna_layer": "rna", "protein_layer": "protein", "batch_key": "rna"},
    )
    model = MultimodalMAE(mdata, n_hidden=32)
    model.train(**FAST)
    assert model.predict_modality(target="protein").shape == (400, 14)


def test_rna_only_query_maps_onto_a_multimodal_reference(cite):
    held = (cite.obs["batch"] == "pbmc_5k").to_numpy()
    reference, query = cite[~held].copy(), cite[held].copy()
    del query.obsm["protein_expression"]
    MultimodalMAE.setup_anndata(
        reference, protein_expression_obsm_key="protein_expression", batch_key="batch"
    )
    model = MultimodalMAE(reference, n_hidden=32)
    model.train(**FAST)
    MultimodalMAE.prepare_query_anndata(query, model)
    assert query.obsm["protein_expression"].shape == (200, 14)
    assert not query.obsm["protein_expression"].any()  # unmeasured, not invented
    mapped = MultimodalMAE.load_query_data(query, model)
    mapped.train(**FAST)
    assert mapped.predict_modality(target="protein").shape == (200, 14)

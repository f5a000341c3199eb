"""MuData registration for the RNA models, and the RNA + protein masked autoencoder."""

from __future__ import annotations

import anndata
import mudata
import numpy as np
import pandas as pd
import pytest
import scvi
import torch

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
    rna_only = mudata.MuData({"rna": cite[:50, ::-1].copy()})  # genes in another order
    with pytest.raises(ValueError, match="no 'protein' modality"):
        MultimodalMAE.prepare_query_anndata(rna_only, model)
    assert list(rna_only.mod["rna"].var_names) == list(cite.var_names[::-1])  # refused untouched


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


def _own_partner_rank(model) -> float:
    """Mean share of other cells' protein embeddings less similar (cosine) to a cell's RNA
    embedding than its own protein embedding (0.5: chance; proteins alone cannot tell
    cells of one type apart, so 1 is out of reach)."""
    z_rna = model.get_latent_representation(source="rna")
    z_protein = model.get_latent_representation(source="protein")
    z_rna /= np.linalg.norm(z_rna, axis=1, keepdims=True)
    z_protein /= np.linalg.norm(z_protein, axis=1, keepdims=True)
    similarity = z_rna @ z_protein.T
    return float((similarity < np.diag(similarity)[:, None]).mean())


def test_contrastive_variant_pulls_a_cells_two_modalities_together(cite):
    adata = cite.copy()
    MultimodalMAE.setup_anndata(adata, protein_expression_obsm_key="protein_expression")
    rates = {}
    for weight in (0.0, 1.0):
        scvi.settings.seed = 0
        model = MultimodalMAE(adata, n_hidden=64, contrastive_weight=weight)
        model.train(max_epochs=40, enable_progress_bar=False)
        rates[weight] = _own_partner_rank(model)
    logged = model.history["contrastive_term_train"]
    assert logged.iloc[-1, 0] < logged.iloc[0, 0]  # the cross-modal term is optimised
    assert rates[1.0] > rates[0.0] + 0.03  # measured: 0.86 vs 0.78
    with pytest.raises(ValueError, match="contrastive_weight"):
        MultimodalMAE(adata, contrastive_weight=-1.0)


def test_cross_modal_term_uses_only_cells_showing_both_modalities():
    module = scssl.module.MultimodalMAEModule(n_genes=5, n_proteins=3, contrastive_weight=1.0)
    z = torch.randn(4, 32)
    outputs = {"z_rna": z, "z_protein": z + 0.01, "both_seen": torch.tensor([1, 1, 0, 0]).bool()}
    expected = scssl.nn.nt_xent_loss(z[:2], z[:2] + 0.01, temperature=0.1)
    torch.testing.assert_close(module._cross_modal_term(outputs), expected)
    outputs["both_seen"] = torch.tensor([1, 0, 0, 0]).bool()
    assert module._cross_modal_term(outputs).item() == 0.0  # one cell: no negatives


def test_contrastive_reads_partner_keys_from_the_rna_modality(cite):
    rna = cite.copy()
    scssl.tl.knn_pairs(rna)
    scssl.tl.mnn_pairs(rna, batch_key="batch")
    mdata = mudata.MuData({"rna": rna})
    modalities = {"rna_layer": "rna", "batch_key": "rna"}
    scssl.model.Contrastive.setup_mudata(
        mdata,
        batch_key="batch",
        knn_key="scssl_knn_partners",
        mnn_key="scssl_mnn_partner",
        modalities=modalities,
    )
    model = scssl.model.Contrastive(mdata, n_hidden=32, n_latent=8, mnn_prob=0.5)
    assert model.module.knn_pair.p == 0.5 and model.minibatch_sampling.dataset_aware
    model.train(**FAST)
    assert model.get_latent_representation().shape == (400, 8)
    rna.obs["scssl_mnn_partner"] = np.arange(400)  # every cell its own (same-batch) partner
    with pytest.raises(ValueError, match="another batch"):
        scssl.model.Contrastive.setup_mudata(
            mudata.MuData({"rna": rna}),
            batch_key="batch",
            mnn_key="scssl_mnn_partner",
            modalities=modalities,
        )


def test_mudata_query_maps_onto_a_mudata_reference(cite):
    held = (cite.obs["batch"] == "pbmc_5k").to_numpy()
    modalities = {"rna_layer": "rna", "batch_key": "rna"}
    reference = mudata.MuData({"rna": cite[~held].copy()})
    MaskedAE.setup_mudata(reference, batch_key="batch", modalities=modalities)
    model = MaskedAE(reference, n_hidden=32, n_latent=8)
    model.train(**FAST)
    query_rna = cite[held].copy()
    query_rna = query_rna[:, query_rna.var_names[20:][::-1]].copy()  # 20 genes fewer, reordered
    query = mudata.MuData({"rna": query_rna})
    with pytest.raises(ValueError, match="in place"):
        MaskedAE.prepare_query_anndata(query, model, inplace=False)
    with pytest.raises(ValueError, match="setup_mudata"):
        MaskedAE.prepare_query_anndata(query_rna.copy(), model)
    MaskedAE.prepare_query_anndata(query, model)
    assert list(query.mod["rna"].var_names) == list(cite.var_names)
    assert (
        query.n_vars == cite.n_vars
        and len(query.mod["rna"].uns["scssl_query_genes"]["missing"]) == 20
    )
    mapped = MaskedAE.load_query_data(query, model)
    assert mapped.query_mapping_["new_batches"] == ["pbmc_5k"]
    mapped.train(**FAST)
    assert mapped.get_latent_representation().shape == (200, 8)

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scvi
import torch
from sklearn.metrics import roc_auc_score

import scssl
from scssl.data import build_drug_response_adata
from scssl.model import DrugResponseTransfer
from scssl.nn import mmd_rbf

SHARED = scssl.data.data_dir() / "drug_response"
needs_data = pytest.mark.skipif(not SHARED.exists(), reason="shared drug-response data missing")


# -- synthetic domains with a known shift ------------------------------------------------------
def _synthetic(n_bulk=240, n_sc=200, n_genes=40, shift=1.5, seed=0):
    """Response driven by genes 0-3 in both domains; the cells carry a gene-wise offset."""
    rng = np.random.default_rng(seed)

    def domain(n, offset):
        latent = rng.normal(size=(n, 4))
        x = rng.normal(scale=0.5, size=(n, n_genes))
        x[:, :4] += latent
        x[:, 4:8] += latent[:, :1]  # correlated module
        score = latent[:, :4].sum(1) + rng.normal(scale=0.3, size=n)
        return x + offset, (score > np.quantile(score, 0.7)).astype(int)

    offset = np.zeros(n_genes)
    offset[8:] = shift * rng.normal(size=n_genes - 8)
    xb, yb = domain(n_bulk, 0.0)
    xs, ys = domain(n_sc, offset)
    genes = [f"g{i}" for i in range(n_genes)]
    bulk = ad.AnnData(xb.astype(np.float32), var=pd.DataFrame(index=genes))
    bulk.obs_names = [f"line{i}" for i in range(n_bulk)]
    cells = ad.AnnData(xs.astype(np.float32), var=pd.DataFrame(index=genes))
    cells.obs_names = [f"cell{i}" for i in range(n_sc)]
    cells.obs["truth"] = np.where(ys == 1, "sensitive", "resistant")
    labels = pd.Series(yb, index=bulk.obs_names)
    return build_drug_response_adata(
        bulk, labels, cells, sc_input="scaled", sc_labels_key="truth", min_shared_genes=10
    )


def _train(adata, seed=0, epochs=60, **kwargs):
    scvi.settings.seed = seed
    model = DrugResponseTransfer(adata, n_latent=8, n_hidden=32, **kwargs)
    model.train(max_epochs=epochs, warmup_epochs=10, enable_progress_bar=False, accelerator="cpu")
    return model


@pytest.fixture(scope="module")
def synthetic():
    adata = _synthetic()
    DrugResponseTransfer.setup_anndata(adata, n_clusters=4)
    return adata


@pytest.fixture(scope="module")
def trained(synthetic):
    return _train(synthetic, mmd_weight=1.0)


def test_build_scales_rows_and_labels(synthetic):
    x = synthetic.X
    np.testing.assert_allclose(x.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(1), 1, atol=1e-4)
    bulk = synthetic.obs["domain"] == "bulk"
    assert synthetic.obs.loc[bulk, "response"].isin([0, 1]).all()
    assert synthetic.obs.loc[~bulk, "response"].isna().all()
    assert synthetic.uns["drug_response"]["genes"]["n_shared_genes"] == 40
    for col in ("_scssl_domain", "_scssl_response", "_scssl_cluster"):
        assert col in synthetic.obs
    assert (synthetic.obs.loc[bulk, "_scssl_cluster"] == -1).all()
    assert synthetic.obs.loc[~bulk, "_scssl_cluster"].nunique() == 4


def test_transfer_on_known_shift_and_mmd_aligns(synthetic, trained):
    full = trained
    plain = _train(synthetic, mmd_weight=0.0, cluster_weight=0.0)
    sc_mask = full.single_cell_mask
    truth = (synthetic.obs["true_response"][sc_mask] == "sensitive").to_numpy()
    auroc = roc_auc_score(truth, full.predict_proba()[sc_mask])
    assert auroc > 0.8

    def embedding_mmd(model):
        z = torch.as_tensor(model.get_latent_representation())
        z = z / z.std()
        return float(mmd_rbf(z[~sc_mask], z[sc_mask]))

    assert embedding_mmd(full) < embedding_mmd(plain)
    for key in ("mmd_train", "cluster_consistency_train", "response_bce_train"):
        assert key in full.history
    assert full.history["alignment_weight_train"].iloc[0, 0] < 0.2
    assert full.history["alignment_weight_train"].iloc[-1, 0] == pytest.approx(1.0)


def test_predict_writes_obs_latent_and_save_load(synthetic, tmp_path):
    model = _train(synthetic, epochs=3)
    out = model.predict(threshold=0.5)
    prob = synthetic.obs["drug_response_prob_sensitive"].to_numpy()
    assert out.shape == (synthetic.n_obs, 2) and np.all((prob >= 0) & (prob <= 1))
    calls = synthetic.obs["drug_response_call"].astype(str).to_numpy()
    np.testing.assert_array_equal(calls == "sensitive", prob >= 0.5)
    assert model.get_latent_representation().shape == (synthetic.n_obs, 8)
    model.save(str(tmp_path / "m"), overwrite=True)
    loaded = DrugResponseTransfer.load(str(tmp_path / "m"), adata=synthetic)
    np.testing.assert_allclose(loaded.predict_proba(), model.predict_proba(), atol=1e-6)


def test_cluster_term_passes_gradient_to_encoder(synthetic):
    scvi.settings.seed = 0
    model = DrugResponseTransfer(synthetic, n_latent=8, n_hidden=32, mmd_weight=0.0)
    module = model.module
    module.eval()  # no corruption or dropout: only the loss weights differ
    tensors = next(iter(model._make_data_loader(synthetic, batch_size=synthetic.n_obs)))
    grads = []
    for weight in (0.0, 1.0):
        module.cluster_weight = weight
        module.zero_grad()
        _, _, loss = module(tensors)
        loss.loss.backward()
        grads.append(module.z_encoder.output.weight.grad.clone())
    assert not torch.allclose(grads[0], grads[1])


def test_sc_labels_never_reach_training():
    adata = _synthetic(n_bulk=60, n_sc=40)
    adata.obs.loc[adata.obs["domain"] == "single_cell", "response"] = 1.0
    with pytest.warns(UserWarning, match="never used"):
        DrugResponseTransfer.setup_anndata(adata, n_clusters=2)
    assert adata.obs.loc[adata.obs["domain"] == "single_cell", "_scssl_response"].isna().all()


def test_setup_errors():
    adata = _synthetic(n_bulk=60, n_sc=40)
    bulk = adata.obs["domain"] == "bulk"
    unlabelled = adata.copy()
    unlabelled.obs["response"] = np.nan
    with pytest.raises(ValueError, match="no labelled bulk rows"):
        DrugResponseTransfer.setup_anndata(unlabelled)
    one_class = adata.copy()
    one_class.obs.loc[bulk, "response"] = 0.0
    with pytest.raises(ValueError, match="resistant; the predictor needs both"):
        DrugResponseTransfer.setup_anndata(one_class)
    three = adata.copy()
    three.obs["domain"] = three.obs["domain"].astype(str)
    three.obs.iloc[0, three.obs.columns.get_loc("domain")] = "other"
    with pytest.raises(ValueError, match="mismatched domains"):
        DrugResponseTransfer.setup_anndata(three)
    with pytest.raises(ValueError, match="mismatched domains"):
        DrugResponseTransfer.setup_anndata(adata, bulk_domain="cell_lines")
    bad = adata.copy()
    bad.obs["response"] = bad.obs["response"].astype(object)
    bad.obs.iloc[0, bad.obs.columns.get_loc("response")] = "maybe"
    with pytest.raises(ValueError, match="not understood"):
        DrugResponseTransfer.setup_anndata(bad)


def test_build_errors_and_binarisation():
    genes = [f"g{i}" for i in range(30)]
    bulk = ad.AnnData(np.random.default_rng(0).normal(size=(10, 30)).astype(np.float32))
    bulk.var_names = genes
    bulk.obs_names = [f"l{i}" for i in range(10)]
    cells = ad.AnnData(np.ones((5, 25), dtype=np.float32))
    cells.var_names = genes[:5] + [f"x{i}" for i in range(20)]
    ic50 = pd.Series(np.arange(10.0), index=bulk.obs_names)
    with pytest.raises(
        ValueError,
        match=r"only 5 genes are shared.*bulk side lost 25 of 30.*"
        r"single-cell side lost 20 of 25",
    ):
        build_drug_response_adata(bulk, ic50, cells, threshold=4.5, sc_input="scaled")
    cells.var_names = genes[:25]
    with pytest.raises(ValueError, match="same class"):
        build_drug_response_adata(
            bulk, ic50, cells, threshold=100.0, sc_input="scaled", min_shared_genes=10
        )
    with pytest.raises(ValueError, match="no labelled bulk rows"):
        build_drug_response_adata(
            bulk,
            ic50.rename(lambda s: "zz" + s),
            cells,
            threshold=4.5,
            sc_input="scaled",
            min_shared_genes=10,
        )
    with pytest.raises(ValueError, match="not raw counts"):
        build_drug_response_adata(bulk, ic50, _neg(cells), threshold=4.5, min_shared_genes=10)
    with pytest.raises(ValueError, match="other than 0/1"):
        build_drug_response_adata(bulk, ic50, cells, sc_input="scaled", min_shared_genes=10)
    # duplicates averaged, quantile cut
    dup = pd.Series([0.0, 4.0, 1.0, 9.0], index=["a", "a", "b", "c"])
    assert scssl.data.binarize_ln_ic50(dup, threshold=1.5).to_dict() == {"a": 0, "b": 1, "c": 0}
    assert scssl.data.binarize_ln_ic50(dup, quantile=0.5).to_dict() == {"a": 0, "b": 1, "c": 0}
    with pytest.raises(ValueError, match="exactly one"):
        scssl.data.binarize_ln_ic50(dup)


def _neg(cells):
    out = cells.copy()
    out.X = -out.X
    return out


# -- small real slices of the shared data -------------------------------------------------------
@needs_data
def test_real_gefitinib_slice_end_to_end():
    bulk = scssl.data.gdsc_bulk_expression()
    ic50 = scssl.data.gdsc_ln_ic50("Gefitinib", release="GDSC1")
    assert ic50.index.is_unique and ic50.index.isin(bulk.obs_names).all()
    threshold = scssl.data.ln_ic50_threshold("gefitinib")
    target = scssl.data.ssda4drug_target("Gefitinib")
    assert target.n_obs == 66 and set(target.obs["response"]) == {"sensitive", "resistant"}
    lines = ic50.index[:300]
    adata = build_drug_response_adata(
        bulk[lines],
        ic50[lines],
        target,
        threshold=threshold,
        sc_input="scaled",
        sc_labels_key="response",
    )
    report = adata.uns["drug_response"]["genes"]
    assert 1000 < report["n_shared_genes"] < 2000
    assert report["n_bulk_only"] == 6163 - report["n_shared_genes"]
    assert adata.obs["response"].notna().sum() == 300
    np.testing.assert_allclose(adata.X.std(1), 1, atol=1e-4)
    DrugResponseTransfer.setup_anndata(adata)
    scvi.settings.seed = 0
    model = DrugResponseTransfer(adata, n_latent=16, n_hidden=64)
    model.train(max_epochs=40, warmup_epochs=10, enable_progress_bar=False, accelerator="cpu")
    sc_mask = model.single_cell_mask
    truth = (adata.obs["true_response"][sc_mask] == "sensitive").to_numpy()
    assert roc_auc_score(truth, model.predict_proba()[sc_mask]) > 0.6


@needs_data
def test_real_pc9_slice_counts_are_lognormalised_and_scaled():
    bulk = scssl.data.gdsc_bulk_expression()
    pc9 = scssl.data.pc9_erlotinib()
    cells = pc9[np.r_[0:40, -40:0]].copy()
    ic50 = scssl.data.gdsc_ln_ic50("Erlotinib")
    adata = build_drug_response_adata(
        bulk[ic50.index[:50]],
        ic50[ic50.index[:50]],
        cells,
        threshold=scssl.data.ln_ic50_threshold("Erlotinib"),
        sc_labels_key="response",
    )
    assert adata.uns["drug_response"]["genes"]["n_shared_genes"] == 5059
    assert list(adata.obs["domain"].cat.categories) == ["bulk", "single_cell"]
    assert set(adata.obs["true_response"].dropna()) == {"sensitive", "resistant"}
    sc_rows = adata[adata.obs["domain"] == "single_cell"].X
    np.testing.assert_allclose(sc_rows.mean(1), 0, atol=1e-5)
    with pytest.raises(ValueError, match="not raw counts"):
        build_drug_response_adata(bulk, ic50, _neg(cells), threshold=1.5)


def test_attributions_find_the_signal_genes(synthetic, trained):
    pytest.importorskip("captum")
    model = trained
    bulk_rows = np.flatnonzero(~model.single_cell_mask)
    on_bulk = scssl.tl.drug_response_attributions(
        synthetic, model, cells=bulk_rows, n_steps=32, key_added="ig_bulk"
    )
    top = set(on_bulk.sort_values("mean_abs", ascending=False).index[:8])
    assert len(top & {f"g{i}" for i in range(8)}) >= 5  # the genes that carry the response
    summary = scssl.tl.drug_response_attributions(synthetic, model, target="resistant", n_steps=32)
    layer = synthetic.layers["drug_response_ig"]
    sc_mask = model.single_cell_mask
    assert np.isnan(layer[~sc_mask]).all() and np.isfinite(layer[sc_mask]).all()
    # completeness: attributions sum to -logit(x) + logit(0) for the resistant target
    x = torch.as_tensor(synthetic.X[sc_mask][:5])
    model.module.eval()
    with torch.no_grad():
        gap = -model.module.forward_logit(x) + model.module.forward_logit(torch.zeros_like(x))
    np.testing.assert_allclose(layer[sc_mask][:5].sum(1), gap.numpy(), atol=0.05)
    assert "drug_response_ig_mean_abs" in synthetic.var
    sensitive = scssl.tl.drug_response_attributions(
        synthetic,
        model,
        target="sensitive",
        n_steps=32,
        cells=np.flatnonzero(sc_mask)[:10],
        key_added="ig_s",
    )
    np.testing.assert_allclose(
        sensitive.loc[summary.index, "mean"].to_numpy(),
        -np.nanmean(layer[np.flatnonzero(sc_mask)[:10]], axis=0)[
            synthetic.var_names.get_indexer(summary.index)
        ],
        atol=1e-4,
    )


def test_center_per_domain_removes_gene_offsets():
    adata = _synthetic(n_bulk=50, n_sc=30)
    assert np.abs(adata[adata.obs["domain"] == "single_cell"].X.mean(0)).max() > 0.5
    genes = [f"g{i}" for i in range(40)]
    rng = np.random.default_rng(1)
    bulk = ad.AnnData(rng.normal(size=(20, 40)).astype(np.float32))
    bulk.var_names, bulk.obs_names = genes, [f"l{i}" for i in range(20)]
    cells = ad.AnnData((rng.normal(size=(15, 40)) + np.arange(40)).astype(np.float32))
    cells.var_names = genes
    labels = pd.Series(np.arange(20) % 2, index=bulk.obs_names)
    centred = build_drug_response_adata(
        bulk, labels, cells, sc_input="scaled", center_per_domain=True, min_shared_genes=10
    )
    for domain in ("bulk", "single_cell"):
        np.testing.assert_allclose(centred[centred.obs["domain"] == domain].X.mean(0), 0, atol=1e-5)
    assert centred.uns["drug_response"]["params"]["center_per_domain"]


def test_smoothing_averages_neighbours_and_reduces_noise():
    rng = np.random.default_rng(0)
    # two tight groups of noisy cells: smoothing keeps the groups apart and shrinks the noise
    centres = np.repeat([[0.0] * 20, [5.0] * 20], 30, axis=0)
    noisy = centres + rng.normal(scale=1.0, size=centres.shape)
    smoothed = scssl.data.smooth_cells(noisy, k=10)
    assert smoothed.shape == noisy.shape
    assert np.abs(smoothed - centres).mean() < 0.5 * np.abs(noisy - centres).mean()
    # every smoothed cell is the mean of cells from its own group
    assert np.all(np.abs(smoothed[:30] - 0.0) < 2.5) and np.all(np.abs(smoothed[30:] - 5.0) < 2.5)
    np.testing.assert_array_equal(scssl.data.smooth_cells(noisy, k=1), noisy)
    with pytest.raises(ValueError, match="k <= n_cells"):
        scssl.data.smooth_cells(noisy, k=61)


def test_build_with_smoothing_changes_only_the_cells():
    genes = [f"g{i}" for i in range(40)]
    rng = np.random.default_rng(2)
    bulk = ad.AnnData(rng.normal(size=(20, 40)).astype(np.float32))
    bulk.var_names, bulk.obs_names = genes, [f"l{i}" for i in range(20)]
    cells = ad.AnnData(rng.normal(size=(30, 40)).astype(np.float32))
    cells.var_names = genes
    labels = pd.Series(np.arange(20) % 2, index=bulk.obs_names)
    kwargs = {"sc_input": "scaled", "min_shared_genes": 10}
    plain = build_drug_response_adata(bulk, labels, cells, **kwargs)
    smooth = build_drug_response_adata(bulk, labels, cells, smoothing_k=5, **kwargs)
    is_bulk = (plain.obs["domain"] == "bulk").to_numpy()
    np.testing.assert_array_equal(plain.X[is_bulk], smooth.X[is_bulk])
    assert not np.allclose(plain.X[~is_bulk], smooth.X[~is_bulk])
    np.testing.assert_allclose(smooth.X[~is_bulk].std(1), 1, atol=1e-4)  # scaled after smoothing
    assert smooth.uns["drug_response"]["params"]["smoothing_k"] == 5
    with pytest.raises(ValueError, match="smoothing_k"):
        build_drug_response_adata(bulk, labels, cells, smoothing_k=31, **kwargs)

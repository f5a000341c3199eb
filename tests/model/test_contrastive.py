from __future__ import annotations

import numpy as np
import pytest
import torch
from anndata import AnnData

import scssl
from scssl.model import Contrastive, MaskedContrastive
from scssl.nn import byol_momentum

METHODS = ["simclr", "byol", "barlow_twins", "vicreg"]
SMALL = {"n_hidden": 32, "n_latent": 8, "projector_hidden": 32, "projector_output": 16}
FAST = {"max_epochs": 1, "batch_size": 128, "enable_progress_bar": False}


@pytest.fixture(scope="module")
def baron(baron_small):
    adata = baron_small.copy()
    adata.obs["donor"] = adata.obs["donor"].astype(str)
    return adata


@pytest.mark.parametrize("method", METHODS)
def test_train_embed_save_load_round_trip(method, baron, tmp_path):
    Contrastive.setup_anndata(baron, batch_key="donor", labels_key="cell_type1")
    model = Contrastive(baron, method=method, encode_covariates=True, temperature=0.2, **SMALL)
    model.train(**FAST)
    z = model.get_latent_representation()
    assert z.shape == (baron.n_obs, 8) and np.isfinite(z).all()
    # deterministic: augmentations are off in eval mode
    np.testing.assert_array_equal(z, model.get_latent_representation())
    assert model.history["train_loss"].notna().all().all()

    model.save(tmp_path / method, overwrite=True)
    loaded = Contrastive.load(str(tmp_path / method), adata=baron)
    assert loaded.module.method == method
    assert loaded.init_params_ == model.init_params_
    assert loaded.module.objective_kwargs["temperature"] == 0.2
    assert set(loaded.module.state_dict()) == set(model.module.state_dict())
    for key, value in model.module.state_dict().items():
        assert torch.equal(value.cpu(), loaded.module.state_dict()[key].cpu()), key
    np.testing.assert_allclose(loaded.get_latent_representation(), z, atol=1e-6)


def test_byol_target_is_ema_of_online_network(baron):
    Contrastive.setup_anndata(baron)
    model = Contrastive(baron, method="byol", base_momentum=0.9, **SMALL)
    module = model.module
    assert set(module.target_weights("z_encoder")) == set(dict(module.z_encoder.named_parameters()))
    target_before = {k: v.clone() for k, v in module.target_weights("z_encoder").items()}
    # the target is never optimised: none of its tensors is a parameter
    parameters = {id(p) for p in module.parameters()}
    assert not any(id(t) in parameters for t in module.target_weights("z_encoder").values())
    model.train(**FAST)  # 360 training cells, 3 steps: the plan updates the target after each
    target_after = module.target_weights("z_encoder")
    assert any(not torch.equal(target_before[k], target_after[k]) for k in target_before)
    # one explicit update follows t <- tau t + (1 - tau) o
    t0 = {k: v.clone() for k, v in target_after.items()}
    online = {k: p.detach().clone() for k, p in module.z_encoder.named_parameters()}
    module.update_target(step=2, total_steps=10)
    tau = byol_momentum(2, 10, 0.9)
    for name, t in module.target_weights("z_encoder").items():
        torch.testing.assert_close(t, tau * t0[name] + (1 - tau) * online[name])


def test_bad_input_fails_before_training(baron):
    Contrastive.setup_anndata(baron)
    with pytest.raises(ValueError, match="method must be one of"):
        Contrastive(baron, method="moco")
    with pytest.raises(ValueError, match="mask_fraction|lie strictly"):
        Contrastive(baron, mask_fraction=1.5)
    with pytest.raises(ValueError, match="temperature"):
        Contrastive(baron, method="simclr", temperature=0.0)
    with pytest.raises(ValueError, match="mnn_key"):
        Contrastive(baron, mnn_prob=0.5)
    with pytest.raises(ValueError, match="knn_key"):
        Contrastive(baron, knn_prob=0.5)
    model = Contrastive(baron, **SMALL)
    with pytest.raises(TypeError, match="unknown plan_kwargs"):
        model.train(max_epochs=1, plan_kwargs={"temprature": 0.1})
    bad = baron.copy()
    bad.X = bad.X * 0.5
    with pytest.raises(ValueError):
        Contrastive.setup_anndata(bad)
    with pytest.raises(KeyError, match="batch"):
        Contrastive.setup_anndata(baron, batch_key="batch")


def _trains_with_partners(adata, partner_key: dict, **model_kwargs) -> None:
    """SimCLR with a partner view: reference counts are set and training gives finite embeddings."""
    Contrastive.setup_anndata(adata, batch_key="donor", **partner_key)
    model = Contrastive(adata, method="simclr", **model_kwargs, **SMALL)
    assert model.module.partner_counts.shape == adata.shape
    model.train(**FAST)
    assert np.isfinite(model.get_latent_representation()).all()


def test_mnn_positive_pairs(baron):
    adata = baron.copy()
    scssl.tl.mnn_pairs(adata, batch_key="donor", k=10)
    partner = adata.obs["scssl_mnn_partner"].to_numpy()
    has = partner >= 0
    assert has.mean() > 0.3
    donors = adata.obs["donor"].to_numpy()
    assert (donors[partner[has]] != donors[has]).all()
    # partners mostly share the cell type, far above pairing at random
    types = adata.obs["cell_type1"].to_numpy()
    shares = adata.obs["cell_type1"].value_counts(normalize=True).to_numpy()
    agreement = (types[partner[has]] == types[has]).mean()
    assert agreement > 0.6 and agreement > 1.5 * (shares**2).sum()
    _trains_with_partners(adata, {"mnn_key": "scssl_mnn_partner"}, mnn_prob=0.5)
    # a subset invalidates the stored positions
    with pytest.raises(ValueError, match="mnn_pairs"):
        Contrastive.setup_anndata(
            adata[:100].copy(), batch_key="donor", mnn_key="scssl_mnn_partner"
        )


def test_knn_pairs_are_the_nearest_other_cells(baron):
    adata = baron.copy()
    before = adata.X.copy()
    scssl.tl.knn_pairs(adata, k=5, n_comps=20)
    neighbours = adata.obsm["scssl_knn_partners"]
    assert neighbours.shape == (adata.n_obs, 5) and neighbours.dtype == np.int64
    assert not (neighbours == np.arange(adata.n_obs)[:, None]).any()  # never the cell itself
    assert (adata.X != before).nnz == 0  # counts untouched
    # the same neighbours as a brute-force search on the normalised PCA
    emb = scssl.tl.pca_embedding(adata, n_comps=20)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    dist = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    expected = np.sort(np.argsort(dist, axis=1)[:, :5], axis=1)
    assert (np.sort(neighbours, axis=1) == expected).mean() > 0.99
    with pytest.raises(ValueError, match="k must lie"):
        scssl.tl.knn_pairs(adata, k=adata.n_obs)


def test_knn_positive_pairs_train_and_check_positions(baron):
    adata = baron.copy()
    scssl.tl.knn_pairs(adata, k=5)
    _trains_with_partners(adata, {"knn_key": "scssl_knn_partners"}, knn_prob=0.5)
    with pytest.raises(ValueError, match="knn_pairs"):
        Contrastive.setup_anndata(adata[:100].copy(), knn_key="scssl_knn_partners")
    with pytest.raises(KeyError, match="obsm"):
        Contrastive.setup_anndata(adata, knn_key="X_missing")
    # the scanpy-style entry point passes the obsm key through
    scssl.tl.contrastive(
        adata,
        method="simclr",
        knn_key="scssl_knn_partners",
        model_kwargs={"knn_prob": 0.5, **SMALL},
        **FAST,
    )
    assert adata.uns["scssl_simclr"]["params"]["knn_key"] == "scssl_knn_partners"


def test_hybrid_masked_contrastive(baron, tmp_path):
    MaskedContrastive.setup_anndata(baron, batch_key="donor")
    model = MaskedContrastive(
        baron, contrastive_method="simclr", contrastive_weight=0.5, n_hidden=32, n_latent=8
    )
    model.train(**FAST)
    history = model.history
    assert {"contrastive_term_train", "reconstruction_term_train"} <= set(history)
    total = history["train_loss"].iloc[-1, 0]
    assert total > history["reconstruction_term_train"].iloc[-1, 0]
    z = model.get_latent_representation()
    model.save(tmp_path / "hybrid", overwrite=True)
    loaded = MaskedContrastive.load(str(tmp_path / "hybrid"), adata=baron)
    assert loaded.module.contrastive_method == "simclr"
    assert loaded.module.contrastive_weight == 0.5
    np.testing.assert_allclose(loaded.get_latent_representation(), z, atol=1e-6)


def test_tl_contrastive_writes_only_documented_keys(baron):
    adata = AnnData(baron.X.copy(), obs=baron.obs[["donor", "cell_type1"]].copy())
    obs_before = list(adata.obs.columns)
    scssl.tl.contrastive(
        adata, method="barlow_twins", batch_key="donor", model_kwargs=SMALL, **FAST
    )
    assert adata.obsm["X_scssl_barlow_twins"].shape == (adata.n_obs, 8)
    params = adata.uns["scssl_barlow_twins"]["params"]
    assert params["method"] == "barlow_twins" and params["max_epochs"] == 1
    assert list(adata.obs.columns) == obs_before and "_scvi_uuid" not in adata.uns
    with pytest.raises(ValueError, match="method"):
        scssl.tl.contrastive(adata, method="clip")


def test_scib_scores_separate_good_from_bad_embeddings():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 60)
    batches = np.tile(["x", "y"], 90)
    good = rng.normal(size=(180, 4)) + 6 * (labels[:, None] == np.array(["a", "b", "c", "a"]))
    bad = rng.normal(size=(180, 4)) + 6 * (batches == "x")[:, None]
    config = scssl.metrics.ScibConfig(n_neighbors=30)
    s_good = scssl.metrics.scib_scores(good, labels, batches, config)
    s_bad = scssl.metrics.scib_scores(bad, labels, batches, config)
    assert s_good["bio_conservation"] > s_bad["bio_conservation"]
    assert s_good["batch_correction"] > s_bad["batch_correction"]
    assert s_good["total"] == pytest.approx(
        0.6 * s_good["bio_conservation"] + 0.4 * s_good["batch_correction"]
    )
    with pytest.raises(ValueError, match="same cells"):
        scssl.metrics.scib_scores(good, labels[:10], batches)


def test_defaults_follow_the_registered_keys(baron, tmp_path):
    """SimCLR; dataset-aware with batch_key; kNN partners half of the time with knn_key."""
    adata = baron.copy()
    Contrastive.setup_anndata(adata)
    plain = Contrastive(adata, **SMALL)
    assert plain.module.method == "simclr"
    assert not plain.minibatch_sampling.dataset_aware and plain.module.knn_pair.p == 0.0
    scssl.tl.knn_pairs(adata, k=5)
    Contrastive.setup_anndata(adata, batch_key="donor", knn_key="scssl_knn_partners")
    model = Contrastive(adata, **SMALL)
    assert model.minibatch_sampling.dataset_aware and model.module.knn_pair.p == 0.5
    # the resolved values are what the model file keeps
    assert model.init_params_["non_kwargs"]["dataset_aware"] is True
    assert model.init_params_["non_kwargs"]["knn_prob"] == 0.5
    off = Contrastive(adata, dataset_aware=False, knn_prob=0.0, **SMALL)
    assert not off.minibatch_sampling.dataset_aware and off.module.knn_pair.p == 0.0
    model.train(**FAST)
    model.save(tmp_path / "defaults")
    loaded = Contrastive.load(str(tmp_path / "defaults"), adata=adata)
    assert loaded.minibatch_sampling.dataset_aware and loaded.module.knn_pair.p == 0.5


def test_tl_contrastive_computes_knn_partners_in_its_training_copy(baron):
    adata = baron.copy()
    before = set(adata.obsm)
    _, model = scssl.tl.contrastive(
        adata, batch_key="donor", model_kwargs=SMALL, return_model=True, **FAST
    )
    assert set(adata.obsm) == before | {"X_scssl_simclr"}  # no partner entry in adata
    params = adata.uns["scssl_simclr"]["params"]
    assert params["knn_key"] is None and params["knn_key_computed"] is True
    assert model.module.knn_pair.p == 0.5 and model.minibatch_sampling.dataset_aware
    assert model.adata.obsm["scssl_knn_partners"].shape[0] == adata.n_obs
    # knn_prob=0 without hard negatives: nothing to compute
    _, off = scssl.tl.contrastive(
        adata, model_kwargs={"knn_prob": 0.0, **SMALL}, return_model=True, **FAST
    )
    assert "knn_key_computed" not in adata.uns["scssl_simclr"]["params"]
    assert "scssl_knn_partners" not in off.adata.obsm and not off.minibatch_sampling.dataset_aware

from __future__ import annotations

import numpy as np
import pytest
import torch
from scvi import REGISTRY_KEYS

import scssl
from scssl.data import GeneProgrammes
from scssl.model import MaskedAE
from scssl.module import MaskedAEModule
from scssl.nn import (
    GeneProgrammeMasking,
    IsolatedProgrammeMasking,
    ProgrammeToTFMasking,
    masked_mean,
    mse_per_entry,
)

GMT = scssl.data.data_dir() / "gene_programs"
LAMBERT = scssl.data.data_dir() / "tf" / "lambert2018.txt"


def _membership(n_prog=12, n_genes=60, seed=0):
    """Random overlapping programmes; genes 50-59 in no programme."""
    rng = np.random.default_rng(seed)
    membership = rng.random((n_prog, n_genes)) < 0.15
    membership[:, 50:] = False
    membership[np.arange(n_prog), np.arange(n_prog)] = True  # no empty programme
    return torch.as_tensor(membership)


# -- strategies: exact masks per cell ------------------------------------------------------
def test_gene_programme_masking_hides_exactly_the_union_of_the_drawn_programmes():
    torch.manual_seed(0)
    membership = _membership()
    strategy = GeneProgrammeMasking(membership, programme_fraction=0.25)
    assert strategy.n_masked == 3
    draw = strategy.draw(torch.ones(200, 60))
    assert draw.programmes.sum(1).eq(3).all()  # exactly 3 distinct programmes per cell
    for cell in range(200):
        chosen = draw.programmes[cell].nonzero().ravel()
        expected = membership[chosen].any(0)
        assert torch.equal(draw.hidden[cell], expected)
    assert torch.equal(draw.loss, draw.hidden)
    assert not draw.hidden[:, 50:].any()  # genes outside programmes are never hidden
    # different cells draw different programmes, all programmes are used
    assert len({tuple(row.nonzero().ravel().tolist()) for row in draw.programmes}) > 100
    assert draw.programmes.any(0).all()
    # and a new draw each step
    assert not torch.equal(draw.programmes, strategy.draw(torch.ones(200, 60)).programmes)


def test_isolated_programme_masking_leaves_one_programme_visible_per_cell():
    torch.manual_seed(1)
    membership = _membership()
    draw = IsolatedProgrammeMasking(membership).draw(torch.ones(300, 60))
    assert draw.programmes.sum(1).eq(1).all()
    index = draw.programmes.float().argmax(1)
    assert torch.equal(~draw.hidden, membership[index])
    assert torch.equal(draw.loss, ~membership[index])  # loss outside the visible programme
    assert draw.hidden[:, 50:].all()
    counts = torch.bincount(index, minlength=12)
    assert (counts > 5).all()  # uniform over programmes, per cell


def test_programme_to_tf_masking_predicts_only_the_tf():
    torch.manual_seed(2)
    targets = _membership(n_prog=5)
    tf_index = torch.tensor([55, 56, 57, 58, 59])
    strategy = ProgrammeToTFMasking(targets, tf_index)
    draw = strategy.draw(torch.ones(100, 60))
    index = draw.programmes.float().argmax(1)
    assert torch.equal(~draw.hidden, targets[index])  # only the targets are visible
    assert draw.loss.sum(1).eq(1).all()
    assert torch.equal(draw.loss.float().argmax(1), tf_index[index])
    assert draw.hidden[draw.loss].all()  # the TF itself is hidden
    assert len(index.unique()) == 5


def test_strategy_input_errors():
    membership = _membership()
    with pytest.raises(ValueError, match="programme_fraction"):
        GeneProgrammeMasking(membership, programme_fraction=1.0)
    empty = membership.clone()
    empty[3] = False
    with pytest.raises(ValueError, match=r"programmes \[3\] have no genes"):
        IsolatedProgrammeMasking(empty)
    with pytest.raises(ValueError, match="aligned to 60 genes"):
        IsolatedProgrammeMasking(membership).draw(torch.ones(4, 61))
    with pytest.raises(ValueError, match="outside the genes"):
        ProgrammeToTFMasking(membership[:2], [0, 60])
    with pytest.raises(ValueError, match="own TF"):
        ProgrammeToTFMasking(membership[:2], [0, 1])  # gene 0 is in programme 0
    with pytest.raises(ValueError, match="2 entries for 12"):
        ProgrammeToTFMasking(membership, [55, 56])


def test_membership_is_a_non_persistent_buffer():
    strategy = GeneProgrammeMasking(_membership())
    module = MaskedAEModule(n_input=60, n_latent=4, n_hidden=8, masking=strategy)
    assert "masking.membership" in dict(module.named_buffers())
    assert not any("membership" in key for key in module.state_dict())
    module.to(torch.float64)
    assert module.masking.membership.dtype == torch.bool


# -- the module puts the loss where the strategy says ----------------------------------------
@pytest.mark.parametrize("kind", ["gene_programme", "gp_to_gp", "gp_to_tf"])
def test_module_loss_is_on_the_strategy_loss_positions(kind):
    torch.manual_seed(0)
    membership = _membership(n_prog=5)
    strategy = {
        "gene_programme": lambda: GeneProgrammeMasking(membership, 0.4),
        "gp_to_gp": lambda: IsolatedProgrammeMasking(membership),
        "gp_to_tf": lambda: ProgrammeToTFMasking(membership, [55, 56, 57, 58, 59]),
    }[kind]()
    module = MaskedAEModule(n_input=60, n_latent=4, n_hidden=16, masking=strategy).eval()
    x = torch.poisson(torch.full((16, 60), 4.0))
    tensors = {REGISTRY_KEYS.X_KEY: x, REGISTRY_KEYS.BATCH_KEY: torch.zeros(16, 1)}
    inference, generative, loss = module(tensors)
    draw = inference["mask"]
    per_entry = mse_per_entry(generative["x_hat"], inference["x_norm"])
    expected = masked_mean(per_entry, draw.loss).mean()
    assert torch.allclose(loss.loss, expected)
    # changing the prediction off the loss positions leaves the loss unchanged
    shifted = generative["x_hat"] + 5.0 * (~draw.loss).float()
    moved = masked_mean(mse_per_entry(shifted, inference["x_norm"]), draw.loss).mean()
    assert torch.allclose(moved, expected)
    assert torch.isclose(loss.extra_metrics["masked_fraction"], draw.hidden.float().mean())
    assert torch.isclose(loss.extra_metrics["loss_fraction"], draw.loss.float().mean())
    # the encoder saw the mask value exactly at the hidden positions (mask drawn in eval too)
    x_in = inference["x_norm"].masked_fill(draw.hidden, module.mask_value)
    assert torch.allclose(module.encode(x_in), inference["z"])


# -- models on real cells --------------------------------------------------------------------
@pytest.fixture(scope="module")
def programmes(baron_small):
    hallmark = GeneProgrammes.from_gmt(GMT / "h.all.v7.0.symbols.gmt").align(
        baron_small, min_genes=3
    )
    c3 = GeneProgrammes.from_gmt(GMT / "c3.tft.v7.5.1.symbols.gmt", tf_from_name=True)
    tfs = c3.align(baron_small, min_genes=3, tf_list=LAMBERT)
    return {"gene_programme": hallmark, "gp_to_gp": hallmark, "gp_to_tf": tfs}


@pytest.fixture(scope="module")
def baron_setup(baron_small):
    adata = baron_small.copy()
    MaskedAE.setup_anndata(adata, batch_key="donor")
    return adata


SMALL = {"n_latent": 8, "n_hidden": 32, "n_layers": 1}


@pytest.mark.parametrize("kind", ["gene_programme", "gp_to_gp", "gp_to_tf"])
def test_short_training_and_exact_save_load(kind, baron_setup, programmes, tmp_path):
    gp = programmes[kind]
    model = MaskedAE(baron_setup, masking=kind, programmes=gp, **SMALL)
    model.train(max_epochs=2, batch_size=128, check_val_every_n_epoch=1)
    history = model.history
    key = "train_loss_epoch" if "train_loss_epoch" in history else "train_loss"
    loss = history[key].to_numpy(dtype=float).ravel()
    assert np.all(np.isfinite(loss))
    assert "validation_loss" in history
    masked = history["masked_fraction_train"].to_numpy(dtype=float).ravel()
    loss_fraction = history["loss_fraction_train"].to_numpy(dtype=float).ravel()
    outside = 1 - gp.membership_dense().mean()
    if kind == "gene_programme":
        assert 0.05 < masked.mean() < 0.6
        np.testing.assert_allclose(loss_fraction, masked)
    elif kind == "gp_to_gp":
        assert masked.mean() > 0.9 and masked.mean() > outside - 0.05
    else:
        np.testing.assert_allclose(loss_fraction, 1 / baron_setup.n_vars, rtol=1e-4)
    params = model.init_params_["non_kwargs"]
    assert params["masking"] == kind
    assert isinstance(params["programmes"], dict)
    assert all(isinstance(v, list) for v in params["programmes"].values())
    z = model.get_latent_representation()
    model.save(str(tmp_path), overwrite=True)
    loaded = MaskedAE.load(str(tmp_path), adata=baron_setup)
    assert type(loaded.module.masking) is type(model.module.masking)
    assert torch.equal(loaded.module.masking.membership, model.module.masking.membership)
    if kind == "gp_to_tf":
        assert torch.equal(loaded.module.masking.tf_index, model.module.masking.tf_index)
    np.testing.assert_allclose(loaded.get_latent_representation(), z, atol=1e-6)


def test_model_input_errors(baron_setup, programmes):
    with pytest.raises(ValueError, match="needs programmes="):
        MaskedAE(baron_setup, masking="gene_programme")
    with pytest.raises(ValueError, match="needs TF programmes"):
        MaskedAE(baron_setup, masking="gp_to_tf", programmes=programmes["gp_to_gp"])
    with pytest.raises(ValueError, match="does not use them"):
        MaskedAE(baron_setup, programmes=programmes["gp_to_gp"])
    with pytest.raises(ValueError, match="masking must be one of"):
        MaskedAE(baron_setup, masking="pathway")
    with pytest.raises(ValueError, match="no programme"):
        MaskedAE(baron_setup, masking="gp_to_gp", programmes={"x": ["NOT_A_GENE"]})


def test_dict_programmes_and_evaluation_tables(baron_setup, programmes):
    hallmark = programmes["gp_to_gp"]
    as_dict = {name: hallmark.genes[name] for name in hallmark.names[:8]}
    model = MaskedAE(baron_setup, masking="gene_programme", programmes=as_dict, **SMALL)
    model.train(max_epochs=2)
    held = model.validation_indices
    table = scssl.tl.programme_reconstruction(model)
    assert list(table.index.sort_values()) == sorted(as_dict)
    assert (table["n_cells"] == len(held)).all()
    assert table["explained_variance"].is_monotonic_decreasing
    # one programme recomputed by hand: hide its genes on the held-out cells
    name = table.index[0]
    genes = baron_setup.var_names.isin(as_dict[name])
    module = model.module
    observed, predicted = [], []
    with torch.inference_mode():
        for tensors in model._make_data_loader(adata=baron_setup, indices=held):
            inputs = module._get_inference_input(tensors)
            hidden = torch.as_tensor(genes).expand(inputs["x"].shape[0], -1)
            inference = module.inference(**inputs, hidden=hidden)
            generative = module.generative(**module._get_generative_input(tensors, inference))
            observed.append(inference["x_norm"])
            predicted.append(module.predict_log_expression(generative))
    observed, predicted = torch.cat(observed).numpy(), torch.cat(predicted).numpy()
    hidden = np.broadcast_to(genes, observed.shape)
    by_hand = scssl.metrics.masked_reconstruction_error(observed, predicted, hidden)
    assert table.loc[name, "explained_variance"] == pytest.approx(
        by_hand["explained_variance"], abs=1e-5
    )
    assert table.loc[name, "mse"] == pytest.approx(by_hand["mse"], rel=1e-5)
    isolated = scssl.tl.programme_reconstruction(model, mode="isolated")
    assert (isolated["n_scored_genes"] == baron_setup.n_vars - isolated["n_genes"]).all()
    # TF table for any model, given TF programmes
    tfs = scssl.tl.tf_prediction(model, programmes["gp_to_tf"], context="all")
    assert set(tfs["tf"]) <= set(baron_setup.var_names)
    assert tfs["pearson_r"].dropna().between(-1, 1).all()
    with pytest.raises(ValueError, match="needs TF programmes"):
        scssl.tl.tf_prediction(model)
    fig = scssl.pl.programme_ranking(table, n=3)
    assert len(fig.axes[0].patches) == 6


def test_tl_masked_ae_passes_masking_through(baron_small, programmes):
    adata = baron_small.copy()
    _, model = scssl.tl.masked_ae(
        adata,
        masking="gp_to_tf",
        programmes=programmes["gp_to_tf"],
        key_added="X_gp_to_tf",
        model_kwargs=SMALL,
        max_epochs=1,
        return_model=True,
    )
    assert adata.obsm["X_gp_to_tf"].shape == (adata.n_obs, 8)
    params = adata.uns["gp_to_tf"]["params"]
    assert params["masking"] == "gp_to_tf"
    assert list(params["programme_names"]) == programmes["gp_to_tf"].names
    assert isinstance(model.module.masking, ProgrammeToTFMasking)
    with pytest.raises(TypeError, match="directly"):
        scssl.tl.masked_ae(adata, model_kwargs={"masking": "gp_to_gp"})

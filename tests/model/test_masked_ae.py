from __future__ import annotations

import numpy as np
import pytest
import torch

import scssl
from scssl.model import MaskedAE
from scssl.nn import RandomMasking, normalize_counts


# -- masking statistics ------------------------------------------------------------------
def test_random_mask_ratio_and_independence_across_cells_and_steps():
    torch.manual_seed(0)
    strategy = RandomMasking(0.3)
    x = torch.ones(400, 500)
    first, second = strategy.draw(x), strategy.draw(x)
    assert first.hidden.dtype == torch.bool and first.hidden.shape == x.shape
    assert abs(first.hidden.float().mean().item() - 0.3) < 0.01
    # every cell gets its own mask: per-cell ratios vary around 0.3 and rows differ
    per_cell = first.hidden.float().mean(1)
    assert per_cell.std() > 0.005
    assert (first.hidden[0] != first.hidden[1]).any()
    # a new mask each step, not correlated with the previous one
    overlap = (first.hidden & second.hidden).float().mean().item()
    assert abs(overlap - 0.09) < 0.01
    corr = np.corrcoef(first.hidden.float().ravel(), second.hidden.float().ravel())[0, 1]
    assert abs(corr) < 0.02
    # loss positions are the hidden positions
    assert torch.equal(first.loss, first.hidden)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1])
def test_random_mask_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError, match="mask_ratio"):
        RandomMasking(ratio)


# -- module --------------------------------------------------------------------------------


def test_normalisation_is_done_inside_the_module_from_counts():
    x = torch.tensor([[1.0, 3.0, 0.0], [10.0, 30.0, 0.0]])
    norm, library = normalize_counts(x, target_sum=1e4)
    assert torch.allclose(norm[0], norm[1])  # same profile, different depth
    assert torch.allclose(library.squeeze(), torch.tensor([4.0, 40.0]))
    assert torch.allclose(torch.expm1(norm).sum(1), torch.tensor([1e4, 1e4]))


# -- model ---------------------------------------------------------------------------------
def test_train_tiny_with_covariates_and_validation_history(tiny_counts):
    MaskedAE.setup_anndata(
        tiny_counts, batch_key="batch", labels_key="label", continuous_covariate_keys=["age"]
    )
    model = MaskedAE(tiny_counts, n_latent=5, n_hidden=16, encode_covariates=True)
    model.train(max_epochs=2, check_val_every_n_epoch=1, batch_size=16)
    assert model.is_trained
    assert len(model.history["train_loss"]) == 2
    assert "validation_loss" in model.history
    assert 0.4 < model.history["masked_fraction_train"].iloc[-1, 0] < 0.6
    z = model.get_latent_representation()
    assert z.shape == (60, 5) and np.isfinite(z).all()


def test_unknown_plan_kwargs_fail_before_training(tiny_counts):
    MaskedAE.setup_anndata(tiny_counts)
    model = MaskedAE(tiny_counts, n_hidden=16)
    with pytest.raises(TypeError, match="unknown plan_kwargs \\['learning_rate'\\]"):
        model.train(max_epochs=1, plan_kwargs={"learning_rate": 0.1})
    assert not model.is_trained


def test_real_pbmc_train_embedding_is_deterministic_and_informative(pbmc):
    adata = pbmc.copy()
    MaskedAE.setup_anndata(adata, layer="counts")
    model = MaskedAE(adata, n_latent=16, n_hidden=128)
    untrained = model.get_latent_representation()
    model.train(max_epochs=2)
    z1 = model.get_latent_representation()
    z2 = model.get_latent_representation(batch_size=37)
    np.testing.assert_allclose(z1, z2, atol=1e-5)  # eval mode, no masking
    assert not np.allclose(z1, untrained)
    labels = adata.obs["bulk_labels"].to_numpy()
    score = scssl.metrics.knn_cross_validation(z1, labels)["accuracy"]
    majority = adata.obs["bulk_labels"].value_counts(normalize=True).iloc[0]
    assert score > majority + 0.1  # a real signal after two epochs


def test_save_load_round_trip_gives_equal_embeddings(tiny_counts, tmp_path):
    MaskedAE.setup_anndata(tiny_counts, batch_key="batch")
    model = MaskedAE(tiny_counts, n_latent=3, n_hidden=16, mask_ratio=0.3, reconstruction="nb")
    model.train(max_epochs=1)
    model.save(str(tmp_path / "mae"), overwrite=True, save_anndata=False)
    loaded = MaskedAE.load(str(tmp_path / "mae"), adata=tiny_counts)
    assert loaded.init_params_ == model.init_params_
    assert loaded.module.masking.mask_ratio == 0.3
    np.testing.assert_allclose(
        loaded.get_latent_representation(), model.get_latent_representation(), atol=1e-6
    )
    assert loaded.history["train_loss"].equals(model.history["train_loss"])


def test_reconstruction_outputs(tiny_counts):
    MaskedAE.setup_anndata(tiny_counts)
    model = MaskedAE(tiny_counts, n_hidden=16)
    model.train(max_epochs=1)
    expression = model.get_normalized_expression(library_size=100.0)
    assert expression.shape == tiny_counts.shape
    assert list(expression.columns) == list(tiny_counts.var_names)
    assert (expression.to_numpy() >= 0).all()
    out = model.get_masked_reconstruction(indices=np.arange(10), mask_ratio=0.2, seed=1)
    assert out["observed"].shape == out["predicted"].shape == (10, 40)
    assert 0.1 < out["hidden"].mean() < 0.3
    again = model.get_masked_reconstruction(indices=np.arange(10), mask_ratio=0.2, seed=1)
    np.testing.assert_array_equal(out["hidden"], again["hidden"])
    scores = scssl.metrics.masked_reconstruction_error(**out)
    assert np.isfinite(scores["mse"])


def test_early_stopping_monitors_the_validation_loss(tiny_counts):
    MaskedAE.setup_anndata(tiny_counts)
    model = MaskedAE(tiny_counts, n_hidden=16)
    model.train(max_epochs=3, early_stopping=True, early_stopping_patience=1, batch_size=16)
    assert "validation_loss" in model.history
    assert 1 <= len(model.history["validation_loss"]) <= 3

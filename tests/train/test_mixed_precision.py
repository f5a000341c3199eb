"""bf16 mixed precision (``train(precision="bf16-mixed")``): trains, and the losses stay float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import sparse

import scssl
from scssl.nn import contrastive_objective, full_precision

OBJECTIVE_WEIGHTS = {
    "temperature": 0.1,
    "off_diagonal_weight": 0.005,
    "invariance_weight": 25.0,
    "variance_weight": 25.0,
    "covariance_weight": 1.0,
}


@pytest.mark.parametrize("method", ["simclr", "barlow_twins", "vicreg"])
def test_contrastive_objective_is_float32_under_autocast(method):
    torch.manual_seed(0)
    p1, p2 = torch.randn(64, 32), torch.randn(64, 32)
    exact = contrastive_objective(method, p1, p2, **OBJECTIVE_WEIGHTS)["loss"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = contrastive_objective(method, p1, p2, **OBJECTIVE_WEIGHTS)["loss"]
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, exact, rtol=1e-6, atol=1e-6)


def test_bf16_products_would_round_without_full_precision():
    """The control: the same similarity matrix under autocast without the decorator differs."""
    torch.manual_seed(0)
    a = torch.randn(64, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rounded = a @ a.T
        exact = full_precision(lambda x: x @ x.T)(a)
    assert rounded.dtype == torch.bfloat16
    assert exact.dtype == torch.float32
    assert (rounded.float() - a @ a.T).abs().max() > 1e-3
    torch.testing.assert_close(exact, a @ a.T)


def test_masked_ae_sparse_reconstruction_is_float32_under_autocast(tiny_counts):
    scssl.model.MaskedAE.setup_anndata(tiny_counts)
    module = scssl.model.MaskedAE(tiny_counts).module
    x = torch.from_numpy(tiny_counts.X.toarray()).to_sparse_csr()
    tensors = {"X": x, "batch": torch.zeros(x.shape[0], 1, dtype=torch.long)}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, generative, loss = module(tensors)
    assert generative["x_hat"].dtype == torch.float32
    assert loss.loss.dtype == torch.float32 and torch.isfinite(loss.loss)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [(scssl.model.MaskedAE, {}), (scssl.model.Contrastive, {"method": "simclr"})],
)
def test_models_train_in_bf16_mixed_precision(tiny_counts, cls, kwargs):
    assert sparse.issparse(tiny_counts.X)
    cls.setup_anndata(tiny_counts)
    model = cls(tiny_counts, **kwargs)
    model.train(max_epochs=2, batch_size=30, precision="bf16-mixed", enable_progress_bar=False)
    losses = model.history["train_loss"].to_numpy(dtype=float).ravel()
    assert np.isfinite(losses).all()
    embedding = model.get_latent_representation()
    assert embedding.dtype == np.float32 and np.isfinite(embedding).all()

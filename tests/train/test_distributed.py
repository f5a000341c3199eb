"""Distributed data-parallel training through Lightning (2 CPU processes, gloo)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import scssl

DDP = {
    "accelerator": "cpu",
    "devices": 2,
    "strategy": "ddp_spawn",
    "enable_progress_bar": False,
    "check_val_every_n_epoch": 1,
}


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
@pytest.mark.parametrize(
    ("model_cls", "kwargs", "extra_metric"),
    [
        (scssl.model.MaskedAE, {}, "masked_fraction_train"),
        (scssl.model.Contrastive, {"method": "byol"}, "embedding_std_validation"),
    ],
)
def test_ddp_training_with_extra_metrics(pbmc, model_cls, kwargs, extra_metric):
    # scvi-tools logs extra metrics under inference mode; without SSLTrainingPlan
    # Lightning's DDP averaging of them fails ("Inplace update to inference tensor")
    adata = pbmc.copy()
    model_cls.setup_anndata(adata, layer="counts")
    model = model_cls(adata, n_latent=8, n_hidden=32, **kwargs)
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    model.train(max_epochs=2, **DDP)
    after = model.module.state_dict()
    # the trained weights come back from the worker processes
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert extra_metric in model.history
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()
    z = model.get_latent_representation()
    assert z.shape == (adata.n_obs, 8) and np.isfinite(z).all()

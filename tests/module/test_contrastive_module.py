"""ContrastiveModule and MaskedContrastiveModule: views, heads and losses on tensors."""

from __future__ import annotations

import pytest
import torch
from scvi import REGISTRY_KEYS

from scssl.module import ContrastiveModule, MaskedContrastiveModule

METHODS = ["simclr", "byol", "barlow_twins", "vicreg"]


def _tensors(n: int = 6, genes: int = 30, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        REGISTRY_KEYS.X_KEY: torch.poisson(torch.full((n, genes), 3.0), generator=g),
        REGISTRY_KEYS.BATCH_KEY: torch.zeros(n, 1),
    }


def test_projector_used_in_training_only_and_views_differ():
    torch.manual_seed(0)
    module = ContrastiveModule(30, method="vicreg", n_latent=4, n_hidden=16)
    tensors = _tensors()
    inputs = module._get_inference_input(tensors)
    module.train()
    out = module.inference(**inputs, apply_mask=True)
    v1, v2 = out["views"]
    assert not torch.equal(v1, v2)
    assert out["z_views"][0].shape == (6, 4)
    loss = module.loss(tensors, out, {})
    assert loss.loss.ndim == 0 and all(v.ndim == 0 for v in loss.extra_metrics.values())
    module.eval()
    out = module.inference(**inputs, apply_mask=True)
    assert torch.equal(out["views"][0], out["views"][1])  # no augmentation in eval mode
    z = module.inference(**inputs, apply_mask=False)["z"]
    assert z.shape == (6, 4)  # encoder output, not the projector's 128


def test_minibatch_of_one_cell_gives_zero_loss():
    for method in METHODS:
        module = ContrastiveModule(30, method=method, n_latent=4, n_hidden=16)
        module.train()
        tensors = _tensors(n=1)
        out = module.inference(**module._get_inference_input(tensors))
        loss = module.loss(tensors, out, {}).loss
        assert loss.item() == 0.0
        loss.backward()  # still differentiable


def test_knn_positive_view_is_a_neighbours_counts():
    torch.manual_seed(0)
    off = {"mask_prob": 0.0, "noise_prob": 0.0, "thinning_prob": 0.0}
    module = ContrastiveModule(30, n_latent=4, n_hidden=16, knn_prob=1.0, **off)
    reference = torch.poisson(torch.full((10, 30), 3.0))
    module.set_partner_reference(reference)
    x = reference[:4]
    candidates = torch.tensor([[5, 6], [7, -1], [-1, -1], [9, 8]])
    module.train()
    views = [module._second_view_counts(x, None, candidates) for _ in range(40)]
    drawn = {tuple(v[0].tolist()) for v in views}
    assert drawn == {tuple(reference[5].tolist()), tuple(reference[6].tolist())}
    assert all(torch.equal(v[1], reference[7]) for v in views)  # the only candidate
    assert all(torch.equal(v[2], x[2]) for v in views)  # no candidate: the cell itself
    module.eval()
    assert torch.equal(module._second_view_counts(x, None, candidates), x)


def test_hybrid_weight_zero_is_masked_ae_loss():
    torch.manual_seed(0)
    module = MaskedContrastiveModule(30, contrastive_weight=0.0, n_latent=4, n_hidden=16)
    tensors = _tensors()
    inf = module.inference(**module._get_inference_input(tensors))
    assert "z_second" not in inf
    gen = module.generative(**module._get_generative_input(tensors, inf))
    assert "contrastive_term" not in module.loss(tensors, inf, gen).extra_metrics
    with pytest.raises(ValueError, match="contrastive_method"):
        MaskedContrastiveModule(30, contrastive_method="byol")


def test_byol_target_saved_in_the_out_by_in_layout_still_loads():
    """A BYOL model saved before gene-major first layers held its target's ``weight``."""
    torch.manual_seed(0)
    saved = ContrastiveModule(30, method="byol").state_dict()
    old_layout = {}
    for key, value in saved.items():
        if key.startswith("target_z_encoder:") and key.endswith(":weight_t"):
            key, value = key.removesuffix("_t"), value.T.contiguous()
        old_layout[key] = value
    assert old_layout.keys() != saved.keys()
    torch.manual_seed(1)
    module = ContrastiveModule(30, method="byol")
    module.load_state_dict(old_layout)
    for key, value in module.state_dict().items():
        assert torch.equal(value, saved[key]), key

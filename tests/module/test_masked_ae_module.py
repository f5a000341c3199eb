"""MaskedAEModule: masking and the reconstruction loss on tensors."""

from __future__ import annotations

import pytest
import torch
from scvi import REGISTRY_KEYS

from scssl.module import MaskedAEModule


def _tensors(n_cells=8, n_genes=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.poisson(torch.full((n_cells, n_genes), 3.0), generator=generator)
    return {
        REGISTRY_KEYS.X_KEY: x,
        REGISTRY_KEYS.BATCH_KEY: torch.zeros(n_cells, 1),
    }


def test_masked_entries_are_replaced_by_the_mask_value():
    module = MaskedAEModule(n_input=30, n_latent=4, n_hidden=16, mask_value=-7.0)
    tensors = _tensors()
    captured = {}
    original = module.encode

    def spy(x_in, *args, **kwargs):
        captured["x_in"] = x_in
        return original(x_in, *args, **kwargs)

    module.encode = spy
    outputs = module.inference(tensors[REGISTRY_KEYS.X_KEY], tensors[REGISTRY_KEYS.BATCH_KEY])
    hidden = outputs["mask"].hidden
    assert hidden.any() and (~hidden).any()
    assert torch.all(captured["x_in"][hidden] == -7.0)
    assert torch.equal(captured["x_in"][~hidden], outputs["x_norm"][~hidden])


@pytest.mark.parametrize("reconstruction", ["mse", "nb"])
def test_loss_is_restricted_to_masked_positions(reconstruction):
    torch.manual_seed(0)
    module = MaskedAEModule(n_input=30, n_latent=4, n_hidden=16, reconstruction=reconstruction)
    tensors = _tensors()
    x = tensors[REGISTRY_KEYS.X_KEY]
    hidden = torch.zeros_like(x, dtype=torch.bool)
    hidden[:, :10] = True
    inference_outputs = module.inference(x, tensors[REGISTRY_KEYS.BATCH_KEY], hidden=hidden)
    generative_outputs = module.generative(
        inference_outputs["z"], inference_outputs["library"], tensors[REGISTRY_KEYS.BATCH_KEY]
    )
    base = module.loss(tensors, inference_outputs, generative_outputs).loss
    # perturbing the prediction on visible genes leaves the loss unchanged ...
    key = "x_hat" if reconstruction == "mse" else "px_rate"
    perturbed = dict(generative_outputs)
    perturbed[key] = generative_outputs[key].clone()
    perturbed[key][:, 10:] += 5.0
    assert torch.allclose(module.loss(tensors, inference_outputs, perturbed).loss, base)
    # ... while perturbing it on hidden genes changes it
    perturbed[key][:, :10] += 5.0
    assert not torch.allclose(module.loss(tensors, inference_outputs, perturbed).loss, base)
    # with loss_on="all" the visible genes count too
    module.loss_on = "all"
    perturbed = dict(generative_outputs)
    perturbed[key] = generative_outputs[key].clone()
    perturbed[key][:, 10:] += 5.0
    assert not torch.allclose(module.loss(tensors, inference_outputs, perturbed).loss, base)


def test_loss_matches_hand_computed_mse():
    module = MaskedAEModule(n_input=30, n_latent=4, n_hidden=16)
    tensors = _tensors(n_cells=2)
    x = tensors[REGISTRY_KEYS.X_KEY]
    hidden = torch.zeros_like(x, dtype=torch.bool)
    hidden[0, 0] = hidden[1, 1] = hidden[1, 2] = True
    inference_outputs = module.inference(x, tensors[REGISTRY_KEYS.BATCH_KEY], hidden=hidden)
    prediction = torch.zeros_like(x)
    out = module.loss(tensors, inference_outputs, {"x_hat": prediction})
    norm = inference_outputs["x_norm"]
    expected = (norm[0, 0] ** 2 + (norm[1, 1] ** 2 + norm[1, 2] ** 2) / 2) / 2
    assert torch.allclose(out.loss, expected)
    assert out.extra_metrics["masked_fraction"].shape == torch.Size([])


def test_decoder_width_is_set_apart_from_the_encoder():
    module = MaskedAEModule(n_input=30, n_latent=4, n_hidden=16, decoder_n_hidden=8)
    assert module.z_encoder.encoder.fc_layers[0][0].out_features == 16
    assert module.x_decoder.output.in_features == 8
    default = MaskedAEModule(n_input=30, n_latent=4, n_hidden=16)
    assert default.x_decoder.output.in_features == 16  # None: as wide as the encoder
    with pytest.raises(ValueError, match="decoder_n_hidden"):
        MaskedAEModule(n_input=30, n_latent=4, n_hidden=16, decoder_n_hidden=0)

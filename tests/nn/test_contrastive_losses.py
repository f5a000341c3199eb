from __future__ import annotations

import math

import pytest
import torch

from scssl.nn import barlow_twins_loss, byol_loss, byol_momentum, nt_xent_loss, vicreg_loss


def test_nt_xent_hand_computed():
    # two cells, orthogonal unit embeddings, identical views, temperature 1:
    # each anchor sees its positive (cos 1) and two negatives (cos 0)
    z = torch.eye(2)
    expected = math.log(1 + 2 / math.e)
    assert nt_xent_loss(z, z, temperature=1.0).item() == pytest.approx(expected, abs=1e-6)
    # temperature 0.5 doubles the logits
    expected_half = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert nt_xent_loss(z, z, temperature=0.5).item() == pytest.approx(expected_half, abs=1e-6)


def test_nt_xent_general_hand_computed():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[1.0, 1.0], [-1.0, 1.0]])
    # cosine similarities between all four normalised vectors
    v = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = (v @ v.T).tolist()
    pos = {0: 2, 1: 3, 2: 0, 3: 1}
    total = 0.0
    for i in range(4):
        denominator = sum(math.exp(sim[i][j]) for j in range(4) if j != i)
        total += -math.log(math.exp(sim[i][pos[i]]) / denominator)
    assert nt_xent_loss(z1, z2, temperature=1.0).item() == pytest.approx(total / 4, abs=1e-6)


def test_nt_xent_symmetric_and_scale_invariant():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    a = nt_xent_loss(z1, z2, 0.2)
    assert torch.allclose(a, nt_xent_loss(z2, z1, 0.2), atol=1e-6)
    assert torch.allclose(a, nt_xent_loss(3 * z1, 0.5 * z2, 0.2), atol=1e-5)
    # aligned views score lower than random ones
    assert nt_xent_loss(z1, z1, 0.2) < a


def test_nt_xent_rejects_bad_input():
    with pytest.raises(ValueError, match="equal shape"):
        nt_xent_loss(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(torch.ones(3, 2), torch.ones(3, 2), temperature=0.0)


def test_byol_loss_values_and_no_target_gradient():
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]], requires_grad=True)
    t = torch.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)
    loss = byol_loss(p, t)
    assert loss.item() == pytest.approx((0.0 + 2.0) / 2)  # cos 1 -> 0, cos 0 -> 2
    loss.backward()
    assert t.grad is None and p.grad is not None
    assert byol_loss(torch.tensor([[1.0, 1.0]]), torch.tensor([[-1.0, -1.0]])).item() == 4.0


def test_barlow_twins_perfectly_correlated_views_zero_invariance():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(64, 5, generator=g)
    out = barlow_twins_loss(z, 2.0 * z + 1.0)
    assert out["invariance"].item() == pytest.approx(0.0, abs=1e-6)
    assert out["loss"].item() == pytest.approx(5e-3 * out["redundancy"].item(), abs=1e-6)


def test_barlow_twins_hand_computed():
    # feature 1 identical in both views, feature 2 anti-correlated
    z1 = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    z2 = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    out = barlow_twins_loss(z1, z2, off_diagonal_weight=0.5, eps=0.0)
    # C = [[1, 0], [0, -1]]: invariance (1-1)^2 + (1+1)^2 = 4, no redundancy
    assert out["invariance"].item() == pytest.approx(4.0)
    assert out["redundancy"].item() == pytest.approx(0.0)
    # C with off-diagonals: z2 = (f1, f1) gives C = [[1, 1], [0, 0]]
    z2b = torch.stack([z1[:, 0], z1[:, 0]], dim=1)
    out = barlow_twins_loss(z1, z2b, off_diagonal_weight=0.5, eps=0.0)
    assert out["invariance"].item() == pytest.approx(1.0)
    assert out["redundancy"].item() == pytest.approx(1.0)
    assert out["loss"].item() == pytest.approx(1.5)


def test_vicreg_hand_computed():
    z1 = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    z2 = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    out = vicreg_loss(z1, z2, 1.0, 1.0, 1.0, eps=0.0)
    # invariance: one differing entry of four, squared error 1 -> 0.25
    assert out["invariance"].item() == pytest.approx(0.25)
    # variances (unbiased): z1 both 0.5; z2 0.5 and 0 -> std .7071, .7071 | .7071, 0
    h = 1 - math.sqrt(0.5)
    assert out["variance"].item() == pytest.approx((2 * h) / 2 / 2 + (h + 1) / 2 / 2)
    # covariance: z1 off-diagonal 0.5 -> 2 * 0.25 / 2 = 0.25; z2 off-diagonal 0
    assert out["covariance"].item() == pytest.approx(0.25)
    total = out["invariance"] + out["variance"] + out["covariance"]
    assert out["loss"].item() == pytest.approx(total.item())


def test_vicreg_symmetric_and_collapse_penalised():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(32, 6, generator=g), torch.randn(32, 6, generator=g)
    assert torch.allclose(vicreg_loss(z1, z2)["loss"], vicreg_loss(z2, z1)["loss"])
    collapsed = vicreg_loss(torch.zeros(32, 6), torch.zeros(32, 6))
    assert collapsed["invariance"].item() == 0.0
    assert collapsed["variance"].item() == pytest.approx(1 - math.sqrt(1e-4), abs=1e-6)


def test_small_minibatch_rejected():
    with pytest.raises(ValueError, match="two cells"):
        vicreg_loss(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="two cells"):
        barlow_twins_loss(torch.ones(1, 3), torch.ones(1, 3))


def test_byol_momentum_schedule():
    assert byol_momentum(0, 10, 0.9) == pytest.approx(0.9)
    assert byol_momentum(5, 10, 0.9) == pytest.approx(0.95)
    assert byol_momentum(10, 10, 0.9) == pytest.approx(1.0)
    values = [byol_momentum(s, 10, 0.9) for s in range(11)]
    assert values == sorted(values)

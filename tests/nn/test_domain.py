from __future__ import annotations

import pytest
import torch

from scssl.nn import GradientReversal, cluster_consistency_loss, mmd_rbf


def _sample(n, d, shift=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) + shift


def test_mmd_zero_for_identical_and_grows_with_shift():
    a = _sample(100, 4, seed=0)
    assert float(mmd_rbf(a, a)) == pytest.approx(0.0, abs=1e-6)
    values = [float(mmd_rbf(a, _sample(100, 4, shift=s, seed=1))) for s in (0.0, 0.5, 1.0, 3.0)]
    assert values == sorted(values)
    assert values[0] < 0.05 < values[-1]


def test_mmd_unequal_sizes_symmetric_and_differentiable():
    a = _sample(30, 3, seed=0)
    b = _sample(70, 3, shift=1.0, seed=1).requires_grad_(True)
    forward = mmd_rbf(a, b)
    assert forward.ndim == 0
    assert float(forward) == pytest.approx(float(mmd_rbf(b, a)), rel=1e-5)
    forward.backward()
    assert b.grad is not None and b.grad.abs().sum() > 0
    # a step against the gradient reduces the discrepancy
    with torch.no_grad():
        moved = b - 0.5 * b.grad / b.grad.norm() * b.shape[0] ** 0.5
    assert float(mmd_rbf(a, moved)) < float(forward)


def test_mmd_shape_errors_and_empty():
    with pytest.raises(ValueError, match="equal d"):
        mmd_rbf(torch.zeros(3, 2), torch.zeros(3, 4))
    assert float(mmd_rbf(torch.zeros(0, 2), torch.ones(3, 2))) == 0.0


def test_cluster_consistency_gradient_scale_invariance_and_ignored_ids():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, -1])
    z = _sample(7, 2, seed=3).requires_grad_(True)
    loss = cluster_consistency_loss(z, labels)
    loss.backward()
    assert z.grad[:6].abs().sum() > 0  # the regulariser passes gradients
    assert torch.all(z.grad[6] == 0)  # ignored cell
    assert float(cluster_consistency_loss(3.0 * z.detach(), labels)) == pytest.approx(
        float(loss), rel=1e-5
    )
    assert float(cluster_consistency_loss(z.detach(), torch.zeros(7, dtype=torch.long))) == 0.0


def test_gradient_reversal():
    x = torch.ones(3, requires_grad=True)
    GradientReversal.apply(x, 2.0).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -2.0))

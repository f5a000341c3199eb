"""Domain-alignment losses: multi-kernel MMD and a cluster-consistency regulariser.

Pure functions of tensors; every term is differentiable with respect to the embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

DEFAULT_BANDWIDTH_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1).unsqueeze(0) - 2.0 * a @ b.T
    return d.clamp_min(0.0)


def mmd_rbf(
    x: torch.Tensor,
    y: torch.Tensor,
    bandwidth_scales: Sequence[float] = DEFAULT_BANDWIDTH_SCALES,
    bandwidth: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Squared maximum mean discrepancy between two samples, multi-kernel RBF.

    The kernel is the mean of Gaussian kernels ``exp(-d^2 / (2 s^2 h))`` over the
    ``bandwidth_scales`` ``s^2``, where ``h`` is ``bandwidth`` or, by default, the mean
    squared distance over the pooled sample (detached, so the scale adapts to the
    embedding without becoming a shortcut). The biased (V-statistic) estimate is used;
    it is non-negative and 0 for identical samples. The two samples may differ in size.

    Parameters
    ----------
    x, y
        Samples of shape ``(n, d)`` and ``(m, d)``.
    bandwidth_scales
        Multipliers of the base bandwidth, one kernel each.
    bandwidth
        Base squared bandwidth ``h``; ``None`` uses the pooled mean squared distance.

    Returns
    -------
    0-d tensor.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.randn(64, 3, generator=g), torch.randn(64, 3, generator=g)
    >>> bool(mmd_rbf(a, b) < mmd_rbf(a, b + 3.0))
    True
    >>> float(mmd_rbf(a, a))
    0.0
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd_rbf needs two (n, d) samples of equal d, got {x.shape}, {y.shape}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        return x.new_zeros(())
    pooled = torch.cat([x, y])
    d_all = _squared_distances(pooled, pooled)
    if bandwidth is None:
        n = pooled.shape[0]
        h = (d_all.sum() / max(n * n - n, 1)).detach().clamp_min(1e-6)
    else:
        h = torch.as_tensor(bandwidth, dtype=x.dtype, device=x.device)
    kernel = torch.zeros_like(d_all)
    for scale in bandwidth_scales:
        kernel = kernel + torch.exp(-d_all / (2.0 * scale * h))
    kernel = kernel / len(bandwidth_scales)
    n = x.shape[0]
    k_xx = kernel[:n, :n].mean()
    k_yy = kernel[n:, n:].mean()
    k_xy = kernel[:n, n:].mean()
    return (k_xx + k_yy - 2.0 * k_xy).clamp_min(0.0)


def cluster_consistency_loss(
    z: torch.Tensor, clusters: torch.Tensor, eps: float = 1e-8
) -> torch.Tensor:
    """Keep pre-computed clusters compact and apart in the embedding.

    The ratio of the mean squared distance between cells of the same cluster to the
    mean squared distance between cells of different clusters. The ratio is invariant
    to rescaling ``z``, so it cannot be lowered by shrinking the embedding, and its
    gradient flows into ``z`` (unlike a loss computed on re-clustered labels). Cells
    with a negative cluster id are ignored; fewer than two clusters (or no pair within
    a cluster) give 0.

    Parameters
    ----------
    z
        Embeddings ``(n, d)``.
    clusters
        Integer cluster id per row ``(n,)`` or ``(n, 1)``; negative ids are ignored.

    Examples
    --------
    >>> import torch
    >>> labels = torch.tensor([0, 0, 1, 1])
    >>> tight = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    >>> mixed = torch.tensor([[0.0], [5.0], [0.1], [5.1]])
    >>> bool(cluster_consistency_loss(tight, labels) < cluster_consistency_loss(mixed, labels))
    True
    """
    clusters = clusters.reshape(-1).long()
    keep = clusters >= 0
    z, clusters = z[keep], clusters[keep]
    if z.shape[0] < 3 or torch.unique(clusters).numel() < 2:
        return z.new_zeros(())
    d = _squared_distances(z, z)
    same = clusters.unsqueeze(0) == clusters.unsqueeze(1)
    off_diagonal = ~torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    within_pairs = same & off_diagonal
    if not within_pairs.any():
        return z.new_zeros(())
    within = d[within_pairs].mean()
    between = d[~same].mean()
    return within / (between + eps)


class GradientReversal(torch.autograd.Function):
    """Identity forward, gradient multiplied by ``-alpha`` backward (adversarial alignment).

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(2, requires_grad=True)
    >>> GradientReversal.apply(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000])
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:  # noqa: D102
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # noqa: D102
        return -ctx.alpha * grad_output, None

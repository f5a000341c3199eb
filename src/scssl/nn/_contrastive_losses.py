"""Joint-embedding objectives (SimCLR, BYOL, Barlow Twins, VICReg) as pure functions.

Every function takes two batches of embeddings ``(n_cells, n_features)`` whose rows
are two views of the same cells and returns a 0-d loss tensor, or a dict of 0-d
tensors with the total under ``"loss"`` and its components. None of them holds
state; the networks (projector, predictor, target network) live in the module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scssl._options import SymmetricContrastiveMethod, options

from ._losses import full_precision


def _check_pair(z1: torch.Tensor, z2: torch.Tensor, name: str) -> None:
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"{name} needs two 2-D views of equal shape (cells x features), "
            f"got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Normalised temperature-scaled cross entropy (SimCLR's NT-Xent).

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` form a positive pair; the other
    ``2n - 2`` embeddings of the minibatch are the negatives. Cosine similarities
    are divided by ``temperature``; the loss is averaged over all ``2n`` anchors,
    so it is symmetric in its two arguments.

    Parameters
    ----------
    z1, z2
        Projections of the two views, ``(n_cells, n_features)``.
    temperature
        Softmax temperature (> 0).

    Examples
    --------
    >>> import torch
    >>> z = torch.eye(2)
    >>> round(nt_xent_loss(z, z, temperature=1.0).item(), 4)  # log(1 + 2 e^0 / e^1)
    0.5514
    """
    _check_pair(z1, z2, "nt_xent_loss")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    logits = z @ z.T / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, positives)


@full_precision
def byol_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BYOL regression loss: ``2 - 2 cos(prediction, target)`` averaged over cells.

    ``target`` is the target network's projection of the *other* view; it is
    detached here, so no gradient reaches the target network. Symmetrise by
    calling it twice with the views swapped.

    Examples
    --------
    >>> import torch
    >>> byol_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]]))
    tensor(2.)
    """
    _check_pair(prediction, target, "byol_loss")
    cosine = F.cosine_similarity(prediction, target.detach(), dim=1)
    return (2.0 - 2.0 * cosine).mean()


def _standardise(z: torch.Tensor, eps: float) -> torch.Tensor:
    """Zero mean, unit (biased) standard deviation per feature over the minibatch."""
    return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)


def barlow_twins_loss(
    z1: torch.Tensor, z2: torch.Tensor, off_diagonal_weight: float = 5e-3, eps: float = 1e-5
) -> dict[str, torch.Tensor]:
    """Barlow Twins: drive the cross-correlation matrix of the two views to the identity.

    With ``C = z1_std.T @ z2_std / n`` (features standardised over the minibatch),
    ``invariance = sum_i (1 - C_ii)^2``, ``redundancy = sum_{i != j} C_ij^2`` and
    ``loss = invariance + off_diagonal_weight * redundancy``.

    Returns
    -------
    ``{"loss", "invariance", "redundancy"}``, each 0-d.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> out = barlow_twins_loss(z, 3 * z)  # perfectly correlated, decorrelated features
    >>> round(out["invariance"].item(), 4), round(out["redundancy"].item(), 4)
    (0.0, 0.0)
    """
    _check_pair(z1, z2, "barlow_twins_loss")
    n = z1.shape[0]
    if n < 2:
        raise ValueError("barlow_twins_loss needs at least two cells per minibatch")
    c = _standardise(z1, eps).T @ _standardise(z2, eps) / n
    diagonal = torch.diagonal(c)
    invariance = (1.0 - diagonal).pow(2).sum()
    redundancy = c.pow(2).sum() - diagonal.pow(2).sum()
    return {
        "loss": invariance + off_diagonal_weight * redundancy,
        "invariance": invariance,
        "redundancy": redundancy,
    }


def _off_diagonal_square_sum(matrix: torch.Tensor) -> torch.Tensor:
    return matrix.pow(2).sum() - torch.diagonal(matrix).pow(2).sum()


def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> dict[str, torch.Tensor]:
    """VICReg: variance-invariance-covariance regularisation (Bardes et al. 2022).

    * ``invariance``: mean squared error between the views (over cells and features);
    * ``variance``: hinge ``relu(gamma - sqrt(var + eps))`` per feature, averaged over
      features and over the two views;
    * ``covariance``: sum of the squared off-diagonal entries of each view's
      covariance matrix divided by the number of features, summed over the views.

    ``loss = invariance_weight * invariance + variance_weight * variance +
    covariance_weight * covariance``.

    Returns
    -------
    ``{"loss", "invariance", "variance", "covariance"}``, each 0-d.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    >>> {k: round(v.item(), 4) for k, v in vicreg_loss(z, z, eps=0.0).items()}
    {'loss': 0.0, 'invariance': 0.0, 'variance': 0.0, 'covariance': 0.0}
    """
    _check_pair(z1, z2, "vicreg_loss")
    n, d = z1.shape
    if n < 2:
        raise ValueError("vicreg_loss needs at least two cells per minibatch")
    invariance = F.mse_loss(z1, z2)
    variance = z1.new_zeros(())
    covariance = z1.new_zeros(())
    for z in (z1, z2):
        std = torch.sqrt(z.var(dim=0) + eps)
        variance = variance + F.relu(gamma - std).mean() / 2.0
        centred = z - z.mean(dim=0)
        cov = centred.T @ centred / (n - 1)
        covariance = covariance + _off_diagonal_square_sum(cov) / d
    loss = invariance_weight * invariance + variance_weight * variance
    loss = loss + covariance_weight * covariance
    return {
        "loss": loss,
        "invariance": invariance,
        "variance": variance,
        "covariance": covariance,
    }


def byol_momentum(step: int, total_steps: int, base_momentum: float = 0.99) -> float:
    """BYOL's cosine schedule of the target-network momentum.

    ``tau = 1 - (1 - base_momentum) * (cos(pi * step / total_steps) + 1) / 2``: it
    starts at ``base_momentum`` and rises to 1 at the end of training.

    Examples
    --------
    >>> byol_momentum(0, 100, 0.99), byol_momentum(100, 100, 0.99)
    (0.99, 1.0)
    """
    import math

    if total_steps <= 0:
        return base_momentum
    progress = min(max(step / total_steps, 0.0), 1.0)
    return 1.0 - (1.0 - base_momentum) * (math.cos(math.pi * progress) + 1.0) / 2.0


@full_precision
def contrastive_objective(
    method: SymmetricContrastiveMethod,
    p1: torch.Tensor,
    p2: torch.Tensor,
    *,
    temperature: float,
    off_diagonal_weight: float,
    invariance_weight: float,
    variance_weight: float,
    covariance_weight: float,
) -> dict[str, torch.Tensor]:
    """Loss between two projections for the symmetric methods (not BYOL).

    Returns ``{"loss": ..., <components>}``.

    Examples
    --------
    >>> import torch
    >>> z = torch.randn(8, 4)
    >>> out = contrastive_objective(
    ...     "simclr", z, z, temperature=0.1, off_diagonal_weight=0.0,
    ...     invariance_weight=0.0, variance_weight=0.0, covariance_weight=0.0,
    ... )
    >>> sorted(out)
    ['loss']
    """
    if method == "simclr":
        return {"loss": nt_xent_loss(p1, p2, temperature)}
    if method == "barlow_twins":
        return barlow_twins_loss(p1, p2, off_diagonal_weight)
    if method == "vicreg":
        return vicreg_loss(p1, p2, invariance_weight, variance_weight, covariance_weight)
    raise ValueError(f"method must be one of {options(SymmetricContrastiveMethod)}, got {method!r}")

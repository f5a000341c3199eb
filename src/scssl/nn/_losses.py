"""Loss functions as pure functions of tensors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch

LossFunction = TypeVar("LossFunction", bound=Callable)


def full_precision(loss: LossFunction) -> LossFunction:
    """Run ``loss`` in float32 with autocast off, so mixed-precision training stays exact there.

    Under ``precision="bf16-mixed"`` autocast runs matrix products in bfloat16 (about
    three significant digits); a loss built of such products (the similarities of
    NT-Xent, the cross-correlation of Barlow Twins) would be rounded at that
    precision. Tensor arguments are cast to float32 and autocast is switched off
    inside; outside a mixed-precision context this changes nothing.

    Examples
    --------
    >>> import torch
    >>> @full_precision
    ... def dot(a, b):
    ...     return (a @ b.T).dtype
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     dot(torch.ones(2, 3), torch.ones(2, 3))
    torch.float32
    """

    @functools.wraps(loss)
    def in_float32(*args, **kwargs):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        device_type = tensors[0].device.type if tensors else "cpu"
        args = tuple(
            a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args
        )
        with torch.autocast(device_type=device_type, enabled=False):
            return loss(*args, **kwargs)

    return in_float32  # type: ignore[return-value]


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Per-row mean of ``values`` over the positions where ``mask`` is ``True``.

    Rows with no selected position give 0. ``mask=None`` averages over all positions.

    Examples
    --------
    >>> import torch
    >>> masked_mean(torch.tensor([[1.0, 3.0]]), torch.tensor([[True, False]]))
    tensor([1.])
    """
    if mask is None:
        return values.mean(dim=-1)
    mask = mask.to(values.dtype)
    return (values * mask).sum(dim=-1) / mask.sum(dim=-1).clamp_min(1.0)


def mse_per_entry(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error per entry.

    Examples
    --------
    >>> import torch
    >>> mse_per_entry(torch.tensor([1.0]), torch.tensor([3.0]))
    tensor([4.])
    """
    return (prediction - target) ** 2


def nb_negative_log_likelihood(
    counts: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8
) -> torch.Tensor:
    """Negative log-likelihood of a negative binomial (mean ``mu``, inverse dispersion ``theta``).

    Computed per entry; ``theta`` broadcasts (for example one value per gene). In
    float32 a ``theta`` above about 1e4 loses precision in the log-gamma difference;
    pass float64 tensors for near-Poisson values.

    Examples
    --------
    >>> import torch
    >>> two = torch.tensor([2.0])
    >>> nll = nb_negative_log_likelihood(two, two, torch.tensor([1e3]))
    >>> round(nll.item(), 3)  # large theta: close to the Poisson(2) value at 2
    1.307
    """
    log_theta_mu = torch.log(theta + mu + eps)
    log_likelihood = (
        theta * (torch.log(theta + eps) - log_theta_mu)
        + counts * (torch.log(mu + eps) - log_theta_mu)
        + torch.lgamma(counts + theta)
        - torch.lgamma(theta)
        - torch.lgamma(counts + 1)
    )
    return -log_likelihood

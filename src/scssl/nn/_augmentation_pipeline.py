"""Composing augmentations: the two-view pipeline, neighbour views, the standard settings.

:class:`AugmentationSettings` names every augmentation setting once; models and
modules take it (or its fields) and :meth:`AugmentationSettings.build` turns it into
the augmentation list the :class:`AugmentationPipeline` applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import nn

from ._augmentations import (
    Augmentation,
    BinomialThinning,
    Crossover,
    GaussianNoise,
    GeneSwap,
    NegativeBinomialNoise,
    RandomGeneMasking,
    Space,
    _check_probability,
)
from ._sparse import csr_index_rows, csr_stack, is_sparse_csr


class NeighbourView(nn.Module):
    """Use a precomputed neighbour of a cell as its second view.

    Not a transform of the cell itself: ``forward(counts, partner_counts, has_partner)``
    returns, for each cell with a partner and with probability ``p``, the partner's
    counts, and the cell's own counts otherwise (both dense, or both CSR). Partners
    come from a precomputed index: a mutual nearest neighbour from another batch
    (:func:`scssl.metrics.mutual_nearest_neighbors`, :func:`scssl.tl.mnn_pairs`) or
    one of the cell's nearest neighbours in any batch
    (:func:`scssl.tl.knn_pairs`, one drawn per step with :func:`draw_partner`).

    Examples
    --------
    >>> import torch
    >>> own, other = torch.zeros(3, 2), torch.ones(3, 2)
    >>> NeighbourView(p=1.0)(own, other, torch.tensor([True, False, True]))[:, 0]
    tensor([1., 0., 1.])
    """

    space: Space = "counts"

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_probability("p", p)

    def forward(
        self, counts: torch.Tensor, partner_counts: torch.Tensor, has_partner: torch.Tensor
    ) -> torch.Tensor:
        """Pick the partner's counts per cell with probability ``p`` where a partner exists."""
        if not self.training or self.p == 0.0:
            return counts
        chosen = has_partner.bool() & (torch.rand(counts.shape[0], device=counts.device) < self.p)
        if is_sparse_csr(counts):
            # rows of [counts; partner_counts]: row i, or row n + i where the partner is chosen
            n = counts.shape[0]
            pick = torch.arange(n, device=counts.device) + n * chosen.long()
            return csr_index_rows(csr_stack(counts, partner_counts), pick)
        return torch.where(chosen[:, None], partner_counts, counts)

    def extra_repr(self) -> str:  # noqa: D102
        return f"p={self.p}"


def draw_partner(partners: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one partner per cell, uniformly among its valid (``>= 0``) candidates.

    ``partners`` holds row positions, cells x candidates (``-1`` pads cells with fewer
    candidates). Returns the drawn positions (``0`` where a cell has none) and a mask of
    the cells that have one.

    Examples
    --------
    >>> import torch
    >>> position, has = draw_partner(torch.tensor([[4, -1], [-1, -1]]))
    >>> position.tolist(), has.tolist()
    ([4, 0], [True, False])
    """
    partners = partners.long()
    if partners.ndim == 1:
        partners = partners[:, None]
    valid = partners >= 0
    # a random score per candidate, invalid ones pushed below every valid one
    scores = torch.rand(partners.shape, device=partners.device).masked_fill(~valid, -1.0)
    chosen = partners.gather(1, scores.argmax(dim=1, keepdim=True)).squeeze(1)
    has_partner = valid.any(dim=1)
    return chosen.clamp_min(0), has_partner


class AugmentationPipeline(nn.Module):
    """Compose augmentations: count-space ones, then normalisation, then normalised ones.

    Parameters
    ----------
    augmentations
        Augmentations applied in the given order within their space.
    normalize
        Function ``counts -> (log-normalised, library)``, e.g.
        :func:`~scssl.nn.normalize_counts`.

    Examples
    --------
    >>> import torch
    >>> from scssl.nn import normalize_counts
    >>> pipe = AugmentationPipeline(
    ...     [BinomialThinning(p=1.0), RandomGeneMasking(0.5, p=1.0)], normalize_counts
    ... )
    >>> pipe(torch.poisson(torch.full((8, 20), 3.0))).shape
    torch.Size([8, 20])
    """

    def __init__(
        self,
        augmentations: Sequence[Augmentation],
        normalize: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    ):
        super().__init__()
        for aug in augmentations:
            if not isinstance(aug, Augmentation):
                raise TypeError(f"{aug!r} is not an scssl.nn.Augmentation")
        self.count_augmentations = nn.ModuleList([a for a in augmentations if a.space == "counts"])
        self.normalized_augmentations = nn.ModuleList(
            [a for a in augmentations if a.space == "normalized"]
        )
        self.normalize = normalize

    @property
    def reads_sparse(self) -> bool:
        """Whether every augmentation acts on CSR stored entries (else input is made dense)."""
        augmentations = [*self.count_augmentations, *self.normalized_augmentations]
        return all(aug.reads_sparse or aug.p == 0.0 for aug in augmentations)

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        """Return the augmented, log-normalised view of ``counts``.

        A CSR minibatch stays CSR through the augmentations that act on stored entries
        and is made dense just before the first one that needs every gene (so with the
        default settings, only Gaussian noise on every gene sees a dense minibatch).
        """
        for aug in self.count_augmentations:
            counts = aug(counts)
        x, _ = self.normalize(counts)
        for aug in self.normalized_augmentations:
            x = aug(x)
        return x


@dataclass(frozen=True)
class AugmentationSettings:
    """The standard augmentations' settings, in built-in types (probability 0 = off).

    Each ``*_prob`` is the per-cell probability of one augmentation; the other
    fields are its strength. ``mask_fraction`` is the share of genes *dropped*;
    ``noise_nonzero_only`` adds the Gaussian noise to detected genes only.

    Examples
    --------
    >>> settings = AugmentationSettings(noise_prob=0.0)
    >>> [type(a).__name__ for a in settings.build()]
    ['BinomialThinning', 'RandomGeneMasking']
    >>> AugmentationSettings.from_arguments({"mask_fraction": 0.5, "lr": 1e-3}).mask_fraction
    0.5
    """

    mask_prob: float = 1.0
    mask_fraction: float = 0.25
    noise_prob: float = 0.5
    noise_std: float = 0.2
    noise_nonzero_only: bool = False
    thinning_prob: float = 0.5
    thinning_min_keep: float = 0.5
    nb_prob: float = 0.0
    nb_theta: float = 10.0
    swap_prob: float = 0.0
    swap_fraction: float = 0.1
    crossover_prob: float = 0.0
    crossover_fraction: float = 0.25

    def __post_init__(self) -> None:
        # checked here so that the error names the model argument, before anything is built
        for name in self.names():
            value = getattr(self, name)
            if name.endswith("_prob") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1] (a per-cell probability), got {value}")
        if not 0.0 < self.mask_fraction < 1.0:
            raise ValueError(
                f"mask_fraction (the share of genes dropped) must lie strictly between 0 and 1, "
                f"got {self.mask_fraction}"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The setting names, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_arguments(cls, arguments: dict[str, Any]) -> AugmentationSettings:
        """The settings among ``arguments`` (e.g. a model's ``locals()``); others ignored."""
        return cls(**{name: arguments[name] for name in cls.names() if name in arguments})

    def build(self) -> list[Augmentation]:
        """The augmentations with a non-zero probability, in the pipeline's order."""
        augs: list[Augmentation] = []
        if self.thinning_prob > 0:
            augs.append(
                BinomialThinning(
                    min_keep=self.thinning_min_keep, max_keep=1.0, p=self.thinning_prob
                )
            )
        if self.nb_prob > 0:
            augs.append(NegativeBinomialNoise(theta=self.nb_theta, p=self.nb_prob))
        if self.crossover_prob > 0:
            augs.append(Crossover(fraction=self.crossover_fraction, p=self.crossover_prob))
        if self.swap_prob > 0:
            augs.append(GeneSwap(swap_fraction=self.swap_fraction, p=self.swap_prob))
        if self.mask_prob > 0:
            augs.append(RandomGeneMasking(drop_fraction=self.mask_fraction, p=self.mask_prob))
        if self.noise_prob > 0:
            augs.append(
                GaussianNoise(
                    std=self.noise_std, p=self.noise_prob, nonzero_only=self.noise_nonzero_only
                )
            )
        return augs


def build_augmentations(
    settings: AugmentationSettings | None = None, **overrides: Any
) -> list[Augmentation]:
    """The standard augmentation list: ``settings`` (default settings) with ``overrides``.

    Examples
    --------
    >>> [type(a).__name__ for a in build_augmentations(noise_prob=0.0, crossover_prob=0.0)]
    ['BinomialThinning', 'RandomGeneMasking']
    """
    return replace(settings or AugmentationSettings(), **overrides).build()

"""Single-cell augmentations for contrastive and non-contrastive self-supervision.

Each augmentation is a small :class:`torch.nn.Module` that transforms a minibatch
(cells x genes) and is applied to every cell independently with its own
probability ``p``. Random draws happen on the tensor's device. An augmentation
acts only in training mode (``module.train()``); in eval mode it returns its
input unchanged, so embeddings computed with ``model.eval()`` are deterministic.

Two spaces exist: *count* augmentations (binomial thinning, negative-binomial
resampling, the mutual-nearest-neighbour partner) act on raw counts before
normalisation; *normalised* augmentations (masking, Gaussian noise, gene swap,
crossover) act on log-normalised values. :class:`AugmentationPipeline` applies
the count ones, normalises, then applies the normalised ones.

On a CSR minibatch, augmentations that leave zeros at zero act on the stored
entries only (``reads_sparse``): binomial thinning, negative-binomial resampling,
masking with mask value 0, and Gaussian noise with ``nonzero_only=True``. The
pipeline makes the minibatch dense first if any of its augmentations needs every
gene.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ._masking import RandomMasking
from ._sparse import csr_index_rows, csr_like, csr_rows, is_sparse_csr

Space = Literal["counts", "normalized"]


def _check_probability(name: str, value: float) -> float:
    """``value`` as a float, if it is a probability or share (in [0, 1])."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return float(value)


class Augmentation(nn.Module):
    """Base class: ``forward(x)`` applies :meth:`transform` to each cell with probability ``p``.

    Subclasses implement :meth:`transform` for the whole minibatch; the base class
    picks, per cell, the transformed or the original row.

    Parameters
    ----------
    p
        Probability that a given cell is augmented at a given step.
    """

    space: Space = "normalized"

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_probability("p", p)

    @property
    def reads_sparse(self) -> bool:
        """Whether this augmentation leaves zeros at zero (acts on CSR stored entries)."""
        return False

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Augment every cell of ``x`` (subclasses implement this)."""
        raise NotImplementedError

    def transform_stored(self, x: torch.Tensor) -> torch.Tensor:
        """New stored values of a CSR ``x``, every cell augmented (``reads_sparse`` ones)."""
        raise NotImplementedError(f"{type(self).__name__} needs the dense minibatch")

    def draw_cells(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean ``(n_cells,)``: which cells are augmented this step."""
        return torch.rand(x.shape[0], device=x.device) < self.p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Augment each cell with probability ``p`` (identity in eval mode or if ``p == 0``).

        A CSR ``x`` is made dense here if this augmentation needs every gene, so the
        augmentations before it in a pipeline still act on the stored entries only.
        """
        if is_sparse_csr(x) and not self.reads_sparse and self.p > 0.0:
            x = x.to_dense()
        if not self.training or self.p == 0.0 or x.shape[0] == 0:
            return x
        chosen = self.draw_cells(x)
        if not bool(chosen.any()):
            return x
        return self.augment_cells(x, chosen)

    def augment_cells(self, x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """``x`` with the ``chosen`` cells (boolean, ``(n_cells,)``) augmented.

        The transform runs on the chosen cells only (its random draws, on every gene
        for the noise, are the costly part of a step); each cell is transformed on its
        own, so this draws what transforming all cells and keeping the chosen ones would.
        """
        sparse = is_sparse_csr(x)
        if bool(chosen.all()):
            return csr_like(x, self.transform_stored(x)) if sparse else self.transform(x)
        rows = chosen.nonzero().squeeze(1)
        if sparse:
            values = x.values().clone()
            # the chosen rows' entries, in the order csr_index_rows returns them
            values[chosen[csr_rows(x)]] = self.transform_stored(csr_index_rows(x, rows))
            return csr_like(x, values)
        augmented = x.clone()
        augmented[rows] = self.transform(x[rows])
        return augmented

    def extra_repr(self) -> str:  # noqa: D102
        return f"p={self.p}"


class RandomGeneMasking(Augmentation):
    """Set a random share of each cell's genes to ``mask_value`` (default 0).

    ``drop_fraction`` is the expected fraction of genes *dropped* per augmented cell,
    drawn independently per gene (with :class:`~scssl.nn.RandomMasking`).

    Examples
    --------
    >>> import torch
    >>> aug = RandomGeneMasking(drop_fraction=0.3, p=1.0)
    >>> x = torch.ones(500, 200)
    >>> round((aug(x) == 0).float().mean().item(), 2)
    0.3
    """

    space: Space = "normalized"

    def __init__(self, drop_fraction: float = 0.5, p: float = 1.0, mask_value: float = 0.0):
        super().__init__(p)
        self.masking = RandomMasking(drop_fraction)
        self.drop_fraction = float(drop_fraction)
        self.mask_value = float(mask_value)

    @property
    def reads_sparse(self) -> bool:  # noqa: D102
        return self.mask_value == 0.0

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.masked_fill(self.masking.draw(x).hidden, self.mask_value)

    def transform_stored(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.values().masked_fill(self.masking.draw_stored(x).stored, 0.0)

    def extra_repr(self) -> str:  # noqa: D102
        return f"drop_fraction={self.drop_fraction}, p={self.p}"


class GaussianNoise(Augmentation):
    """Add ``N(0, std^2)`` noise to every gene of an augmented cell (normalised values).

    With ``nonzero_only=True`` only the detected (non-zero) genes get noise: a
    different augmentation, but one that a sparse minibatch can take without
    becoming dense.

    Examples
    --------
    >>> import torch
    >>> aug = GaussianNoise(std=0.5, p=1.0)
    >>> round(aug(torch.zeros(2000, 100)).std().item(), 1)
    0.5
    """

    space: Space = "normalized"

    def __init__(self, std: float = 0.2, p: float = 0.5, nonzero_only: bool = False):
        super().__init__(p)
        if std < 0:
            raise ValueError(f"std must be non-negative, got {std}")
        self.std = float(std)
        self.nonzero_only = bool(nonzero_only)

    @property
    def reads_sparse(self) -> bool:  # noqa: D102
        return self.nonzero_only

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        noise = self.std * torch.randn_like(x)
        return x + (noise * (x != 0) if self.nonzero_only else noise)

    def transform_stored(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        values = x.values()
        return values + self.std * torch.randn_like(values) * (values != 0)

    def extra_repr(self) -> str:  # noqa: D102
        return f"std={self.std}, p={self.p}, nonzero_only={self.nonzero_only}"


class BinomialThinning(Augmentation):
    """Subsample the counts of a cell: each molecule is kept with probability ``r``.

    ``r`` is drawn per cell uniformly in ``[min_keep, max_keep]``, so the view has a
    lower library size; counts never increase and zeros stay zero.

    Examples
    --------
    >>> import torch
    >>> counts = torch.tensor([[0.0, 5.0, 10.0]] * 4)
    >>> thinned = BinomialThinning(min_keep=0.5, max_keep=0.5, p=1.0)(counts)
    >>> bool((thinned <= counts).all()), bool((thinned[:, 0] == 0).all())
    (True, True)
    """

    space: Space = "counts"

    def __init__(self, min_keep: float = 0.5, max_keep: float = 1.0, p: float = 0.5):
        super().__init__(p)
        if not 0.0 < min_keep <= max_keep <= 1.0:
            raise ValueError(
                f"need 0 < min_keep <= max_keep <= 1, got min_keep={min_keep}, max_keep={max_keep}"
            )
        self.min_keep = float(min_keep)
        self.max_keep = float(max_keep)

    def _keep(self, n_cells: int, like: torch.Tensor) -> torch.Tensor:
        """Each cell's share of molecules kept, uniform in ``[min_keep, max_keep]``."""
        keep = torch.rand(n_cells, device=like.device, dtype=like.dtype)
        return self.min_keep + (self.max_keep - self.min_keep) * keep

    @staticmethod
    def _thin(counts: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return torch.binomial(counts.round().clamp_min(0), keep)

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self._thin(x, self._keep(x.shape[0], x)[:, None].expand_as(x))

    @property
    def reads_sparse(self) -> bool:  # noqa: D102
        return True

    def transform_stored(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        values = x.values()
        return self._thin(values, self._keep(x.shape[0], values)[csr_rows(x)])

    def extra_repr(self) -> str:  # noqa: D102
        return f"min_keep={self.min_keep}, max_keep={self.max_keep}, p={self.p}"


class NegativeBinomialNoise(Augmentation):
    """Resample each count from a negative binomial centred on it.

    ``x' ~ Poisson(lambda)``, ``lambda ~ Gamma(theta, theta / x)``: the mean stays
    ``x``, the variance is ``x + x^2 / theta``. Zeros stay zero.

    Examples
    --------
    >>> import torch
    >>> counts = torch.full((4000, 1), 10.0)
    >>> out = NegativeBinomialNoise(theta=10.0, p=1.0)(counts)
    >>> round(out.mean().item() / 10, 1), bool(out.var() > 15)
    (1.0, True)
    """

    space: Space = "counts"

    def __init__(self, theta: float = 10.0, p: float = 0.5):
        super().__init__(p)
        if theta <= 0:
            raise ValueError(f"theta must be positive, got {theta}")
        self.theta = float(theta)

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        concentration = torch.full_like(x, self.theta)
        gamma = torch._standard_gamma(concentration)  # Gamma(theta, 1)
        return torch.poisson(gamma * x.clamp_min(0) / self.theta)

    @property
    def reads_sparse(self) -> bool:  # noqa: D102
        return True

    def transform_stored(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.transform(x.values())

    def extra_repr(self) -> str:  # noqa: D102
        return f"theta={self.theta}, p={self.p}"


class GeneSwap(Augmentation):
    """Swap the values of random pairs of genes within a cell.

    ``swap_fraction`` is the share of genes that take part in a swap (rounded down
    to an even number); each cell draws its own pairs.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(10.0).repeat(3, 1)
    >>> out = GeneSwap(swap_fraction=0.4, p=1.0)(x)
    >>> bool((out.sort(dim=1).values == x).all()), int((out != x).sum(dim=1)[0])
    (True, 4)
    """

    space: Space = "normalized"

    def __init__(self, swap_fraction: float = 0.1, p: float = 0.5):
        super().__init__(p)
        self.swap_fraction = _check_probability("swap_fraction", swap_fraction)

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        n_pairs = int(x.shape[1] * self.swap_fraction) // 2
        if n_pairs == 0:
            return x
        order = torch.rand(x.shape, device=x.device).argsort(dim=1)[:, : 2 * n_pairs]
        first, second = order[:, :n_pairs], order[:, n_pairs:]
        out = x.clone()
        out.scatter_(1, first, x.gather(1, second))
        out.scatter_(1, second, x.gather(1, first))
        return out

    def extra_repr(self) -> str:  # noqa: D102
        return f"swap_fraction={self.swap_fraction}, p={self.p}"


class Crossover(Augmentation):
    """Replace a random share of a cell's genes with those of another cell of the minibatch.

    Each augmented cell gets one partner, a different cell of the same minibatch
    (a random derangement), and takes the partner's value for each gene with
    probability ``fraction``. A minibatch of one cell is returned unchanged.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(4.0)[:, None].repeat(1, 50)  # cell i holds the value i
    >>> out = Crossover(fraction=0.5, p=1.0)(x)
    >>> bool(torch.isin(out, x).all())  # only values of the minibatch's own cells
    True
    """

    space: Space = "normalized"

    def __init__(self, fraction: float = 0.25, p: float = 0.5):
        super().__init__(p)
        self.fraction = _check_probability("fraction", fraction)

    @staticmethod
    def partners(n: int, device: torch.device | str) -> torch.Tensor:
        """A random permutation of ``range(n)`` without fixed points (identity for ``n < 2``)."""
        if n < 2:
            return torch.arange(n, device=device)
        order = torch.randperm(n, device=device)
        partner = torch.empty_like(order)
        partner[order] = order.roll(-1)
        return partner

    def augment_cells(self, x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:  # noqa: D102
        # a chosen cell takes genes from any cell of the minibatch, chosen or not
        return torch.where(chosen[:, None], self.transform(x), x)

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.shape[0] < 2:
            return x
        partner = self.partners(x.shape[0], x.device)
        take = torch.rand(x.shape, device=x.device) < self.fraction
        return torch.where(take, x[partner], x)

    def extra_repr(self) -> str:  # noqa: D102
        return f"fraction={self.fraction}, p={self.p}"

"""Masking strategies for masked autoencoders.

A strategy draws, for every cell of a minibatch independently and on the
tensor's device, which genes are hidden from the encoder and on which genes the
reconstruction loss is computed. Every model that masks uses these classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MaskDraw:
    """One draw of a masking strategy for a minibatch.

    Attributes
    ----------
    hidden
        Boolean ``(n_cells, n_genes)``; ``True`` where the encoder sees the mask value
        instead of the expression.
    loss
        Boolean ``(n_cells, n_genes)``; ``True`` where the reconstruction loss is
        computed when the model uses ``loss_on="masked"``.
    """

    hidden: torch.Tensor
    loss: torch.Tensor


@dataclass(frozen=True)
class SparseMaskDraw:
    """One draw of a masking strategy for a CSR minibatch, without a dense mask.

    Attributes
    ----------
    stored
        Boolean, one per stored (non-zero) entry, in the order of ``values()``:
        ``True`` where the entry is hidden.
    zero_ratio
        Probability with which each implicit zero is hidden, independently of
        everything else. Hiding a zero does not change the encoder's input (the
        mask value is 0), so these draws are only made where a loss asks for them.
    hidden
        The full boolean mask (cells x genes) when it was imposed rather than drawn;
        then ``stored`` is read from it and ``zero_ratio`` is unused.
    genes
        Sorted indices of the hidden genes when every cell hides the same ones
        (:class:`SharedRandomMasking`); a masked loss then needs those genes only,
        and ``zero_ratio`` is unused.
    """

    stored: torch.Tensor
    zero_ratio: float
    hidden: torch.Tensor | None = None
    genes: torch.Tensor | None = None


class MaskingStrategy(nn.Module):
    """Interface of a masking strategy: ``draw(x) -> MaskDraw``.

    Subclasses hold any gene-level data (for example programme memberships) as
    non-persistent buffers, so they follow the module to its device. A strategy
    that hides every gene independently with one probability can also draw on a
    CSR minibatch's stored entries (``reads_sparse = True`` and
    :meth:`draw_stored`); the others need the dense minibatch.
    """

    name: str = "base"
    reads_sparse: bool = False
    #: what :meth:`from_settings` needs: ``None``, ``"programmes"`` or ``"tf_programmes"``
    needs: str | None = None

    @classmethod
    def from_settings(
        cls, programmes=None, *, mask_ratio: float = 0.5, programme_fraction: float = 0.2
    ) -> MaskingStrategy:
        """Build the strategy from built-in-type settings and aligned ``programmes``.

        ``programmes`` is a :class:`~scssl.data.GeneProgrammes` aligned to the model's
        genes (its ``membership`` and ``tf_indices()`` are read) where ``needs`` says so.
        """
        raise NotImplementedError

    def draw_stored(self, x: torch.Tensor) -> SparseMaskDraw:
        """Draw a mask for a CSR minibatch (strategies with ``reads_sparse``)."""
        raise NotImplementedError(f"{type(self).__name__} needs the dense minibatch")

    def draw(self, x: torch.Tensor) -> MaskDraw:
        """Draw a mask for the minibatch ``x`` (cells x genes)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> MaskDraw:  # noqa: D102
        return self.draw(x)


class RandomMasking(MaskingStrategy):
    """Hide each gene of each cell independently with probability ``mask_ratio``.

    The loss positions are the hidden ones.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> m = RandomMasking(0.3).draw(torch.ones(1000, 200))
    >>> round(m.hidden.float().mean().item(), 2)
    0.3
    """

    name = "random"
    reads_sparse = True

    @classmethod
    def from_settings(cls, programmes=None, *, mask_ratio=0.5, programme_fraction=0.2):  # noqa: D102
        return cls(mask_ratio)

    def __init__(self, mask_ratio: float = 0.5):
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must lie strictly between 0 and 1, got {mask_ratio}")
        self.mask_ratio = float(mask_ratio)

    def draw(self, x: torch.Tensor) -> MaskDraw:  # noqa: D102
        hidden = torch.rand(x.shape, device=x.device) < self.mask_ratio
        return MaskDraw(hidden=hidden, loss=hidden)

    def draw_stored(self, x: torch.Tensor) -> SparseMaskDraw:  # noqa: D102
        hidden = torch.rand(x.values().shape, device=x.device) < self.mask_ratio
        return SparseMaskDraw(stored=hidden, zero_ratio=self.mask_ratio)


class SharedRandomMasking(RandomMasking):
    """Hide the same ``round(mask_ratio * n_genes)`` random genes in every cell of a minibatch.

    Drawn afresh at every step, so each gene of each cell is hidden with probability
    ``mask_ratio`` (to rounding), as under :class:`RandomMasking`: the masked loss of
    a cell is the same in expectation; only the draws of cells in one minibatch are
    no longer independent. What it buys: the hidden genes are one set per minibatch,
    so the decoder evaluates only those genes (a gather of its last layer's rows)
    instead of every gene, halving the cost of the decoder's largest layer at the
    default ``mask_ratio=0.5`` on a sparse minibatch. At least one gene is hidden and
    at least one stays visible. What it costs: with all 20,125 genes it trained 1.1x
    (Baron) to 1.4x (100k synthetic cells) faster than per-cell masks, but its embedding scored
    0.014 lower leave-one-donor-out macro-F1 than the dense path (0.779 vs 0.793;
    ``benchmarks/results/scale_shared_mask.md``), so it is not the default.

    Examples
    --------
    >>> import torch
    >>> draw = SharedRandomMasking(0.25).draw(torch.ones(3, 8))
    >>> draw.hidden.sum(dim=1).tolist(), bool((draw.hidden == draw.hidden[0]).all())
    ([2, 2, 2], True)
    """

    name = "random_shared"

    def hidden_genes(self, n_genes: int, device: torch.device) -> torch.Tensor:
        """Sorted indices of this step's hidden genes."""
        if n_genes < 2:
            raise ValueError("masking='random_shared' needs at least 2 genes")
        n_hidden = min(max(1, round(self.mask_ratio * n_genes)), n_genes - 1)
        return torch.randperm(n_genes, device=device)[:n_hidden].sort().values

    def _gene_mask(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        genes = self.hidden_genes(x.shape[1], x.device)
        hidden = torch.zeros(x.shape[1], dtype=torch.bool, device=x.device)
        return genes, hidden.index_fill_(0, genes, True)

    def draw(self, x: torch.Tensor) -> MaskDraw:  # noqa: D102
        _, gene_hidden = self._gene_mask(x)
        hidden = gene_hidden.expand(x.shape[0], -1)
        return MaskDraw(hidden=hidden, loss=hidden)

    def draw_stored(self, x: torch.Tensor) -> SparseMaskDraw:  # noqa: D102
        genes, gene_hidden = self._gene_mask(x)
        stored = gene_hidden[x.col_indices().long()]
        return SparseMaskDraw(stored=stored, zero_ratio=self.mask_ratio, genes=genes)

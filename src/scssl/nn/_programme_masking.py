"""Masking strategies built on gene programmes.

All draws are per cell, vectorised and on the device of the input tensor. The
programme x gene membership is a non-persistent buffer, so it follows the module
to its device and is rebuilt (not loaded) from the model's init parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._masking import MaskDraw, MaskingStrategy, RandomMasking, SharedRandomMasking


@dataclass(frozen=True)
class ProgrammeMaskDraw(MaskDraw):
    """A :class:`MaskDraw` that also says which programmes each cell drew.

    Attributes
    ----------
    programmes
        Boolean ``(n_cells, n_programmes)``: the masked programmes
        (``gene_programme``) or the single visible programme (``gp_to_gp``,
        ``gp_to_tf``) of each cell.
    """

    programmes: torch.Tensor | None = None


def _membership_tensor(membership) -> torch.Tensor:
    if hasattr(membership, "toarray"):
        membership = membership.toarray()
    tensor = torch.as_tensor(
        np.asarray(membership) if not torch.is_tensor(membership) else membership
    )
    if tensor.ndim != 2:
        raise ValueError(
            f"membership must be programmes x genes (2-D), got shape {tuple(tensor.shape)}"
        )
    tensor = tensor.bool()
    if tensor.shape[0] == 0:
        raise ValueError("membership holds no programmes")
    empty = torch.nonzero(~tensor.any(dim=1)).ravel().tolist()
    if empty:
        raise ValueError(f"programmes {empty[:5]} have no genes; drop them (GeneProgrammes.align)")
    return tensor


class _ProgrammeStrategy(MaskingStrategy):
    membership: torch.Tensor  # programmes x genes, boolean (a buffer)

    def __init__(self, membership):
        super().__init__()
        self.register_buffer("membership", _membership_tensor(membership), persistent=False)

    @property
    def n_programmes(self) -> int:
        """Number of programmes."""
        return self.membership.shape[0]

    @property
    def n_genes(self) -> int:
        """Number of genes the membership is aligned to."""
        return self.membership.shape[1]

    def _check(self, x: torch.Tensor) -> None:
        if x.shape[-1] != self.n_genes:
            raise ValueError(
                f"{self.name} masking is aligned to {self.n_genes} genes but the minibatch has "
                f"{x.shape[-1]}"
            )

    def _one_per_cell(self, x: torch.Tensor) -> torch.Tensor:
        """One programme index per cell, uniformly."""
        return torch.randint(self.n_programmes, (x.shape[0],), device=x.device)

    def _one_hot(self, index: torch.Tensor, n: int) -> torch.Tensor:
        out = torch.zeros(index.shape[0], n, dtype=torch.bool, device=index.device)
        out[torch.arange(index.shape[0], device=index.device), index] = True
        return out


def check_programme_fraction(programme_fraction: float) -> float:
    """``programme_fraction`` as a float, if it lies strictly between 0 and 1."""
    if not 0.0 < programme_fraction < 1.0:
        raise ValueError(
            f"programme_fraction must lie strictly between 0 and 1, got {programme_fraction}"
        )
    return float(programme_fraction)


class GeneProgrammeMasking(_ProgrammeStrategy):
    """Hide every gene of a random subset of programmes, drawn for each cell.

    Each cell draws ``max(1, round(programme_fraction * n_programmes))`` distinct
    programmes uniformly; all their genes are hidden and the loss is on the hidden
    genes. Genes in no programme are never hidden.

    Parameters
    ----------
    membership
        Boolean programmes x genes (array, sparse matrix or tensor), for example
        ``GeneProgrammes.align(adata).membership``.
    programme_fraction
        Fraction of the programmes masked per cell.

    Examples
    --------
    >>> import torch
    >>> membership = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 0]], dtype=torch.bool)
    >>> draw = GeneProgrammeMasking(membership, programme_fraction=0.5).draw(torch.ones(3, 4))
    >>> set(draw.hidden.sum(1).tolist()) <= {1, 2}  # one programme per cell: 2 or 1 genes
    True
    >>> bool((draw.hidden[:, 3]).any())  # gene 3 is in no programme
    False
    """

    name = "gene_programme"
    needs = "programmes"

    @classmethod
    def from_settings(cls, programmes=None, *, mask_ratio=0.5, programme_fraction=0.2):  # noqa: D102
        return cls(programmes.membership, programme_fraction)

    def __init__(self, membership, programme_fraction: float = 0.2):
        super().__init__(membership)
        self.programme_fraction = check_programme_fraction(programme_fraction)
        self.n_masked = max(1, round(programme_fraction * self.n_programmes))
        # sparse genes x programmes copy: the per-step union is a sparse-dense product
        self.membership_t: torch.Tensor
        membership_t = self.membership.t().to(torch.float32).to_sparse().coalesce()
        self.register_buffer("membership_t", membership_t, persistent=False)

    def draw(self, x: torch.Tensor) -> ProgrammeMaskDraw:  # noqa: D102
        self._check(x)
        scores = torch.rand(x.shape[0], self.n_programmes, device=x.device)
        chosen = scores.topk(self.n_masked, dim=1).indices
        selected = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, chosen, True)
        # genes x programmes (sparse) @ programmes x cells: counts of drawn programmes per gene
        counts = torch.sparse.mm(self.membership_t, selected.t().to(self.membership_t.dtype))
        hidden = counts.t() > 0
        return ProgrammeMaskDraw(hidden=hidden, loss=hidden, programmes=selected)


class IsolatedProgrammeMasking(_ProgrammeStrategy):
    """Programme-to-programme masking: each cell sees one programme, the rest is hidden.

    For every cell one programme is drawn uniformly; its genes stay visible, every
    other gene is hidden, and the loss is on all genes outside the visible programme.

    Parameters
    ----------
    membership
        Boolean programmes x genes.

    Examples
    --------
    >>> import torch
    >>> membership = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 0]], dtype=torch.bool)
    >>> draw = IsolatedProgrammeMasking(membership).draw(torch.ones(5, 4))
    >>> bool(((~draw.hidden) == (draw.programmes.float() @ membership.float() > 0)).all())
    True
    """

    name = "gp_to_gp"
    needs = "programmes"

    @classmethod
    def from_settings(cls, programmes=None, *, mask_ratio=0.5, programme_fraction=0.2):  # noqa: D102
        return cls(programmes.membership)

    def draw(self, x: torch.Tensor) -> ProgrammeMaskDraw:  # noqa: D102
        self._check(x)
        index = self._one_per_cell(x)
        visible = self.membership[index]
        hidden = ~visible
        return ProgrammeMaskDraw(
            hidden=hidden, loss=hidden, programmes=self._one_hot(index, self.n_programmes)
        )


class ProgrammeToTFMasking(_ProgrammeStrategy):
    """Programme-to-TF masking: each cell sees one TF's targets and must predict the TF.

    For every cell one TF programme is drawn uniformly; its targets stay visible,
    every other gene (the TF included) is hidden, and the loss is on the TF's
    expression only.

    Parameters
    ----------
    membership
        Boolean programmes x genes: the targets of each TF (the TF itself excluded).
    tf_index
        Gene position of each programme's TF, ``(n_programmes,)``; from
        ``GeneProgrammes.tf_indices()``.

    Examples
    --------
    >>> import torch
    >>> targets = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 1]], dtype=torch.bool)
    >>> strategy = ProgrammeToTFMasking(targets, tf_index=torch.tensor([0, 2]))
    >>> draw = strategy.draw(torch.ones(6, 4))
    >>> draw.loss.sum(1).tolist()
    [1, 1, 1, 1, 1, 1]
    """

    name = "gp_to_tf"
    needs = "tf_programmes"

    @classmethod
    def from_settings(cls, programmes=None, *, mask_ratio=0.5, programme_fraction=0.2):  # noqa: D102
        return cls(programmes.membership, programmes.tf_indices())

    tf_index: torch.Tensor  # gene position of each programme's TF (a buffer)

    def __init__(self, membership, tf_index):
        super().__init__(membership)
        tf_index = torch.as_tensor(np.asarray(tf_index), dtype=torch.long).ravel()
        if tf_index.shape[0] != self.n_programmes:
            raise ValueError(
                f"tf_index has {tf_index.shape[0]} entries for {self.n_programmes} programmes"
            )
        if (tf_index < 0).any() or (tf_index >= self.n_genes).any():
            raise ValueError(
                "tf_index holds positions outside the genes (a TF missing from the data?); "
                "align the programmes to the data first"
            )
        rows = torch.arange(self.n_programmes)
        if self.membership[rows, tf_index].any():
            bad = rows[self.membership[rows, tf_index]].tolist()
            raise ValueError(
                f"programmes {bad[:5]} list their own TF among the visible targets; remove it "
                "(GeneProgrammes.align does)"
            )
        self.register_buffer("tf_index", tf_index, persistent=False)

    def draw(self, x: torch.Tensor) -> ProgrammeMaskDraw:  # noqa: D102
        self._check(x)
        index = self._one_per_cell(x)
        hidden = ~self.membership[index]
        loss = self._one_hot(self.tf_index[index], self.n_genes)
        return ProgrammeMaskDraw(
            hidden=hidden, loss=loss, programmes=self._one_hot(index, self.n_programmes)
        )


#: every masking strategy by its ``name`` (the ``masking=`` option of the models)
MASKING_STRATEGIES: dict[str, type[MaskingStrategy]] = {
    strategy.name: strategy
    for strategy in (
        RandomMasking,
        SharedRandomMasking,
        GeneProgrammeMasking,
        IsolatedProgrammeMasking,
        ProgrammeToTFMasking,
    )
}

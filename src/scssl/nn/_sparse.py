"""Sparse minibatches: CSR tensors from storage to the first layer.

A minibatch of a sparse count matrix arrives as a ``torch.sparse_csr`` tensor
(scvi-tools' ``load_sparse_tensor=True``). The functions here act on its stored
(non-zero) entries only:

- :func:`normalize_sparse_counts` log-normalises the stored values;
- :func:`sparse_linear` is the first layer's product ``x @ W.T`` computed as an
  embedding-bag over the stored gene indices weighted by their values, so its
  cost grows with the non-zero entries, not with all genes;
- :func:`fc_layers_forward` runs a whole scvi-tools ``FCLayers`` stack on a CSR
  input with that first layer, with the same parameters (and so the same
  result) as the dense ``FCLayers.forward``;
- :func:`csr_columns_dense` reads a few columns out as a dense block, for a loss
  that asks for those genes only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scvi.nn import FCLayers
from torch import nn


def is_sparse_csr(x: object) -> bool:
    """Whether ``x`` is a torch tensor in CSR layout.

    Examples
    --------
    >>> import torch
    >>> is_sparse_csr(torch.eye(2).to_sparse_csr()), is_sparse_csr(torch.eye(2))
    (True, False)
    """
    return isinstance(x, torch.Tensor) and x.layout == torch.sparse_csr


def csr_rows(x: torch.Tensor) -> torch.Tensor:
    """Row index of every stored entry of a CSR tensor (same order as ``values()``)."""
    return _entry_rows(x.crow_indices(), x.values().numel())


def _entry_rows(crow: torch.Tensor, n_entries: int) -> torch.Tensor:
    """:func:`csr_rows` from the row pointers alone."""
    rows = torch.arange(crow.numel() - 1, device=crow.device)
    return torch.repeat_interleave(rows, crow.diff(), output_size=n_entries)


def csr_like(x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A CSR tensor with ``x``'s structure and new ``values``."""
    return torch.sparse_csr_tensor(
        x.crow_indices(), x.col_indices(), values, size=x.shape, device=x.device
    )


def csr_stack(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Rows of two CSR tensors with the same columns, one above the other."""
    crow = torch.cat([first.crow_indices(), second.crow_indices()[1:] + first.values().numel()])
    return torch.sparse_csr_tensor(
        crow,
        torch.cat([first.col_indices(), second.col_indices()]),
        torch.cat([first.values(), second.values()]),
        size=(first.shape[0] + second.shape[0], first.shape[1]),
        device=first.device,
    )


def csr_index_rows(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """The rows ``rows`` of a CSR tensor (in that order, repeats allowed), as CSR.

    Reads only the chosen rows' stored entries; indices of the result are int64.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]).to_sparse_csr()
    >>> csr_index_rows(x, torch.tensor([1, 1, 0])).to_dense()
    tensor([[2., 0.],
            [2., 0.],
            [0., 1.]])
    """
    crow = x.crow_indices().to(torch.int64)
    rows = rows.to(device=x.device, dtype=torch.int64)
    starts = crow[rows]
    lengths = crow[rows + 1] - starts
    new_crow = torch.cat([lengths.new_zeros(1), torch.cumsum(lengths, 0)])
    n_entries = int(new_crow[-1])
    out_row = torch.repeat_interleave(
        torch.arange(rows.numel(), device=x.device), lengths, output_size=n_entries
    )
    # each result entry: its source row's start plus its offset within the row
    source = starts[out_row] + torch.arange(n_entries, device=x.device) - new_crow[out_row]
    return torch.sparse_csr_tensor(
        new_crow,
        x.col_indices()[source].to(torch.int64),
        x.values()[source],
        size=(rows.numel(), x.shape[1]),
        device=x.device,
    )


def csr_keep(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Drop the stored entries where ``keep`` is ``False`` (setting them to zero)."""
    # entries kept before each row start = the new row starts
    kept_before = torch.cat([keep.new_zeros(1, dtype=torch.int64), torch.cumsum(keep, 0)])
    crow = kept_before[x.crow_indices().long()]
    return torch.sparse_csr_tensor(
        crow, x.col_indices()[keep], x.values()[keep], size=x.shape, device=x.device
    )


def row_sums(x: torch.Tensor) -> torch.Tensor:
    """Sum of every row of a CSR tensor, as a column vector."""
    out = torch.zeros(x.shape[0], dtype=x.values().dtype, device=x.device)
    return out.index_add_(0, csr_rows(x), x.values()).unsqueeze(1)


def normalize_sparse_counts(
    counts: torch.Tensor, target_sum: float = 1e4, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`~scssl.nn.normalize_counts` for a CSR tensor: only stored entries change.

    ``log1p(0) = 0``, so the zeros stay implicit and the result keeps the structure.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[1.0, 0.0, 3.0]])
    >>> xs, lib = normalize_sparse_counts(x.to_sparse_csr(), target_sum=4.0)
    >>> torch.allclose(xs.to_dense(), torch.log1p(x)), lib.item()
    (True, 4.0)
    """
    values = counts.values().float()
    library = row_sums(csr_like(counts, values))
    scale = (target_sum / (library.squeeze(1) + eps))[csr_rows(counts)]
    return csr_like(counts, torch.log1p(values * scale)), library


class _WeightedBagProduct(torch.autograd.Function):
    """``x @ table`` for a CSR ``x`` whose values need no gradient.

    The table's gradient ``x.T @ grad`` is itself a weighted embedding-bag, over the
    entries grouped by gene, whose table is the small ``grad`` (cells x out). Each
    gene's gradient row is then written once, where the generic embedding-bag backward
    adds the entries one by one into the genes x out gradient (about twice as slow on a
    20k-gene CPU minibatch). Same sums in the same order, so the same result.
    """

    @staticmethod
    def forward(ctx, genes, crow, values, table):  # noqa: D102
        ctx.save_for_backward(genes, crow, values)
        ctx.n_table_rows = table.shape[0]
        return F.embedding_bag(genes, table, crow[:-1], per_sample_weights=values, mode="sum")

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # noqa: D102
        genes, crow, values = ctx.saved_tensors
        by_gene = torch.sort(genes, stable=True).indices  # stable: each gene's cells in order
        cells = _entry_rows(crow, genes.numel())
        per_gene = torch.bincount(genes, minlength=ctx.n_table_rows)
        grad_table = F.embedding_bag(
            cells[by_gene],
            grad_out.contiguous(),
            per_gene.cumsum(0) - per_gene,  # genes with no entry: an empty bag, a zero row
            per_sample_weights=values[by_gene],
            mode="sum",
        )
        return None, None, None, grad_table


def sparse_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x @ weight[:, :n_genes].T`` for a CSR ``x`` (cells x genes), ``weight`` (out x in).

    An embedding-bag over the stored gene indices, weighted by the stored values:
    the work is proportional to the non-zero entries times ``out``, in the forward
    pass and in the weight's gradient. Columns of ``weight`` past ``x``'s genes
    (covariates) are not read. The embedding table is ``weight.T``, copied unless it
    is contiguous already (a :class:`~scssl.nn.GeneMajorLinear`'s weight is).

    Examples
    --------
    >>> import torch
    >>> x, w = torch.tensor([[0.0, 2.0], [1.0, 0.0]]), torch.randn(3, 2)
    >>> torch.allclose(sparse_linear(x.to_sparse_csr(), w), x @ w.T)
    True
    """
    if weight.shape[1] < x.shape[1]:
        raise ValueError(f"weight has {weight.shape[1]} input columns, x has {x.shape[1]} genes")
    genes = x.col_indices().to(torch.int64)
    crow = x.crow_indices().to(torch.int64)
    values = x.values().to(weight.dtype)
    table = weight.T.contiguous()
    if values.requires_grad:  # a gradient for the input too: the generic embedding-bag
        return F.embedding_bag(genes, table, crow[:-1], per_sample_weights=values, mode="sum")
    return _WeightedBagProduct.apply(genes, crow, values, table)


def _one_hot_covariates(fc: FCLayers, cat_list: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """The covariate columns ``FCLayers`` appends to a layer's input, in its order."""
    if len(fc.n_cat_list) > len(cat_list):
        raise ValueError("nb. categorical args provided doesn't match init. params.")
    one_hot = []
    for n_cat, cat in zip(fc.n_cat_list, cat_list, strict=False):
        if n_cat > 1:
            one_hot.append(cat if cat.size(1) == n_cat else F.one_hot(cat.squeeze(-1), n_cat))
    return one_hot


def fc_layers_forward(
    fc: FCLayers,
    x: torch.Tensor,
    *cat_list: torch.Tensor,
    dense_tail: torch.Tensor | None = None,
) -> torch.Tensor:
    """``FCLayers.forward`` of ``torch.cat([x, dense_tail], -1)``, for a dense or CSR ``x``.

    The first linear layer's weight columns are ``[x's columns, dense_tail's,
    covariates']``, as in the call ``fc(torch.cat([x, dense_tail], -1), *cat_list)``.
    A CSR ``x`` is read through its stored entries only (the same result up to float
    summation order). A dense ``x`` gives FCLayers' own result, without the copy of the
    whole input that FCLayers' concatenation makes even when nothing is appended.

    Examples
    --------
    >>> import torch
    >>> from scvi.nn import FCLayers
    >>> fc = FCLayers(5, 4, n_cat_list=[3], n_layers=2).eval()
    >>> x, cat = torch.tensor([[0.0, 1, 0, 2, 0]]), torch.tensor([[2]])
    >>> torch.allclose(fc_layers_forward(fc, x.to_sparse_csr(), cat), fc(x, cat), atol=1e-6)
    True
    """
    sparse = is_sparse_csr(x)
    dtype = x.values().dtype if sparse else x.dtype
    covariates = [c.to(dtype) for c in _one_hot_covariates(fc, cat_list)]
    n_sparse = x.shape[1]
    h = x  # replaced by the first linear layer's output
    for i, layers in enumerate(fc.fc_layers):
        for layer in layers:
            if layer is None:
                continue
            if i == 0 and isinstance(layer, nn.Linear):
                tail = ([dense_tail] if dense_tail is not None else []) + covariates
                if not sparse:
                    h = layer(torch.cat([x, *tail], dim=-1) if tail else x)
                    continue
                # the full-width weight: a slice would cost a zero-filled copy in backward
                h = sparse_linear(x, layer.weight)
                if tail:
                    # rows of the (in x out) transpose: contiguous for a GeneMajorLinear
                    h = h + torch.cat(tail, dim=-1) @ layer.weight.T[n_sparse:]
                if layer.bias is not None:
                    h = h + layer.bias
            elif isinstance(layer, nn.Linear) and fc.inject_into_layer(i):
                h = layer(torch.cat([h, *covariates], dim=-1))
            else:
                h = layer(h)
    return h


def csr_columns_dense(x: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Dense ``(n_rows, len(columns))`` block of a CSR tensor's chosen columns.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    >>> csr_columns_dense(x.to_sparse_csr(), torch.tensor([2, 0]))
    tensor([[3., 0.],
            [0., 1.]])
    """
    rows, positions, chosen = csr_column_positions(x, columns)
    out = torch.zeros(x.shape[0], columns.numel(), dtype=x.values().dtype, device=x.device)
    out[rows, positions] = x.values()[chosen]
    return out


def csr_column_positions(
    x: torch.Tensor, columns: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where the stored entries of ``x`` in ``columns`` fall in a ``(rows, len(columns))`` block.

    Returns the row and the block column of each such entry, and the boolean over all
    stored entries (order of ``values()``) that selects them.
    """
    position = torch.full((x.shape[1],), -1, dtype=torch.int64, device=x.device)
    position[columns] = torch.arange(columns.numel(), device=x.device)
    entry_position = position[x.col_indices().to(torch.int64)]
    chosen = entry_position >= 0
    return csr_rows(x)[chosen], entry_position[chosen], chosen

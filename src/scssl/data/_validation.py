"""Checks on user input that must fail before any training starts."""

from __future__ import annotations

import numpy as np
from anndata import AnnData
from scipy import sparse


def get_matrix(adata: AnnData, layer: str | None = None):
    """Return ``adata.layers[layer]`` or ``adata.X``, with a clear error if it is missing.

    Examples
    --------
    >>> import anndata, numpy as np
    >>> a = anndata.AnnData(np.ones((2, 3)))
    >>> get_matrix(a).shape
    (2, 3)
    """
    if layer is None:
        if adata.X is None:
            raise ValueError("adata.X is empty; pass the raw counts layer with layer=...")
        return adata.X
    if layer not in adata.layers:
        available = ", ".join(map(repr, adata.layers.keys())) or "none"
        raise KeyError(f"layer {layer!r} not found in adata.layers (available: {available}).")
    return adata.layers[layer]


def _values(matrix) -> np.ndarray:
    """The stored values of a dense or sparse matrix (no densification of sparse data)."""
    if sparse.issparse(matrix):
        return np.asarray(matrix.data)
    return np.asarray(matrix)


def check_raw_counts(adata: AnnData, layer: str | None = None, *, max_cells: int | None = None):
    """Fail with a clear message unless the layer holds raw counts.

    Raw counts are finite, non-negative and integer-valued (sparse or dense).

    Parameters
    ----------
    adata
        The AnnData to check.
    layer
        Layer holding the counts; ``None`` means ``adata.X``.
    max_cells
        Check only the first ``max_cells`` rows (for very large data); ``None`` checks all.

    Raises
    ------
    ValueError
        Naming the layer and the problem, for example
        ``layer 'X' holds non-integer values; pass the raw counts layer with layer=...``.

    Examples
    --------
    >>> import anndata, numpy as np
    >>> check_raw_counts(anndata.AnnData(np.array([[0.0, 3.0], [1.0, 2.0]])))
    """
    matrix = get_matrix(adata, layer)
    if max_cells is not None:
        matrix = matrix[:max_cells]
    name = "X" if layer is None else layer
    check_count_values(matrix, f"layer {name!r}", "pass the raw counts layer with layer=...")


def check_count_values(matrix, what: str, hint: str) -> None:
    """Fail unless ``matrix`` (dense or sparse) holds raw counts; name it ``what``, say ``hint``.

    Raw counts are finite, non-negative and integer-valued, and not all zero.

    Examples
    --------
    >>> import numpy as np
    >>> check_count_values(np.array([[0.0, 2.0]]), "matrix", "give counts")
    >>> check_count_values(np.array([[0.5]]), "matrix", "give counts")
    Traceback (most recent call last):
    ...
    ValueError: matrix holds non-integer values (it looks normalised or ...
    """
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {matrix.shape}); nothing to train on.")
    values = _values(matrix)
    if not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"{what} holds non-numeric values ({values.dtype}); {hint}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} holds NaN or infinite values, not raw counts; {hint}")
    if values.size and values.min() < 0:
        raise ValueError(
            f"{what} holds negative values (min {values.min():.3g}); it looks scaled or "
            f"centred, not raw counts; {hint}"
        )
    if not np.issubdtype(values.dtype, np.integer) and not np.all(values == np.round(values)):
        raise ValueError(
            f"{what} holds non-integer values (it looks normalised or log-transformed), "
            f"not raw counts; {hint}"
        )
    if values.size and np.all(values == 0):
        raise ValueError(f"{what} holds only zeros; {hint}")

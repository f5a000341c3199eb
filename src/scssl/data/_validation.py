"""Checks on user input that must fail before any training starts."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def check_count_values(matrix, what: str, hint: str, *, allow_all_zero: bool = False) -> None:
    """Fail unless ``matrix`` (dense or sparse) holds raw counts; name it ``what``, say ``hint``.

    Raw counts are finite, non-negative and integer-valued, and not all zero (unless
    ``allow_all_zero``: a modality that is unmeasured for every cell, as in a query).

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
    any_count = False
    for chunk in _in_memory_chunks(matrix):
        values = _values(chunk)
        _check_count_chunk(values, what, hint)
        any_count = any_count or bool(values.size and np.any(values != 0))
    if not any_count and not allow_all_zero:
        raise ValueError(f"{what} holds only zeros; {hint}")


def _in_memory_chunks(matrix, rows: int = 50_000):
    """The matrix itself, or for a backed (on-disk) one its rows in in-memory chunks."""
    if sparse.issparse(matrix) or isinstance(matrix, np.ndarray):
        yield matrix
        return
    for start in range(0, matrix.shape[0], rows):
        yield matrix[start : start + rows]


def _check_count_chunk(values: np.ndarray, what: str, hint: str) -> None:
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


def check_unique_names(adata: AnnData) -> None:
    """Fail on duplicated gene or cell names (they would make results ambiguous).

    Examples
    --------
    >>> import anndata, numpy as np
    >>> check_unique_names(anndata.AnnData(np.ones((2, 2))))
    """
    for axis, names, fix in (
        ("gene", adata.var_names, "adata.var_names_make_unique()"),
        ("cell", adata.obs_names, "adata.obs_names_make_unique()"),
    ):
        if names.has_duplicates:
            duplicated = names[names.duplicated()].unique()[:5].tolist()
            raise ValueError(f"duplicated {axis} names, e.g. {duplicated}; call {fix} first")


def check_obs_columns(
    adata: AnnData,
    categorical: dict[str, str | list[str] | None],
    continuous: dict[str, list[str] | None] | None = None,
) -> None:
    """Fail on obs columns a model cannot use as categories or as continuous covariates.

    ``categorical`` and ``continuous`` map argument names (``batch_key``,
    ``continuous_covariate_keys``, ...) to the column(s) they name. Lists must be
    lists; categorical columns may not hold missing values, and a float column with
    a distinct value for most cells is refused (it would become one category per
    cell); continuous columns must be finite numbers.

    Examples
    --------
    >>> import anndata, numpy as np, pandas as pd
    >>> a = anndata.AnnData(np.ones((3, 2)), obs=pd.DataFrame({"b": ["x", None, "y"]}))
    >>> check_obs_columns(a, {"batch_key": "b"})
    Traceback (most recent call last):
    ...
    ValueError: adata.obs['b'] (batch_key) has 1 missing values (NaN); ...
    """
    for argument, value in {**categorical, **(continuous or {})}.items():
        if argument.endswith("_keys") and isinstance(value, str):
            raise TypeError(f"{argument} takes a list of column names, e.g. [{value!r}]")
    for argument, value in categorical.items():
        for key in [value] if isinstance(value, str) else (value or []):
            column = adata.obs[key]
            n_missing = int(column.isna().sum())
            if n_missing:
                raise ValueError(
                    f"adata.obs[{key!r}] ({argument}) has {n_missing} missing values (NaN); "
                    "fill them (for example with 'unknown') or drop those cells"
                )
            n_unique = column.nunique()
            if pd.api.types.is_float_dtype(column) and n_unique > max(50, adata.n_obs // 2):
                raise ValueError(
                    f"adata.obs[{key!r}] ({argument}) is a float column with {n_unique} "
                    "distinct values: as categories it would give almost one per cell. Pass "
                    "categories (adata.obs[key].astype(str)) if that is meant, or use it as a "
                    "continuous covariate"
                )
    for argument, value in (continuous or {}).items():
        for key in value or []:
            column = adata.obs[key]
            if not pd.api.types.is_numeric_dtype(column):
                raise ValueError(f"adata.obs[{key!r}] ({argument}) is not numeric")
            if not np.isfinite(column.to_numpy(dtype=float)).all():
                raise ValueError(
                    f"adata.obs[{key!r}] ({argument}) holds NaN or infinite values; a single "
                    "one would make every weight NaN in training. Fill or drop them"
                )

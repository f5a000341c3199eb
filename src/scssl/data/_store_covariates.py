"""Covariates of an on-disk collection's cells, read from every file's ``obs``.

Batch, categorical and continuous covariates are one number per cell and key, so the
collection keeps them in memory (a million cells x a few keys is a few MB) while the
counts stay on disk. Categories are the sorted union over the files, as scvi-tools
orders them for a column that is not yet categorical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anndata
import numpy as np
import pandas as pd


def read_obs_column(obs, key: str, path: Path, role: str) -> pd.Series:
    """Column ``key`` of a file's ``obs`` group; missing columns or values are refused."""
    if key not in obs:
        raise KeyError(f"{role}={key!r} is not a column of {path}'s obs")
    column = pd.Series(anndata.io.read_elem(obs[key]))
    if column.isna().any():
        raise ValueError(f"{path}: obs[{key!r}] ({role}) has missing values")
    return column


def category_codes(labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Sorted categories of ``labels`` and each label's int64 code (batch and covariates)."""
    categories = sorted(set(labels))
    return categories, pd.Categorical(labels, categories=categories).codes.astype(np.int64)


@dataclass
class StoreCovariates:
    """Categorical and continuous covariates of all cells of a collection, in memory.

    Attributes
    ----------
    categorical_keys, continuous_keys
        The ``obs`` columns, in the order of the minibatch tensors' columns.
    categories
        Per categorical key, its categories (sorted union over the files).
    codes
        ``(n_cells, n_categorical)`` category codes.
    values
        ``(n_cells, n_continuous)`` float32 values.
    """

    categorical_keys: tuple[str, ...] = ()
    continuous_keys: tuple[str, ...] = ()
    categories: dict[str, list[str]] = field(default_factory=dict)
    codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    @property
    def keys(self) -> tuple[str, ...]:
        """Every covariate column, categorical first."""
        return (*self.categorical_keys, *self.continuous_keys)

    @classmethod
    def from_columns(
        cls,
        columns: Sequence[dict[str, pd.Series]],
        categorical_keys: Sequence[str],
        continuous_keys: Sequence[str],
        paths: Sequence[Path],
        n_cells: int,
    ) -> StoreCovariates:
        """Stack each file's columns (``columns[i][key]``, as :func:`read_obs_column` read them)."""
        categories, codes = {}, np.zeros((n_cells, len(categorical_keys)), dtype=np.int64)
        for j, key in enumerate(categorical_keys):
            labels = np.concatenate([c[key].astype(str).to_numpy() for c in columns])
            categories[key], codes[:, j] = category_codes(labels)
        values = np.zeros((n_cells, len(continuous_keys)), dtype=np.float32)
        for j, key in enumerate(continuous_keys):
            parts = []
            for path, file_columns in zip(paths, columns, strict=True):
                column = file_columns[key]
                if not pd.api.types.is_numeric_dtype(column):
                    raise TypeError(
                        f"{path}: obs[{key!r}] (continuous_covariate_keys) is not numeric "
                        f"({column.dtype}); list it in categorical_covariate_keys instead"
                    )
                parts.append(column.to_numpy(dtype=np.float64))
            stacked = np.concatenate(parts)
            if not np.isfinite(stacked).all():
                raise ValueError(f"obs[{key!r}] (continuous_covariate_keys) is not finite")
            values[:, j] = stacked
        return cls(tuple(categorical_keys), tuple(continuous_keys), categories, codes, values)

    def obs_columns(self, rows: np.ndarray) -> dict[str, pd.Series | np.ndarray]:
        """The covariates of ``rows`` as ``obs`` columns (categoricals with every category)."""
        out: dict[str, pd.Series | np.ndarray] = {}
        for j, key in enumerate(self.categorical_keys):
            labels = np.asarray(self.categories[key])[self.codes[rows, j]]
            out[key] = pd.Categorical(labels, categories=self.categories[key])
        for j, key in enumerate(self.continuous_keys):
            out[key] = self.values[rows, j]
        return out

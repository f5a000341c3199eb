"""Checks of the positive-partner positions a contrastive model reads (MNN column, kNN matrix)."""

from __future__ import annotations

import numpy as np
from anndata import AnnData


def check_partner_positions(values: np.ndarray, where: str, n_obs: int, fix: str) -> None:
    """Partner positions must be integer rows of this AnnData (``-1`` for none)."""
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{where} must hold integer row positions; {fix}")
    if values.size and (values.min() < -1 or values.max() >= n_obs):
        raise ValueError(
            f"{where} holds positions outside [-1, {n_obs - 1}] "
            f"(was the AnnData subset after computing partners?); {fix}"
        )


def check_mnn_column(
    adata: AnnData, mnn_key: str, batch_key: str | None, batches: np.ndarray | None = None
) -> None:
    """MNN partners: row positions of this AnnData, each in another batch.

    ``batches`` is every cell's batch when it is not ``adata.obs[batch_key]`` (a MuData
    whose batch lives in another modality).
    """
    values = adata.obs[mnn_key].to_numpy()
    fix = "recompute it on this AnnData with scssl.tl.mnn_pairs(adata, batch_key=...)"
    check_partner_positions(values, f"adata.obs[{mnn_key!r}]", adata.n_obs, fix)
    if batch_key is not None:
        if batches is None:
            batches = adata.obs[batch_key].to_numpy()
        has = values >= 0
        if np.any(batches[has] == batches[values[has]]):
            raise ValueError(
                f"adata.obs[{mnn_key!r}] pairs cells of the same {batch_key!r}; MNN partners "
                f"must come from another batch; {fix}"
            )


def check_knn_matrix(adata: AnnData, knn_key: str) -> None:
    """KNN partners: cells x neighbours row positions of this AnnData."""
    if knn_key not in adata.obsm:
        raise KeyError(f"knn_key={knn_key!r} is not a key of adata.obsm")
    values = np.asarray(adata.obsm[knn_key])
    where = f"adata.obsm[{knn_key!r}]"
    if values.ndim != 2:
        raise ValueError(f"{where} must be cells x neighbours, got shape {values.shape}")
    fix = "recompute it on this AnnData with scssl.tl.knn_pairs(adata)"
    check_partner_positions(values, where, adata.n_obs, fix)

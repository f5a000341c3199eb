"""``scssl.tl.transfer_labels``: zero-shot kNN label transfer between two embeddings."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from anndata import AnnData

from scssl._constants import OUTPUT_KEYS
from scssl.metrics import knn_vote, nearest_neighbors
from scssl.metrics._neighbors import NeighbourSearch


def _embedding(adata: AnnData, key: str, name: str) -> np.ndarray:
    if key not in adata.obsm:
        raise KeyError(
            f"{name}.obsm[{key!r}] not found (available: {list(adata.obsm.keys())}); "
            "compute the embedding first, e.g. "
            f"{name}.obsm[{key!r}] = model.get_latent_representation({name})"
        )
    values = np.asarray(adata.obsm[key], dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"{name}.obsm[{key!r}] must be 2-D, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}.obsm[{key!r}] holds NaN or infinite values")
    return values


def transfer_labels(
    adata_ref: AnnData,
    adata_query: AnnData,
    *,
    use_rep: str,
    labels_key: str,
    k: int = 15,
    key_added: str | None = None,
    query_rep: str | None = None,
    unlabeled_category: str | None = None,
    method: NeighbourSearch = "auto",
    random_state: int = 0,
    n_jobs: int | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Zero-shot label transfer: majority vote of each query cell's nearest reference cells.

    Both AnnData must hold embeddings in the same space (the same model applied to
    both, or a query mapped with ``load_query_data``). The predicted label goes to
    ``adata_query.obs[key_added]`` and its uncertainty, the share of the ``k``
    neighbours whose label differs from the prediction (0 = unanimous), to
    ``adata_query.obs[key_added + "_uncertainty"]``.

    Parameters
    ----------
    adata_ref
        Reference cells with labels in ``.obs[labels_key]`` and an embedding in
        ``.obsm[use_rep]``.
    adata_query
        Query cells with an embedding in ``.obsm[query_rep or use_rep]``.
    use_rep
        ``.obsm`` key of the reference embedding (and of the query's, unless ``query_rep``).
    labels_key
        Column of ``adata_ref.obs`` with the labels to transfer.
    k
        Number of neighbours.
    key_added
        Query ``.obs`` column for the prediction; default ``f"{labels_key}_transferred"``.
    query_rep
        ``.obsm`` key of the query embedding if it differs from ``use_rep``.
    unlabeled_category
        Reference cells with this label (or a missing label) are not used as neighbours.
    method
        Nearest-neighbour search: ``"exact"`` (scikit-learn), ``"pynndescent"``
        (approximate index), or ``"auto"`` (exact for small data).
    random_state
        Seed of the approximate index.
    n_jobs
        Threads of the neighbour search.
    copy
        Write into a copy of ``adata_query`` and return it.

    Returns
    -------
    ``None``, or the query copy when ``copy=True``. Parameters go to
    ``adata_query.uns[key_added]["params"]``.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> adata.obsm["X_pca"] = scssl.tl.pca_embedding(adata, layer="counts", n_comps=20)
    >>> ref, query = adata[:500].copy(), adata[500:].copy()
    >>> scssl.tl.transfer_labels(ref, query, use_rep="X_pca", labels_key="bulk_labels")
    >>> query.obs[["bulk_labels_transferred", "bulk_labels_transferred_uncertainty"]].shape
    (200, 2)
    """
    if labels_key not in adata_ref.obs:
        raise KeyError(
            f"labels_key={labels_key!r} is not a column of adata_ref.obs "
            f"(columns: {', '.join(map(str, adata_ref.obs.columns[:20]))})"
        )
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    reference = _embedding(adata_ref, use_rep, "adata_ref")
    query = _embedding(adata_query, query_rep or use_rep, "adata_query")
    if reference.shape[1] != query.shape[1]:
        raise ValueError(
            f"reference embedding has {reference.shape[1]} dimensions but the query's has "
            f"{query.shape[1]}; embed both with the same model"
        )
    labels = adata_ref.obs[labels_key]
    usable = labels.notna().to_numpy()
    if unlabeled_category is not None:
        usable &= (labels.astype(str) != str(unlabeled_category)).to_numpy()
    if usable.sum() == 0:
        raise ValueError(f"no labelled reference cells in adata_ref.obs[{labels_key!r}]")
    reference = reference[usable]
    codes, classes = pd.factorize(labels[usable].astype(str), sort=True)
    k_used = min(int(k), reference.shape[0])

    start = time.perf_counter()
    indices, _ = nearest_neighbors(reference, query, k_used, method, random_state, n_jobs)
    winner, agreement = knn_vote(codes[indices], len(classes))  # ties: alphabetically first
    uncertainty = 1.0 - agreement
    seconds = time.perf_counter() - start

    if copy:
        adata_query = adata_query.copy()
    key_added = key_added or f"{labels_key}{OUTPUT_KEYS.TRANSFERRED_SUFFIX}"
    adata_query.obs[key_added] = pd.Categorical.from_codes(winner, categories=classes)
    adata_query.obs[f"{key_added}{OUTPUT_KEYS.UNCERTAINTY_SUFFIX}"] = uncertainty.astype(np.float32)
    adata_query.uns[key_added] = {
        "params": {
            "use_rep": use_rep,
            "query_rep": query_rep or use_rep,
            "labels_key": labels_key,
            "k": k_used,
            "method": method,
            "n_reference_cells": int(usable.sum()),
        },
        "seconds": float(seconds),
    }
    return adata_query if copy else None

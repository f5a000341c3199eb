"""The PCA baseline every benchmark compares against, defined once."""

from __future__ import annotations

import numpy as np
from anndata import AnnData
from scipy import sparse

from scssl.data import get_matrix, log_normalize


def pca_embedding(
    adata: AnnData, *, layer: str | None = None, n_comps: int = 50, seed: int = 0
) -> np.ndarray:
    """PCA of log1p(counts normalised to 1e4 per cell), the scanpy default recipe.

    The AnnData is not modified; returns ``(n_cells, n_comps)``.

    Examples
    --------
    >>> import scssl
    >>> scssl.tl.pca_embedding(scssl.data.pbmc68k_counts(), n_comps=10).shape
    (700, 10)
    """
    import scanpy as sc

    counts = get_matrix(adata, layer)
    counts = (
        counts.astype(np.float32) if sparse.issparse(counts) else np.asarray(counts, np.float32)
    )
    work = AnnData(X=log_normalize(counts))  # the normalisation the models use
    n_comps = min(n_comps, min(work.shape) - 1)
    sc.pp.pca(work, n_comps=n_comps, random_state=seed)
    return np.asarray(work.obsm["X_pca"])

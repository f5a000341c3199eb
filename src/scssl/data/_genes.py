"""Gene selection: the highly variable genes the benchmarks train on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from ._validation import get_matrix

#: Genes scssl selects by default (``seurat_v3`` on counts, batch-aware): the benchmarks'
#: setting, under which MaskedAE beats PCA on Baron (0.818 vs 0.797 leave-one-donor-out
#: macro-F1, ``benchmarks/results/masked_ae_baron.md``) while on all 20,125 genes it does
#: not (0.793 vs 0.821, ``benchmarks/results/scale_sparse_quality.md``).
DEFAULT_N_TOP_GENES = 2000


def highly_variable_genes(
    adata: AnnData,
    *,
    layer: str | None = None,
    batch_key: str | None = None,
    n_top_genes: int = DEFAULT_N_TOP_GENES,
) -> pd.Index:
    """Names of the ``n_top_genes`` highly variable genes, in ``adata``'s gene order.

    scanpy's ``seurat_v3`` on raw counts (batch-aware with ``batch_key``), after dropping
    genes detected in fewer than 3 cells; ``adata`` is not modified. With
    ``n_top_genes >= adata.n_vars`` every gene is returned.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> len(highly_variable_genes(adata, layer="counts", n_top_genes=300))
    300
    """
    if n_top_genes < 1:
        raise ValueError(f"n_top_genes must be at least 1, got {n_top_genes}")
    if n_top_genes >= adata.n_vars:
        return pd.Index(adata.var_names)
    obs = adata.obs[[batch_key]].copy() if batch_key is not None else None
    work = AnnData(X=get_matrix(adata, layer), obs=obs, var=pd.DataFrame(index=adata.var_names))
    detected = np.asarray((work.X > 0).sum(axis=0)).ravel() >= 3
    work = work[:, detected].copy()
    n_top_genes = min(n_top_genes, work.n_vars)
    sc.pp.highly_variable_genes(
        work, n_top_genes=n_top_genes, flavor="seurat_v3", batch_key=batch_key
    )
    chosen = set(work.var_names[work.var["highly_variable"].to_numpy()])
    return pd.Index([g for g in adata.var_names if g in chosen])


def describe_gene_selection(n_used: int, n_available: int, batch_key: str | None) -> str:
    """How a report states the genes a model was trained on.

    Examples
    --------
    >>> describe_gene_selection(2000, 20125, "donor")
    '2000 of 20125 genes: highly variable (seurat_v3 on counts, batch-aware by donor)'
    >>> describe_gene_selection(765, 765, None)
    'all genes'
    """
    if n_used >= n_available:
        return "all genes"
    batch = f", batch-aware by {batch_key}" if batch_key else ""
    return f"{n_used} of {n_available} genes: highly variable (seurat_v3 on counts{batch})"

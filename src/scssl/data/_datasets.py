"""Example datasets: scanpy's bundled PBMCs and the project's shared real data.

The shared data folder is found through the ``SCSSL_DATA_DIR`` environment
variable; it defaults to ``../shared/data`` relative to the repository root.
Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def data_dir() -> Path:
    """Folder holding the shared real datasets (``$SCSSL_DATA_DIR`` or ``../shared/data``).

    Examples
    --------
    >>> import scssl
    >>> scssl.data.data_dir().name
    'data'
    """
    path = Path(os.environ.get("SCSSL_DATA_DIR", _DEFAULT_DATA_DIR)).resolve()
    return path


def _read_shared(relative: str) -> AnnData:
    path = data_dir() / relative
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found. Set SCSSL_DATA_DIR to the folder holding the shared data "
            f"(it must contain {relative!r})."
        )
    return ad.read_h5ad(path)


def pbmc68k_counts() -> AnnData:
    """Scanpy's bundled ``pbmc68k_reduced`` with its integer counts recovered.

    The counts are ``round(expm1(adata.raw.X) * n_counts / 1e4)``, which recovers
    the original UMI counts exactly. Returns 700 cells x 765 genes with counts in
    ``X`` and ``layers['counts']``, labels in ``obs['bulk_labels']``.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> adata.shape
    (700, 765)
    """
    import scanpy as sc

    ref = sc.datasets.pbmc68k_reduced()
    log_norm = ref.raw.X
    log_norm = log_norm.toarray() if sparse.issparse(log_norm) else np.asarray(log_norm)
    n_counts = ref.obs["n_counts"].to_numpy()[:, None]
    counts = np.round(np.expm1(log_norm) * n_counts / 1e4).astype(np.float32)
    adata = AnnData(
        X=sparse.csr_matrix(counts),
        obs=ref.obs[["bulk_labels", "n_counts", "phase"]].copy(),
        var=ref.raw.var[[]].copy(),
    )
    adata.layers["counts"] = adata.X.copy()
    return adata


def baron_pancreas() -> AnnData:
    """Baron et al. 2016 human pancreas (2142 cells, 4 donors, 14 cell types), raw counts.

    Labels in ``obs['cell_type1']``, donors in ``obs['donor']``.
    """
    return _read_shared("scrna/baron_human_pancreas.h5ad")


def pbmc_3tech() -> AnnData:
    """10x PBMCs from three chemistries (2000 cells), raw counts.

    Labels in ``obs['cell_type']``, chemistries in ``obs['tech']``.
    """
    return _read_shared("scrna/pbmc_3tech.h5ad")


def mouse_pancreas() -> AnnData:
    """Mouse pancreas endocrinogenesis (Bastidas-Ponce et al. 2019; 3696 cells, 2000 genes).

    Spliced counts in ``X`` (mouse gene symbols), unspliced in ``layers['unspliced']``,
    eight stages from ductal cells to endocrine types in ``obs['cell_type_inferred']``;
    one batch.
    """
    return _read_shared("scrna/mouse_pancreas_endocrinogenesis.h5ad")


def cite_pbmc() -> AnnData:
    """Two 10x CITE-seq PBMC sets (200 cells each) as one AnnData with RNA and protein counts.

    RNA counts of the genes both files hold in ``X``; counts of the 14 antibodies
    both panels share in ``obsm['protein_expression']`` (a data frame named by
    antibody); the file of origin in ``obs['batch']`` (``pbmc_10k``, ``pbmc_5k``).
    """
    names = {"pbmc_10k": "pbmc_10k_protein_v3.h5ad", "pbmc_5k": "pbmc_5k_protein_v3.h5ad"}
    parts = {batch: _read_shared(f"scrna/cite_pbmc/{file}") for batch, file in names.items()}
    proteins = [
        {str(n): i for i, n in enumerate(part.uns["protein_names"])} for part in parts.values()
    ]
    shared = [name for name in proteins[0] if all(name in p for p in proteins[1:])]
    tables = []
    for (batch, part), positions in zip(parts.items(), proteins, strict=True):
        part.obs = part.obs[[]].assign(batch=batch)
        part.obs_names = [f"{name}-{batch}" for name in part.obs_names]
        values = np.asarray(part.obsm["protein_expression"])[:, [positions[n] for n in shared]]
        tables.append(pd.DataFrame(values, index=part.obs_names, columns=shared))
        del part.obsm["protein_expression"]
    adata = ad.concat(list(parts.values()), join="inner")
    adata.obs["batch"] = pd.Categorical(adata.obs["batch"])
    adata.obsm["protein_expression"] = pd.concat(tables).loc[adata.obs_names].astype(np.float32)
    return adata


def human_mouse_orthologues() -> Path:
    """Path of the 1:1 human-mouse orthologue table (columns ``human.gene.name``, ``gene.name``).

    Pass it as ``gene_map=`` to map a mouse query onto a human reference or back.
    """
    path = data_dir() / "genes" / "orthologs_human_mouse_1to1.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found. Set SCSSL_DATA_DIR to the shared data folder.")
    return path

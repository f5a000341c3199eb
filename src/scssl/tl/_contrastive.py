"""``scssl.tl.contrastive``, ``mnn_pairs`` and ``knn_pairs``: joint-embedding SSL on AnnData."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from scssl._constants import OUTPUT_KEYS
from scssl._options import ContrastiveMethod, check_option
from scssl.data import DEFAULT_N_TOP_GENES

from ._fit import fit_embedding
from ._pca import pca_embedding


def _normalised_pca(adata: AnnData, layer: str | None, n_comps: int, seed: int) -> np.ndarray:
    """The space partners are searched in: PCA of log-normalised counts, rows of norm 1."""
    embedding = pca_embedding(adata, layer=layer, n_comps=n_comps, seed=seed)
    return embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)


def mnn_pairs(
    adata: AnnData,
    *,
    batch_key: str,
    layer: str | None = None,
    n_comps: int = 30,
    k: int = 20,
    key_added: str = OUTPUT_KEYS.MNN_PARTNER,
    seed: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """Find, for each cell, a mutual nearest neighbour in another batch.

    Neighbours are searched in the L2-normalised PCA of log-normalised counts
    (:func:`scssl.tl.pca_embedding`), between every pair of batches
    (:func:`scssl.metrics.mutual_nearest_neighbors`). The partner's row position (or
    ``-1``) is written to ``adata.obs[key_added]``: pass it as ``mnn_key`` to
    :meth:`scssl.model.Contrastive.setup_anndata` and set ``mnn_prob`` to use
    partners as positive pairs. Positions refer to this AnnData: recompute after
    subsetting.

    Parameters
    ----------
    adata
        AnnData with raw counts in ``X`` or ``layer``.
    batch_key
        Column of ``adata.obs`` with the batch.
    layer
        Layer with raw counts.
    n_comps
        Principal components used for the search.
    k
        Neighbours searched in each other batch.
    key_added
        ``adata.obs`` column to write.
    seed
        Seed of the PCA and of the choice among several partners.
    copy
        Work on a copy and return it.

    Returns
    -------
    ``None`` or the copy; writes ``.obs[key_added]`` and ``.uns[key_added]["params"]``.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> scssl.tl.mnn_pairs(adata, batch_key="phase", layer="counts")
    >>> int((adata.obs["scssl_mnn_partner"] >= 0).sum()) > 0
    True
    """
    from scssl.metrics import mutual_nearest_neighbors

    if batch_key not in adata.obs:
        raise KeyError(f"batch_key={batch_key!r} is not a column of adata.obs")
    if adata.obs[batch_key].isna().any():
        n_missing = int(adata.obs[batch_key].isna().sum())
        raise ValueError(f"adata.obs[{batch_key!r}] has {n_missing} missing values (NaN)")
    if adata.obs[batch_key].nunique() < 2:
        raise ValueError(f"adata.obs[{batch_key!r}] has one batch; MNN pairs need two or more")
    if copy:
        adata = adata.copy()
    n_comps = min(n_comps, adata.n_obs - 1, adata.n_vars - 1)
    embedding = _normalised_pca(adata, layer, n_comps, seed)
    partner = mutual_nearest_neighbors(embedding, adata.obs[batch_key].to_numpy(), k=k, seed=seed)
    adata.obs[key_added] = partner
    adata.uns[key_added] = {
        "params": {"batch_key": batch_key, "layer": layer, "n_comps": n_comps, "k": k},
        "fraction_with_partner": float((partner >= 0).mean()),
    }
    return adata if copy else None


def knn_pairs(
    adata: AnnData,
    *,
    layer: str | None = None,
    n_comps: int = 30,
    k: int = 10,
    key_added: str = OUTPUT_KEYS.KNN_PARTNERS,
    seed: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """Find each cell's nearest neighbours, to use as positive partners.

    Neighbours (the cell itself excluded) are searched, in any batch, in the
    L2-normalised PCA of log-normalised counts (:func:`scssl.tl.pca_embedding`),
    by exact search for small data and pynndescent above. Their row positions,
    cells x ``k``, go to ``adata.obsm[key_added]``: pass it as ``knn_key`` to
    :meth:`scssl.model.Contrastive.setup_anndata` and set ``knn_prob`` to use a
    neighbour, drawn anew at every step, as a cell's second view. Positions refer to
    this AnnData: recompute after subsetting.

    Parameters
    ----------
    adata
        AnnData with raw counts in ``X`` or ``layer``.
    layer
        Layer with raw counts.
    n_comps
        Principal components used for the search.
    k
        Neighbours kept per cell.
    key_added
        ``adata.obsm`` key to write.
    seed
        Seed of the PCA and of the approximate search.
    copy
        Work on a copy and return it.

    Returns
    -------
    ``None`` or the copy; writes ``.obsm[key_added]`` and ``.uns[key_added]["params"]``.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> scssl.tl.knn_pairs(adata, layer="counts", k=5)
    >>> adata.obsm["scssl_knn_partners"].shape
    (700, 5)
    """
    from scssl.metrics import nearest_neighbors

    if not 1 <= k < adata.n_obs:
        raise ValueError(f"k must lie in [1, {adata.n_obs - 1}] (cells - 1), got {k}")
    if copy:
        adata = adata.copy()
    n_comps = min(n_comps, adata.n_obs - 1, adata.n_vars - 1)
    embedding = _normalised_pca(adata, layer, n_comps, seed)
    # k + 1: the nearest point is normally the cell itself, dropped below
    found, _ = nearest_neighbors(embedding, embedding, k=k + 1, random_state=seed)
    own = found == np.arange(adata.n_obs)[:, None]
    # drop the cell itself; where it was not found (exact duplicates), drop the farthest
    own[~own.any(axis=1), -1] = True
    neighbours = found[~own].reshape(adata.n_obs, k).astype(np.int64)
    adata.obsm[key_added] = neighbours
    adata.uns[key_added] = {"params": {"layer": layer, "n_comps": n_comps, "k": k}}
    return adata if copy else None


def _wants_default_knn(knn_key: str | None, model_kwargs: dict) -> bool:
    """Whether :func:`contrastive` must compute kNN partners the user did not give."""
    if knn_key is not None:
        return False
    knn_prob = model_kwargs.get("knn_prob")  # None: the model's default, which uses them
    return knn_prob is None or knn_prob > 0 or model_kwargs.get("hard_negative_fraction", 0) > 0


def _default_knn_partners(work: AnnData) -> dict[str, str]:
    """KNN partners with :func:`knn_pairs`'s defaults on the training copy; setup keys."""
    knn_pairs(work, key_added=OUTPUT_KEYS.KNN_PARTNERS)
    return {"knn_key": OUTPUT_KEYS.KNN_PARTNERS}


def contrastive(
    adata: AnnData,
    *,
    method: ContrastiveMethod = "simclr",
    layer: str | None = None,
    batch_key: str | None = None,
    mnn_key: str | None = None,
    knn_key: str | None = None,
    key_added: str | None = None,
    copy: bool = False,
    model_kwargs: dict | None = None,
    return_model: bool = False,
    n_top_genes: int | None = DEFAULT_N_TOP_GENES,
    **train_kwargs,
):
    """Train a :class:`~scssl.model.Contrastive` model and store its embedding in ``adata.obsm``.

    Parameters
    ----------
    adata
        AnnData with raw counts in ``X`` or ``layer``.
    method
        ``"simclr"`` (default), ``"byol"``, ``"barlow_twins"`` or ``"vicreg"``.
    layer
        Layer with raw counts.
    batch_key
        Column of ``adata.obs`` with the batch: every training minibatch is then drawn
        from one batch (``dataset_aware``; ``model_kwargs={"encode_covariates": True}``
        also puts the batch into the encoder). Without it nothing batch-related happens.
    mnn_key
        Column written by :func:`mnn_pairs`; use with ``model_kwargs={"mnn_prob": ...}``.
    knn_key
        ``adata.obsm`` key written by :func:`knn_pairs`. Default ``None``: the
        partners are computed with :func:`knn_pairs`'s defaults on the training genes,
        in the training copy only (``adata`` gets no ``.obsm`` entry for them), unless
        ``model_kwargs`` turns kNN partners off (``knn_prob=0``) and asks for no hard
        negatives.
    key_added
        ``adata.obsm`` key of the embedding (default ``"X_scssl_<method>"``); the
        parameters go to ``adata.uns[key_added.removeprefix("X_")]["params"]``.
    copy
        Work on a copy and return it.
    model_kwargs
        Arguments of :class:`~scssl.model.Contrastive` (``n_latent``, ``mask_fraction``, ...).
    return_model
        Also return the trained model (as the last element of a tuple).
    n_top_genes
        Train on this many highly variable genes (``seurat_v3`` on counts, batch-aware
        with ``batch_key``), the setting of the benchmarks; ``None``: all genes. The
        chosen genes go to ``.uns[...]["genes"]``.
    **train_kwargs
        Arguments of :meth:`~scssl.model.Contrastive.train` (``max_epochs``, ...).

    Returns
    -------
    ``None`` (or the copy if ``copy=True``); with ``return_model=True`` a tuple
    ``(adata_or_None, model)``. Only ``.obsm[key_added]`` and ``.uns[...]`` are written.

    Notes
    -----
    The defaults (SimCLR, kNN partners as second view half of the time, dataset-aware
    minibatches with ``batch_key``) won a rule fixed before the run, leave-one-dataset-out
    over four real sets; see :class:`~scssl.model.Contrastive` and
    ``benchmarks/results/contrastive_defaults.md``.

    Examples
    --------
    >>> import scanpy as sc, scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> scssl.tl.contrastive(adata, layer="counts", max_epochs=20)
    >>> sc.pp.neighbors(adata, use_rep="X_scssl_simclr")
    """
    from scssl.model import Contrastive

    check_option("method", method, ContrastiveMethod)
    model_kwargs = dict(model_kwargs or {})
    if "method" in model_kwargs:
        raise TypeError("give the method as contrastive(method=...), not in model_kwargs")
    return fit_embedding(
        adata,
        Contrastive,
        layer=layer,
        setup_keys={"batch_key": batch_key, "mnn_key": mnn_key},
        obsm_setup_keys={"knn_key": knn_key},
        derive_obsm=_default_knn_partners if _wants_default_knn(knn_key, model_kwargs) else None,
        key_added=key_added or f"{OUTPUT_KEYS.CONTRASTIVE_PREFIX}{method}",
        copy=copy,
        model_kwargs={"method": method, **model_kwargs},
        train_kwargs=train_kwargs,
        return_model=return_model,
        n_top_genes=n_top_genes,
    )

"""``scssl.tl.masked_ae``: train a MaskedAE and write its embedding into AnnData."""

from __future__ import annotations

from typing import Literal

import numpy as np
from anndata import AnnData

from scssl._constants import OUTPUT_KEYS
from scssl._options import MaskingKind, check_option
from scssl.data import DEFAULT_N_TOP_GENES, GeneProgrammes
from scssl.nn import MASKING_STRATEGIES

from ._fit import fit_embedding


def _programme_params(model) -> dict:
    """Programme names (and TFs) the model trained with, as h5ad-writable arrays."""
    programmes = getattr(model, "programmes_", None)
    if programmes is None:
        return {}
    params = {"programme_names": np.asarray(programmes.names, dtype=object)}
    if programmes.tfs is not None:
        params["programme_tfs"] = np.asarray(list(programmes.tfs.values()), dtype=object)
    return params


def masked_ae(
    adata: AnnData,
    *,
    layer: str | None = None,
    batch_key: str | None = None,
    key_added: str = OUTPUT_KEYS.MASKED_AE,
    copy: bool = False,
    masking: MaskingKind = "random",
    programmes: GeneProgrammes | dict[str, list[str]] | None = None,
    model_kwargs: dict | None = None,
    return_model: bool = False,
    n_top_genes: int | None | Literal["auto"] = "auto",
    **train_kwargs,
):
    """Train a :class:`~scssl.model.MaskedAE` and store its embedding in ``adata.obsm``.

    Parameters
    ----------
    adata
        AnnData with raw counts in ``X`` or ``layer``.
    layer
        Layer with raw counts.
    batch_key
        Column of ``adata.obs`` with the batch, given to the decoder.
    key_added
        ``adata.obsm`` key of the embedding; the parameters go to
        ``adata.uns[key_added.removeprefix("X_")]["params"]``.
    copy
        Work on a copy and return it.
    masking
        ``"random"``, ``"random_shared"``, ``"gene_programme"``, ``"gp_to_gp"`` or ``"gp_to_tf"``
        (see :class:`~scssl.model.MaskedAE`).
    programmes
        Gene programmes for the programme strategies: a
        :class:`~scssl.data.GeneProgrammes` (TF programmes for ``"gp_to_tf"``) or a
        dict name -> genes. Their names are recorded in ``.uns``.
    model_kwargs
        Arguments of :class:`~scssl.model.MaskedAE` (``n_latent``, ``mask_ratio``, ...).
    return_model
        Also return the trained model (as the last element of a tuple).
    n_top_genes
        Train on this many highly variable genes (``seurat_v3`` on counts, batch-aware
        with ``batch_key``; the embedding covers every cell, ``adata``'s genes are
        untouched and the chosen ones go to ``.uns[...]["genes"]``); ``None``: all
        genes. ``"auto"``: 2000 for random masking (the benchmarks' setting: on Baron
        MaskedAE beats PCA on 2000 HVGs but not on all 20k genes), all genes for
        programme masking (programmes need their genes).
    **train_kwargs
        Arguments of :meth:`~scssl.model.MaskedAE.train` (``max_epochs``, ...).

    Returns
    -------
    ``None`` (or the copy if ``copy=True``); with ``return_model=True`` a tuple
    ``(adata_or_None, model)``. Only ``.obsm[key_added]`` and ``.uns[...]`` are written.

    Examples
    --------
    >>> import scanpy as sc, scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> scssl.tl.masked_ae(adata, layer="counts", max_epochs=20)
    >>> sc.pp.neighbors(adata, use_rep="X_scssl_mae")

    Predict TFs from their targets (MSigDB C3 TF-target sets):

    >>> path = scssl.data.data_dir() / "gene_programs/c3.tft.v7.5.1.symbols.gmt"
    >>> tfs = scssl.data.GeneProgrammes.from_gmt(path, tf_from_name=True).align(adata)
    >>> scssl.tl.masked_ae(adata, layer="counts", masking="gp_to_tf", programmes=tfs,
    ...                    key_added="X_gp_to_tf", max_epochs=20)
    """
    from scssl.model import MaskedAE

    check_option("masking", masking, MaskingKind)
    model_kwargs = dict(model_kwargs or {})
    for name in ("masking", "programmes"):
        if name in model_kwargs:
            raise TypeError(f"pass {name}= directly, not inside model_kwargs")
    return fit_embedding(
        adata,
        MaskedAE,
        layer=layer,
        setup_keys={"batch_key": batch_key},
        key_added=key_added,
        copy=copy,
        model_kwargs={"masking": masking, "programmes": programmes, **model_kwargs},
        train_kwargs=train_kwargs,
        return_model=return_model,
        extra_params=_programme_params,
        n_top_genes=(
            # programme strategies need every gene their programmes name
            (DEFAULT_N_TOP_GENES if MASKING_STRATEGIES[masking].needs is None else None)
            if n_top_genes == "auto"
            else n_top_genes
        ),
    )

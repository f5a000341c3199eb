"""``scssl.tl.masked_ae``: train a MaskedAE and write its embedding into AnnData."""

from __future__ import annotations

from typing import Literal

import numpy as np
from anndata import AnnData

from scssl.data import GeneProgrammes, check_raw_counts, get_matrix


def registration_view(adata: AnnData, layer: str | None, obs_keys: list[str]) -> AnnData:
    """A light AnnData sharing the user's counts; scvi registration then leaves ``adata`` as is."""
    check_raw_counts(adata, layer)  # errors name the user's layer, not the view's X
    obs_keys = [key for key in obs_keys if key is not None]
    missing = [key for key in obs_keys if key not in adata.obs]
    if missing:
        raise KeyError(f"{missing} not found in adata.obs")
    return AnnData(
        X=get_matrix(adata, layer), obs=adata.obs[obs_keys].copy(), var=adata.var[[]].copy()
    )


def _is_scalar(value) -> bool:
    return isinstance(value, int | float | str | bool)


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
    key_added: str = "X_scssl_mae",
    copy: bool = False,
    masking: Literal["random", "gene_programme", "gp_to_gp", "gp_to_tf"] = "random",
    programmes: GeneProgrammes | dict[str, list[str]] | None = None,
    model_kwargs: dict | None = None,
    return_model: bool = False,
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
        ``"random"``, ``"gene_programme"``, ``"gp_to_gp"`` or ``"gp_to_tf"``
        (see :class:`~scssl.model.MaskedAE`).
    programmes
        Gene programmes for the programme strategies: a
        :class:`~scssl.data.GeneProgrammes` (TF programmes for ``"gp_to_tf"``) or a
        dict name -> genes. Their names are recorded in ``.uns``.
    model_kwargs
        Arguments of :class:`~scssl.model.MaskedAE` (``n_latent``, ``mask_ratio``, ...).
    return_model
        Also return the trained model (as the last element of a tuple).
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
    >>> scssl.tl.masked_ae(adata, max_epochs=20)  # doctest: +SKIP
    >>> sc.pp.neighbors(adata, use_rep="X_scssl_mae")  # doctest: +SKIP

    Predict TFs from their targets (MSigDB C3 TF-target sets):

    >>> path = scssl.data.data_dir() / "gene_programs/c3.tft.v7.5.1.symbols.gmt"
    >>> tfs = scssl.data.GeneProgrammes.from_gmt(path, tf_from_name=True).align(adata)
    >>> scssl.tl.masked_ae(adata, masking="gp_to_tf", programmes=tfs,
    ...                    key_added="X_gp_to_tf", max_epochs=20)  # doctest: +SKIP
    """
    from scssl.model import MaskedAE

    model_kwargs = dict(model_kwargs or {})
    for name in ("masking", "programmes"):
        if name in model_kwargs:
            raise TypeError(f"pass {name}= directly, not inside model_kwargs")
    if copy:
        adata = adata.copy()
    work = registration_view(adata, layer, [batch_key])
    MaskedAE.setup_anndata(work, batch_key=batch_key)
    model = MaskedAE(work, masking=masking, programmes=programmes, **model_kwargs)
    model.train(**train_kwargs)
    adata.obsm[key_added] = np.asarray(model.get_latent_representation())
    history = model.history.get("train_loss")
    adata.uns[key_added.removeprefix("X_")] = {
        "params": {
            "layer": layer,
            "batch_key": batch_key,
            **{k: v for k, v in model.init_params_["non_kwargs"].items() if _is_scalar(v)},
            **model.init_params_["kwargs"].get("module_kwargs", {}),
            **_programme_params(model),
            **{k: v for k, v in train_kwargs.items() if isinstance(v, int | float | str | bool)},
        },
        "final_train_loss": float(history.iloc[-1, 0]) if history is not None else None,
    }
    result = adata if copy else None
    return (result, model) if return_model else result

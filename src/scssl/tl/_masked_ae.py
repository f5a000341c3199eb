"""``scssl.tl.masked_ae``: train a MaskedAE and write its embedding into AnnData."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from scssl.data import check_raw_counts, get_matrix


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


def masked_ae(
    adata: AnnData,
    *,
    layer: str | None = None,
    batch_key: str | None = None,
    key_added: str = "X_scssl_mae",
    copy: bool = False,
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
    """
    from scssl.model import MaskedAE

    if copy:
        adata = adata.copy()
    work = registration_view(adata, layer, [batch_key])
    MaskedAE.setup_anndata(work, batch_key=batch_key)
    model = MaskedAE(work, **(model_kwargs or {}))
    model.train(**train_kwargs)
    adata.obsm[key_added] = np.asarray(model.get_latent_representation())
    history = model.history.get("train_loss")
    adata.uns[key_added.removeprefix("X_")] = {
        "params": {
            "layer": layer,
            "batch_key": batch_key,
            **{k: v for k, v in model.init_params_["non_kwargs"].items()},
            **model.init_params_["kwargs"].get("module_kwargs", {}),
            **{k: v for k, v in train_kwargs.items() if isinstance(v, int | float | str | bool)},
        },
        "final_train_loss": float(history.iloc[-1, 0]) if history is not None else None,
    }
    result = adata if copy else None
    return (result, model) if return_model else result

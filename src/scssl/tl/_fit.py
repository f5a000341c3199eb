"""The one recipe behind the scanpy-style model functions: register, train, write back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from anndata import AnnData

from scssl.data import check_raw_counts, get_matrix, highly_variable_genes


def registration_view(
    adata: AnnData,
    layer: str | None,
    obs_keys: list[str | None],
    obsm_keys: Sequence[str | None] = (),
) -> AnnData:
    """A light AnnData sharing the user's counts; scvi registration then leaves ``adata`` as is."""
    check_raw_counts(adata, layer)  # errors name the user's layer, not the view's X
    obs_keys = [key for key in obs_keys if key is not None]
    missing = [key for key in obs_keys if key not in adata.obs]
    if missing:
        raise KeyError(f"{missing} not found in adata.obs")
    obsm_keys = [key for key in obsm_keys if key is not None]
    missing = [key for key in obsm_keys if key not in adata.obsm]
    if missing:
        raise KeyError(f"{missing} not found in adata.obsm")
    return AnnData(
        X=get_matrix(adata, layer),
        obs=adata.obs[obs_keys].copy(),
        var=adata.var[[]].copy(),
        obsm={key: adata.obsm[key] for key in obsm_keys},
    )


def scalar_params(params: dict) -> dict:
    """The entries of ``params`` that an h5ad file can store as plain values."""
    return {k: v for k, v in params.items() if isinstance(v, int | float | str | bool) or v is None}


def fit_embedding(
    adata: AnnData,
    model_cls: Any,
    *,
    layer: str | None,
    setup_keys: dict[str, str | None],
    key_added: str,
    copy: bool,
    model_kwargs: dict,
    train_kwargs: dict,
    return_model: bool,
    extra_params: Callable[[object], dict] | None = None,
    obsm_setup_keys: dict[str, str | None] | None = None,
    n_top_genes: int | None = None,
    derive_obsm: Callable[[AnnData], dict[str, str]] | None = None,
):
    """Train ``model_cls`` on ``adata``'s counts; write ``.obsm[key_added]`` and ``.uns``.

    ``setup_keys`` are the ``.obs`` columns given to ``setup_anndata`` (``batch_key``,
    ...), ``obsm_setup_keys`` its ``.obsm`` keys (``knn_key``). Nothing else of
    ``adata`` is touched: the model is registered on a view (:func:`registration_view`).
    With ``n_top_genes`` the model trains on that many highly variable genes
    (:func:`~scssl.data.highly_variable_genes`, batch-aware with ``batch_key``); their
    names go to ``adata.uns[...]["genes"]``. The parameters go to
    ``adata.uns[key_added.removeprefix("X_")]["params"]``, with ``extra_params(model)``.
    ``derive_obsm(work)`` computes further ``.obsm`` entries on the training copy
    (after gene selection, so on the training genes) and returns their setup keys;
    they are recorded as ``"<argument>_computed": True``.
    """
    if copy:
        adata = adata.copy()
    obsm_setup_keys = obsm_setup_keys or {}
    work = registration_view(
        adata, layer, list(setup_keys.values()), list(obsm_setup_keys.values())
    )
    genes = work.var_names
    if n_top_genes is not None:
        batch_key = setup_keys.get("batch_key")
        genes = highly_variable_genes(work, batch_key=batch_key, n_top_genes=n_top_genes)
        if len(genes) < work.n_vars:
            work = work[:, genes].copy()
    derived = derive_obsm(work) if derive_obsm is not None else {}
    model_cls.setup_anndata(work, **setup_keys, **{**obsm_setup_keys, **derived})
    model = model_cls(work, **model_kwargs)
    model.train(**train_kwargs)
    adata.obsm[key_added] = np.asarray(model.get_latent_representation())
    history = model.history.get("train_loss_epoch", model.history.get("train_loss"))
    adata.uns[key_added.removeprefix("X_")] = {
        "params": {
            "layer": layer,
            **setup_keys,
            **obsm_setup_keys,
            **{f"{argument}_computed": True for argument in derived},
            **scalar_params(model.init_params_["non_kwargs"]),
            **scalar_params(model.init_params_["kwargs"].get("module_kwargs", {})),
            **(extra_params(model) if extra_params is not None else {}),
            **scalar_params(train_kwargs),
            "n_top_genes": n_top_genes,
            "n_genes_used": len(genes),
        },
        "genes": np.asarray(genes, dtype=str),
        "final_train_loss": float(history.iloc[-1, 0]) if history is not None else None,
    }
    result = adata if copy else None
    return (result, model) if return_model else result

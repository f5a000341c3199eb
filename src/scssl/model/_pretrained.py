"""Reusing a pretrained scssl encoder: its architecture and the checks that the data fit it."""

from __future__ import annotations

import numpy as np
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.model.base import BaseModelClass

from scssl import _compat
from scssl.nn import DeterministicEncoder


def encoder_config(ssl_model: BaseModelClass) -> dict:
    """Architecture of a pretrained scssl model's encoder, as :class:`ClassifierModule` arguments.

    Works for every scssl model whose module has a :class:`~scssl.nn.DeterministicEncoder`
    named ``z_encoder``; the sizes come from the model's ``init_params_``.

    Examples
    --------
    >>> encoder_config(model)["n_latent"]
    32
    """
    module = getattr(ssl_model, "module", None)
    encoder = getattr(module, "z_encoder", None)
    if not isinstance(encoder, DeterministicEncoder):
        raise TypeError(
            f"{type(ssl_model).__name__} has no scssl DeterministicEncoder `module.z_encoder`; "
            "from_pretrained needs a trained scssl self-supervised model"
        )
    # the architecture as the model was built: its init arguments and module kwargs
    params = {
        **ssl_model.init_params_.get("non_kwargs", {}),
        **ssl_model.init_params_.get("kwargs", {}).get("module_kwargs", {}),
    }
    return {
        "n_latent": params["n_latent"],
        "n_hidden": params["n_hidden"],
        "n_layers": params["n_layers"],
        "dropout_rate": float(params["dropout_rate"]),
        "use_batch_norm": bool(params.get("use_batch_norm", False)),
        "use_layer_norm": bool(params.get("use_layer_norm", True)),
        "encode_covariates": bool(params.get("encode_covariates", False)),
        "target_sum": float(params.get("target_sum", 1e4)),
    }


def balanced_class_weights(counts: np.ndarray) -> list[float]:
    """``n_cells / (n_present_classes * count)`` per class (0 for classes without cells).

    Examples
    --------
    >>> balanced_class_weights(np.array([30, 10, 0]))
    [0.666667, 2.0, 0.0]
    """
    counts = np.asarray(counts, dtype=float)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.round(6).tolist()


def check_pretrained_genes(ssl_model: BaseModelClass, adata: AnnData) -> None:
    """Fail unless ``adata`` has the pretrained model's genes in its order."""
    ssl_genes = _compat.registered_genes(ssl_model)
    if len(ssl_genes) and not adata.var_names.equals(ssl_genes):
        shared = int(ssl_genes.isin(adata.var_names).sum())
        raise ValueError(
            f"adata's genes differ from the pretrained model's ({shared} of "
            f"{len(ssl_genes)} shared, or a different order); subset and order them as "
            "the model's (adata[:, model.adata.var_names]) or use prepare_query_anndata"
        )


def check_covariate_categories(model: BaseModelClass, ssl_model: BaseModelClass) -> None:
    """Fail unless the covariates an encoder sees have the pretrained model's categories."""
    for key in (REGISTRY_KEYS.BATCH_KEY, REGISTRY_KEYS.CAT_COVS_KEY):
        if key not in ssl_model.adata_manager.data_registry:
            continue
        ours = model.adata_manager.get_state_registry(key)
        theirs = ssl_model.adata_manager.get_state_registry(key)
        mine_map = ours.get("categorical_mapping", ours.get("mappings"))
        their_map = theirs.get("categorical_mapping", theirs.get("mappings"))
        if str(mine_map) != str(their_map):
            raise ValueError(
                f"the encoder sees the {key} covariate, but adata's categories "
                f"({mine_map}) differ from the pretrained model's ({their_map}); give "
                "the column the model's categories in the model's order, e.g. "
                "adata.obs[key] = pd.Categorical(adata.obs[key], categories=...)"
            )


def check_encoder_input_width(model: BaseModelClass, ssl_model: BaseModelClass) -> None:
    """Fail unless both encoders' first layers take inputs of the same width."""
    first, pretrained_first = (
        next(m for m in module.z_encoder.modules() if isinstance(m, torch.nn.Linear))
        for module in (model.module, ssl_model.module)
    )
    if first.in_features != pretrained_first.in_features:
        raise ValueError(
            f"encoder input width differs ({first.in_features} vs "
            f"{pretrained_first.in_features}): the covariates of adata do not match the "
            "pretrained model's"
        )

"""Checks of the ``obs`` columns that setup arguments name (AnnData and MuData setup)."""

from __future__ import annotations

from typing import Any

from anndata import AnnData

from scssl._constants import OBSM_SETUP_ARGUMENTS
from scssl.data import check_obs_columns


def check_obs_keys(adata: AnnData, keys: dict[str, str | list[str] | None]) -> None:
    """Fail unless every named column (``{argument: column or columns}``) is in ``adata.obs``."""
    for argument, value in keys.items():
        for key in [value] if isinstance(value, str) else (value or []):
            if key not in adata.obs:
                raise KeyError(
                    f"{argument}={key!r} is not a column of adata.obs "
                    f"(columns: {', '.join(map(str, adata.obs.columns[:20]))})."
                )


def check_setup_columns(adata: AnnData, setup_args: dict[str, Any]) -> None:
    """The ``obs`` columns named by ``*_key`` / ``*_keys`` setup arguments exist and are usable.

    Batch, labels and categorical covariates must be categories without NaN, continuous
    covariates finite numbers (:func:`scssl.data.check_obs_columns`). ``.obsm`` keys
    (``knn_key``, ``protein_expression_obsm_key``) are the model's own to check.
    """
    obs_keys = {
        name: value
        for name, value in setup_args.items()
        if name.endswith(("_key", "_keys")) and name not in OBSM_SETUP_ARGUMENTS
    }
    check_obs_keys(adata, obs_keys)
    categorical: dict[str, str | list[str] | None] = {
        name: setup_args[name]
        for name in ("batch_key", "labels_key", "categorical_covariate_keys")
        if name in setup_args
    }
    continuous: dict[str, list[str] | None] = {
        name: setup_args[name] for name in ("continuous_covariate_keys",) if name in setup_args
    }
    check_obs_columns(adata, categorical, continuous)

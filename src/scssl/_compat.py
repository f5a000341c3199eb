"""The only place that touches private scvi-tools names.

scvi-tools does not promise stability for underscore names. Every such use in
scssl goes through this file so that a scvi-tools upgrade (supported range:
``>=1.4,<1.6``) is fixed in one place.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import pandas as pd
from anndata import AnnData
from scvi.model.base import BaseModelClass


def setup_method_args(model_cls: type[BaseModelClass], setup_locals: dict[str, Any]) -> dict:
    """Return the ``setup_method_args`` dict scvi-tools stores in the registry.

    Wraps :meth:`BaseModelClass._get_setup_method_args`, the documented way for a
    model's ``setup_anndata`` to record its own arguments (needed by ``load`` and
    ``load_query_data``).
    """
    return model_cls._get_setup_method_args(**setup_locals)


def reference_setup(reference_model: BaseModelClass | str) -> tuple[pd.Index, dict]:
    """Gene names and registry of a reference model (a model or a saved model's folder).

    For a reference set up with ``setup_mudata`` the genes are its RNA modality's.

    Wraps scvi-tools' ``_get_loaded_data`` (used by ``ArchesMixin``).
    """
    from scvi.model.base._archesmixin import _get_loaded_data

    attr_dict, var_names, _, _ = _get_loaded_data(reference_model, device="cpu")
    registry = attr_dict["registry_"]
    if isinstance(var_names, dict):  # a MuData reference: the genes of its RNA modality
        var_names = var_names[registry["setup_args"]["modalities"]["rna_layer"]]
    return pd.Index(var_names), registry


def pad_and_sort_query(adata: AnnData, reference_var_names: pd.Index, inplace: bool):
    """Reorder query genes to the reference and add missing genes as zeros.

    Wraps scvi-tools' ``_pad_and_sort_query_anndata`` (the body of
    ``ArchesMixin.prepare_query_anndata``); its own overlap warning is silenced
    because scssl reports the overlap itself.
    """
    import warnings

    from scvi.model.base._archesmixin import _pad_and_sort_query_anndata

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Query data contains less than")
        return _pad_and_sort_query_anndata(adata, reference_var_names, inplace)


def registry_categories(registry: dict, key: str) -> list[str]:
    """Categories of the registered field ``key`` (``[]`` if absent), from a registry dict.

    scvi-tools documents the registry only as a nested dict; its layout is read here.
    """
    field = registry["field_registries"].get(key, {})
    mapping = field.get("state_registry", {}).get("categorical_mapping")
    return [] if mapping is None else [str(c) for c in mapping]


def registered_genes(model: BaseModelClass) -> pd.Index:
    """Gene names the model registered (its ``X`` field's column names)."""
    x_field = model.adata_manager.registry["field_registries"].get("X", {})
    return pd.Index(x_field.get("state_registry", {}).get("column_names", []))


def setup_args(model_or_registry: BaseModelClass | dict) -> dict:
    """The arguments ``setup_anndata`` was called with, from a model or a registry dict."""
    registry = model_or_registry
    if isinstance(model_or_registry, BaseModelClass):
        registry = model_or_registry.adata_manager.registry
    return dict(registry.get("setup_args", {}))


@contextmanager
def model_file_reader(reader):
    """Within the block, scvi-tools reads model folders through ``reader``.

    ``reader`` replaces scvi-tools' ``_load_saved_files`` (same arguments and results)
    for ``BaseModelClass.load`` and ``ArchesMixin`` (``prepare_query_anndata``,
    ``load_query_data``), whose own version unpickles ``model.pt`` with
    ``weights_only=False``. The rest of scvi-tools' load logic (setup with the saved
    registry, model initialisation, state dict) runs unchanged.
    """
    import scvi.model.base._archesmixin as arches
    import scvi.model.base._base_model as base_model

    saved = base_model._load_saved_files, arches._load_saved_files
    base_model._load_saved_files = arches._load_saved_files = reader
    try:
        yield
    finally:
        base_model._load_saved_files, arches._load_saved_files = saved


def scvi_model_file_reader():
    """scvi-tools' own reader (unpickles the whole file: for trusted files only)."""
    from scvi.model.base._save_load import _load_saved_files

    return _load_saved_files


def user_attributes(model: BaseModelClass) -> dict:
    """The attributes scvi-tools saves with a model: public ones ending in ``_``."""
    return {name: value for name, value in model._get_user_attributes() if name.endswith("_")}

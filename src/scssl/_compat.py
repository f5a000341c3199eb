"""The only place that touches private scvi-tools names.

scvi-tools does not promise stability for underscore names. Every such use in
scssl goes through this file so that a scvi-tools upgrade (supported range:
``>=1.4,<1.6``) is fixed in one place.
"""

from __future__ import annotations

from typing import Any

from scvi.model.base import BaseModelClass


def setup_method_args(model_cls: type[BaseModelClass], setup_locals: dict[str, Any]) -> dict:
    """Return the ``setup_method_args`` dict scvi-tools stores in the registry.

    Wraps :meth:`BaseModelClass._get_setup_method_args`, the documented way for a
    model's ``setup_anndata`` to record its own arguments (needed by ``load`` and
    ``load_query_data``).
    """
    return model_cls._get_setup_method_args(**setup_locals)

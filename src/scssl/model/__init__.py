"""User-facing scssl models (scvi-tools ``BaseModelClass`` subclasses)."""

from ._drug_response import DrugResponseTransfer
from ._masked_ae import MaskedAE

__all__ = ["DrugResponseTransfer", "MaskedAE"]

"""User-facing scssl models (scvi-tools ``BaseModelClass`` subclasses)."""

from ._contrastive import Contrastive
from ._drug_response import DrugResponseTransfer
from ._masked_ae import MaskedAE
from ._masked_contrastive import MaskedContrastive

__all__ = [
    "DrugResponseTransfer",
    "MaskedAE",
    "Contrastive",
    "MaskedContrastive",
]

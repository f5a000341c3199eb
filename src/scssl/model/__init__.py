"""User-facing scssl models (scvi-tools ``BaseModelClass`` subclasses)."""

from ._classifier import CellTypeClassifier
from ._contrastive import Contrastive
from ._drug_response import DrugResponseTransfer
from ._files import UnsafeModelFileError
from ._masked_ae import MaskedAE
from ._masked_contrastive import MaskedContrastive
from ._multimodal import MultimodalMAE
from ._query import QueryMappingMixin

__all__ = [
    "DrugResponseTransfer",
    "CellTypeClassifier",
    "Contrastive",
    "MaskedAE",
    "MaskedContrastive",
    "MultimodalMAE",
    "QueryMappingMixin",
    "UnsafeModelFileError",
]

"""Torch modules (``BaseModuleClass`` subclasses); no AnnData in here."""

from ._classifier import ClassifierModule
from ._contrastive import ContrastiveModule
from ._drug_response import DrugResponseModule
from ._masked_ae import MaskedAEModule
from ._masked_contrastive import MaskedContrastiveModule
from ._multimodal import MultimodalMAEModule, centred_log_ratio

__all__ = [
    "DrugResponseModule",
    "ClassifierModule",
    "ContrastiveModule",
    "MaskedAEModule",
    "MaskedContrastiveModule",
    "MultimodalMAEModule",
    "centred_log_ratio",
]

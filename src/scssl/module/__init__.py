"""Torch modules (``BaseModuleClass`` subclasses); no AnnData in here."""

from ._drug_response import DrugResponseModule
from ._masked_ae import MaskedAEModule

__all__ = ["DrugResponseModule", "MaskedAEModule"]

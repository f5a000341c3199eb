"""Torch modules (``BaseModuleClass`` subclasses); no AnnData in here."""

from ._masked_ae import MaskedAEModule

__all__ = ["MaskedAEModule"]

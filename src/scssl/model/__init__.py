"""User-facing scssl models (scvi-tools ``BaseModelClass`` subclasses)."""

from ._masked_ae import MaskedAE

__all__ = ["MaskedAE"]

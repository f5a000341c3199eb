"""Reusable network pieces: encoders, decoders, masking strategies, losses."""

from ._losses import masked_mean, mse_per_entry, nb_negative_log_likelihood
from ._masking import MaskDraw, MaskingStrategy, RandomMasking
from ._networks import DeterministicEncoder, ExpressionDecoder, normalize_counts

__all__ = [
    "DeterministicEncoder",
    "ExpressionDecoder",
    "MaskDraw",
    "MaskingStrategy",
    "RandomMasking",
    "masked_mean",
    "mse_per_entry",
    "nb_negative_log_likelihood",
    "normalize_counts",
]

"""Scanpy-style functions: AnnData in, results written to ``.obsm`` / ``.obs`` / ``.uns``."""

from ._contrastive import contrastive, mnn_pairs
from ._masked_ae import masked_ae
from ._pca import pca_embedding

__all__ = [
    "masked_ae",
    "pca_embedding",
    "contrastive",
    "mnn_pairs",
]

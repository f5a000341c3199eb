"""Plots."""

from ._embedding import umap
from ._programmes import programme_ranking

__all__ = ["programme_ranking", "umap"]

"""Plots."""

from ._benchmark import benchmark, benchmark_table
from ._embedding import umap
from ._programmes import programme_ranking

__all__ = ["benchmark", "benchmark_table", "programme_ranking", "umap"]

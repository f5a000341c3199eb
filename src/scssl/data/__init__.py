"""Data helpers: input checks, example datasets, gene programmes."""

from ._datasets import baron_pancreas, data_dir, pbmc68k_counts, pbmc_3tech
from ._validation import check_raw_counts, get_matrix

__all__ = [
    "baron_pancreas",
    "check_raw_counts",
    "data_dir",
    "get_matrix",
    "pbmc68k_counts",
    "pbmc_3tech",
]

"""What every scssl plot does the same way: a headless-safe pyplot, and saving."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def pyplot():
    """``matplotlib.pyplot``, on the Agg backend unless the user chose one.

    A backend counts as chosen when pyplot is already imported or ``MPLBACKEND`` is
    set (as Jupyter kernels do, so figures show inline in notebooks).
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, save: str | Path | None) -> None:
    """Write ``fig`` to ``save`` (PNG, 150 dpi, tight) when a path is given."""
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")

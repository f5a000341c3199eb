"""What every scssl plot does the same way: a headless-safe pyplot, and saving."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot``, on the Agg backend unless the user chose one."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, save: str | Path | None) -> None:
    """Write ``fig`` to ``save`` (PNG, 150 dpi, tight) when a path is given."""
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")

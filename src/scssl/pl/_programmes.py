"""Best- and worst-predicted gene programmes (or TFs) as a bar chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._figure import pyplot, save_figure


def programme_ranking(
    table: pd.DataFrame,
    *,
    metric: str = "explained_variance",
    n: int = 10,
    label: str | None = None,
    title: str | None = None,
    save: str | Path | None = None,
):
    """Bar chart of the ``n`` best and ``n`` worst programmes of an evaluation table.

    Parameters
    ----------
    table
        Output of :func:`scssl.tl.programme_reconstruction` or
        :func:`scssl.tl.tf_prediction` (one row per programme).
    metric
        Column to rank by (higher is better), e.g. ``"explained_variance"``,
        ``"gene_r"`` or ``"pearson_r"``.
    n
        Programmes shown at each end.
    label
        Column used as bar label (for example ``"tf"``); default: the index.
    title
        Figure title.
    save
        Also write the figure there (PNG, 150 dpi).

    Returns
    -------
    The matplotlib figure.

    Examples
    --------
    >>> import scssl
    >>> table = scssl.tl.programme_reconstruction(model)
    >>> fig = scssl.pl.programme_ranking(table, n=8, save="programmes.png")
    """
    plt = pyplot()

    if metric not in table.columns:
        raise KeyError(f"{metric!r} is not a column of the table (columns: {list(table.columns)})")
    if label is not None and label not in table.columns:
        raise KeyError(f"label={label!r} is not a column of the table")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    ranked = table[np.isfinite(table[metric].astype(float))].sort_values(metric, ascending=False)
    if ranked.empty:
        raise ValueError(f"no finite values of {metric!r} to plot")
    names = ranked.index.astype(str) if label is None else ranked[label].astype(str)
    ranked = ranked.assign(_name=[_short(s) for s in names])
    if len(ranked) <= 2 * n:
        shown = ranked
        colours = ["#3b7dd8"] * len(shown)
    else:
        shown = pd.concat([ranked.head(n), ranked.tail(n)])
        colours = ["#3b7dd8"] * n + ["#d8623b"] * n
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(shown) + 1.2))
    positions = np.arange(len(shown))[::-1]
    ax.barh(positions, shown[metric].to_numpy(), color=colours)
    ax.set_yticks(positions, shown["_name"].tolist(), fontsize=7)
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel(metric)
    ax.set_title(title or f"best (blue) and worst (orange) programmes by {metric}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, save)
    return fig


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"

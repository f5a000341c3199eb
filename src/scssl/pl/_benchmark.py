"""Figures of a :func:`scssl.benchmark` result: metric panels and a scib-style results table."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from ._figure import pyplot, save_figure

#: panels whose values span orders of magnitude get a log axis
_LOG_GROUPS = frozenset({"training time", "throughput"})


def _checked(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = result.summary()
    if summary.empty:
        raise ValueError("the benchmark has no successful run to plot (see result.failures)")
    return summary, result.spread()


def benchmark(result, *, groups: list[str] | None = None, save: str | Path | None = None):
    """One panel per metric group; per method the mean over seeds and the spread.

    Dots are means over seeds, bars one standard deviation (``ddof=0``); methods are
    ordered by the result's aggregate, best at the top. Groups (those holding values,
    see :class:`~scssl.tl.BenchmarkResult`): label transfer, bio conservation, batch
    correction, aggregate, reconstruction, training time, throughput.

    Parameters
    ----------
    result
        A :class:`~scssl.tl.BenchmarkResult`.
    groups
        Groups to show, in this order; ``None``: every group with values.
    save
        Also write the figure there (PNG, 150 dpi).

    Returns
    -------
    The matplotlib figure.

    Examples
    --------
    >>> result = scssl.benchmark(adata, labels_key="cell_type", batch_key="donor")  # doctest: +SKIP
    >>> fig = scssl.pl.benchmark(result, save="benchmark.png")
    """
    from scssl.tl._benchmark_result import METRIC_GROUPS

    summary, spread = _checked(result)
    present = [m for m in METRIC_GROUPS if m in summary.columns and summary[m].notna().any()]
    available = list(dict.fromkeys(METRIC_GROUPS[m] for m in present))
    groups = available if groups is None else list(groups)
    unknown = [g for g in groups if g not in available]
    if unknown:
        raise ValueError(f"groups {unknown} have no values; available: {available}")
    plt = pyplot()
    methods = list(summary.index)
    positions = np.arange(len(methods))[::-1]  # best at the top
    n_cols = min(4, len(groups))
    n_rows = -(-len(groups) // n_cols)
    height = 0.4 * len(methods) + 1.8  # per row of panels, room for the legend below
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.4 * n_cols, height * n_rows), squeeze=False)
    for ax in axes.flat[len(groups) :]:
        ax.axis("off")
    for index, (ax, group) in enumerate(zip(axes.flat, groups)):
        metrics = [m for m in present if METRIC_GROUPS[m] == group]
        offsets = np.linspace(-0.25, 0.25, len(metrics)) if len(metrics) > 1 else [0.0]
        for metric, offset in zip(metrics, offsets):
            ax.errorbar(
                summary[metric].to_numpy(float),
                positions + offset,
                xerr=spread[metric].to_numpy(float),
                fmt="o",
                markersize=4,
                capsize=2,
                label=metric,
            )
        ax.set_yticks(positions, methods if index % n_cols == 0 else [""] * len(methods))
        ax.set_ylim(-0.6, len(methods) - 0.4)
        ax.set_title(group, fontsize=10)
        if group in _LOG_GROUPS:
            ax.set_xscale("log")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.suptitle(f"methods ordered by mean {result.aggregate} over seeds", fontsize=10)
    fig.tight_layout()
    save_figure(fig, save)
    return fig


def benchmark_table(result, *, metrics: list[str] | None = None, save: str | Path | None = None):
    """The results table in scib-metrics' style: methods by metrics, cells shaded per column.

    Each cell shows the mean over seeds; its shade runs from the column's worst
    (light) to its best value (dark), lower being better for MSE and training time.
    Rows are ordered by the aggregate.

    Parameters
    ----------
    result
        A :class:`~scssl.tl.BenchmarkResult`.
    metrics
        Columns to show; ``None``: the aggregate and the headline metrics present.
    save
        Also write the figure there (PNG, 150 dpi).

    Returns
    -------
    The matplotlib figure.

    Examples
    --------
    >>> fig = scssl.pl.benchmark_table(result, save="benchmark_table.png")
    """
    from scssl.tl._benchmark_result import LOWER_IS_BETTER, metric_digits

    summary, _ = _checked(result)
    if metrics is None:
        metrics = result.headline_metrics
    metrics = [m for m in metrics if m in summary.columns and summary[m].notna().any()]
    values = summary[metrics].astype(float)
    shade = np.zeros(values.shape)
    for j, metric in enumerate(metrics):
        column = values[metric].to_numpy()
        low, high = np.nanmin(column), np.nanmax(column)
        scaled = (column - low) / (high - low) if high > low else np.ones_like(column)
        shade[:, j] = 1 - scaled if metric in LOWER_IS_BETTER else scaled
    plt = pyplot()
    colours = plt.get_cmap("YlGnBu")(0.15 + 0.7 * np.nan_to_num(shade, nan=0.0))
    colours[np.isnan(values.to_numpy())] = (1.0, 1.0, 1.0, 1.0)  # no value: a blank cell
    digits = [metric_digits(m) for m in metrics]
    text = [
        ["" if np.isnan(v) else f"{v:.{d}f}" for v, d in zip(row, digits)]
        for row in values.to_numpy()
    ]
    fig, ax = plt.subplots(figsize=(1.25 * len(metrics) + 1.6, 0.38 * len(values) + 0.9))
    ax.axis("off")
    table = ax.table(
        cellText=text,
        cellColours=colours,
        rowLabels=list(values.index),
        colLabels=[textwrap.fill(m.replace("_", " "), 12) for m in metrics],
        loc="center",
        cellLoc="center",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.scale(1.0, 1.5)
    for (row, _), cell in table.get_celld().items():
        if row == 0:  # room for headers of up to three lines
            cell.set_height(cell.get_height() * 2.2)
        elif sum(cell.get_facecolor()[:3]) < 1.2:  # white text on the dark shades
            cell.get_text().set_color("white")
    ax.set_title(f"ranked by mean {result.aggregate} over seeds", fontsize=9)
    save_figure(fig, save)
    return fig

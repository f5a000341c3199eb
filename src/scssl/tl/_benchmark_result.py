"""What :func:`scssl.benchmark` returns: tidy scores, the runs, a ranked summary, files."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: metric -> the group it is shown in (:func:`scssl.pl.benchmark`, the summary's order)
METRIC_GROUPS: dict[str, str] = {
    "knn_macro_f1": "label transfer",
    "knn_accuracy": "label transfer",
    "silhouette_label": "bio conservation",
    "clisi": "bio conservation",
    "isolated_labels": "bio conservation",
    "kmeans_nmi": "bio conservation",
    "kmeans_ari": "bio conservation",
    "bras": "batch correction",
    "ilisi": "batch correction",
    "graph_connectivity": "batch correction",
    "kbet": "batch correction",
    "bio_conservation": "aggregate",
    "batch_correction": "aggregate",
    "total": "aggregate",
    "masked_mse": "reconstruction",
    "masked_explained_variance": "reconstruction",
    "train_seconds": "training time",
    "cells_per_second": "throughput",
}
#: the columns of the summary's headline table (after the aggregate)
HEADLINE_METRICS = (
    "knn_macro_f1",
    "knn_accuracy",
    "bio_conservation",
    "batch_correction",
    "total",
    "masked_explained_variance",
    "train_seconds",
    "cells_per_second",
)
#: metrics where lower is better (all others: higher is better)
LOWER_IS_BETTER = frozenset({"masked_mse", "train_seconds"})


def metric_digits(metric: str) -> int:
    """Decimals a metric is printed with: seconds and cells/s 1, scores 3."""
    return 1 if metric in ("train_seconds", "cells_per_second") else 3


@dataclass
class BenchmarkResult:
    """Scores of every method and seed of a :func:`scssl.benchmark` run.

    Attributes
    ----------
    scores
        Tidy table, one row per (``method``, ``seed``, ``metric``) with its ``value``.
        Metrics by group: label transfer (``knn_macro_f1``, ``knn_accuracy``), bio
        conservation (``silhouette_label``, ``clisi``, ``isolated_labels``,
        ``kmeans_nmi``, ``kmeans_ari``), batch correction (``bras``, ``ilisi``,
        ``graph_connectivity``), aggregate (``bio_conservation``,
        ``batch_correction``, ``total``), reconstruction (``masked_mse``,
        ``masked_explained_variance``), training time (``train_seconds``) and
        throughput (``cells_per_second``, cells x epochs per training second).
    runs
        One row per (``method``, ``seed``): ``status`` (``"ok"`` or ``"failed"``),
        ``error``, ``seconds``, ``epochs`` trained, ``max_epochs`` planned and
        ``budget_stopped`` (the time budget ended training early).
    aggregate
        The metric methods are ranked by (mean over seeds, best first).
    notes
        What was skipped or reduced, and why (no labels, one batch, time budget).
    settings
        The call's arguments, the evaluation protocol and package versions.

    Examples
    --------
    >>> result = scssl.benchmark(adata, batch_key="donor", labels_key="cell_type")  # doctest: +SKIP
    >>> summary = result.summary()  # methods x metrics, best first
    >>> paths = result.write("report/")
    """

    scores: pd.DataFrame
    runs: pd.DataFrame
    aggregate: str
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def failures(self) -> pd.DataFrame:
        """The runs that raised, with their error."""
        return self.runs.loc[self.runs.status == "failed", ["method", "seed", "error"]]

    def _wide(self, statistic: str | Callable) -> pd.DataFrame:
        table = self.scores.pivot_table(
            index="method", columns="metric", values="value", aggfunc=statistic
        )
        order = [m for m in METRIC_GROUPS if m in table.columns]
        return table[order + [m for m in table.columns if m not in order]]

    @property
    def headline_metrics(self) -> list[str]:
        """The aggregate, then the other headline metrics (the short table's columns)."""
        return [self.aggregate] + [m for m in HEADLINE_METRICS if m != self.aggregate]

    @property
    def ranked_methods(self) -> list[str]:
        """Methods with at least one successful run, best aggregate first."""
        return list(self.summary().index)

    def summary(self) -> pd.DataFrame:
        """Mean over seeds of every metric, one row per method, ranked by :attr:`aggregate`.

        ``n_seeds`` counts the successful runs; ``rank`` 1 is the best aggregate.
        """
        if self.scores.empty:
            return pd.DataFrame(columns=["rank", "n_seeds"])
        means = self._wide("mean")
        means = means.sort_values(self.aggregate, ascending=self.aggregate in LOWER_IS_BETTER)
        counts = self.scores.groupby("method").seed.nunique()
        means.insert(0, "n_seeds", counts.reindex(means.index).astype(int))
        means.insert(0, "rank", np.arange(1, len(means) + 1))
        return means

    def spread(self) -> pd.DataFrame:
        """Standard deviation over seeds (``ddof=0``) of every metric, in the summary's order."""
        return self._wide(lambda v: float(np.std(v))).reindex(self.summary().index)

    def table(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """The summary as text, ``mean ± sd`` over seeds; ``metrics=None``: the headline ones."""
        summary, spread = self.summary(), self.spread()
        if metrics is None:
            metrics = self.headline_metrics
        table = summary[["rank", "n_seeds"]].copy()
        for metric in [m for m in metrics if m in summary.columns]:
            mean, sd = summary[metric], spread[metric]
            digits = metric_digits(metric)
            table[metric] = [
                "" if np.isnan(m) else f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(mean, sd)
            ]
        return table

    def to_markdown(self) -> str:
        """Headline and full tables (``mean ± sd`` over seeds), notes and failures, as markdown."""
        every_metric = [m for m in self.summary().columns if m not in ("rank", "n_seeds")]
        lines = [f"Ranked by the mean of `{self.aggregate}` over seeds.", ""]
        lines += [self.table().to_markdown(), "", "All metrics:", ""]
        lines += [self.table(every_metric).to_markdown(), ""]
        lines += [f"- {note}" for note in self.notes]
        for row in self.failures.itertuples():
            lines.append(f"- **{row.method} (seed {row.seed}) failed**: {row.error}")
        return "\n".join(lines) + "\n"

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write scores.csv, runs.csv, summary.md and settings.json in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {name: folder / name for name in ("scores.csv", "runs.csv", "summary.md")}
        paths["settings.json"] = folder / "settings.json"
        self.scores.to_csv(paths["scores.csv"], index=False)
        self.runs.to_csv(paths["runs.csv"], index=False)
        paths["summary.md"].write_text("# scssl benchmark\n\n" + self.to_markdown())
        settings = {**self.settings, "aggregate": self.aggregate, "notes": self.notes}
        paths["settings.json"].write_text(json.dumps(settings, indent=2, default=str))
        return paths

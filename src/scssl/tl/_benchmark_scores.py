"""How :func:`scssl.benchmark` turns finished runs into scores, notes and tables."""

from __future__ import annotations

import warnings

import pandas as pd

from ._benchmark_methods import MethodRun

#: columns of ``BenchmarkResult.runs``
RUN_COLUMNS = [
    "method",
    "seed",
    "status",
    "seconds",
    "epochs",
    "max_epochs",
    "budget_stopped",
    "error",
]


def notes_on_skipped(labels, batches, scib_wanted: bool, scib_available: bool) -> list[str]:
    """What the data or the settings leave out, said once in ``result.notes``."""
    notes = []
    if labels is None:
        notes.append("no labels_key: kNN label transfer and bio-conservation metrics skipped")
    if batches is None:
        notes.append(
            "one batch (or no batch_key): batch-correction metrics skipped; kNN label "
            "transfer scored by 5-fold cross-validation instead of leave-one-batch-out"
        )
    if not scib_wanted:
        notes.append("scib=False: scib-metrics scores not computed")
    elif not scib_available:
        notes.append("scib-metrics not installed (pip install 'scssl[metrics]'): scib skipped")
    return notes


def score_run(run: MethodRun, labels, batches, seed: int, scib: bool, notes: list[str]) -> dict:
    """Every metric of one run's embedding, its reconstruction and its cost.

    ``batches`` is ``None`` unless there are two or more batches.
    """
    from scssl.metrics import knn_cross_validation, leave_one_batch_out, scib_scores

    scores: dict[str, float] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if labels is not None:
            if batches is not None:
                table = leave_one_batch_out(run.embedding, labels, batches)
                knn = {k: float(table.loc["mean", k]) for k in ("macro_f1", "accuracy")}
            else:
                knn = knn_cross_validation(run.embedding, labels, seed=seed)
            scores["knn_macro_f1"], scores["knn_accuracy"] = knn["macro_f1"], knn["accuracy"]
        if scib:
            scores.update(scib_scores(run.embedding, labels, batches))
    for warning in caught:
        if "scssl" not in warning.filename:  # not about the scores: shown as usual
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        elif str(warning.message) not in notes:  # the same for every run: noted once
            notes.append(str(warning.message))
    scores.update({f"masked_{k}": v for k, v in run.reconstruction.items()})
    scores["train_seconds"] = run.seconds
    if run.epochs is not None:
        scores["cells_per_second"] = run.embedding.shape[0] * run.epochs / run.seconds
    return scores


def tables(scored: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy scores and the runs table from ``{(label, seed): (run, scores)}``."""
    rows, run_rows = [], []
    for (label, seed), (run, scores) in scored.items():
        if scores is None:  # run is the error text
            run_rows.append({"method": label, "seed": seed, "status": "failed", "error": run})
            continue
        rows += [
            {"method": label, "seed": seed, "metric": k, "value": v} for k, v in scores.items()
        ]
        run_rows.append(_run_row(label, seed, run))
    runs = pd.DataFrame(run_rows, columns=RUN_COLUMNS)
    runs["budget_stopped"] = runs.budget_stopped.fillna(False).astype(bool)  # failed: False
    runs = runs.astype({"epochs": "Int64", "max_epochs": "Int64"})
    return pd.DataFrame(rows, columns=["method", "seed", "metric", "value"]), runs


def _run_row(name: str, seed: int, run: MethodRun) -> dict:
    return {
        "method": name,
        "seed": seed,
        "status": "ok",
        "seconds": run.seconds,
        "epochs": run.epochs,
        "max_epochs": run.max_epochs,
        "budget_stopped": run.budget_stopped,
    }


def budget_notes(runs: pd.DataFrame, share: float | None) -> list[str]:
    """The time budget per run and the runs it stopped early."""
    if share is None:
        return []
    cut = runs[runs.budget_stopped]
    note = f"time_budget: {share:.3g} s of training per trained run"
    if cut.empty:
        return [note + "; no run needed fewer epochs than planned"]
    listed = ", ".join(
        f"{r.method} seed {r.seed}: {r.epochs}/{r.max_epochs} epochs" for r in cut.itertuples()
    )
    return [f"{note}; stopped early: {listed}"]

"""Classification scores for label transfer: macro- and per-class F1, rare classes, confusion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, precision_recall_fscore_support


def _as_labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(y_pred).astype(str)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(
            f"labels must be 1-D, got shapes {y_true.shape} (true) and {y_pred.shape} (predicted)"
        )
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"{y_true.shape[0]} true labels but {y_pred.shape[0]} predicted labels; "
            "pass one prediction per cell"
        )
    if y_true.shape[0] == 0:
        raise ValueError("no cells to score")
    return y_true, y_pred


def per_class_f1(y_true, y_pred) -> pd.DataFrame:
    """Precision, recall, F1 and support of every class present in ``y_true``.

    Classes that are only predicted (absent from the truth) are not rows: they
    lower the precision of nothing and are reported by :func:`confusion_table`.

    Parameters
    ----------
    y_true
        True label per cell.
    y_pred
        Predicted label per cell.

    Returns
    -------
    DataFrame indexed by class (sorted by decreasing support) with columns
    ``precision``, ``recall``, ``f1``, ``n_cells``.

    Examples
    --------
    >>> per_class_f1(["a", "a", "b"], ["a", "b", "b"])["f1"].round(2).tolist()
    [0.67, 0.67]
    """
    y_true, y_pred = _as_labels(y_true, y_pred)
    classes = np.unique(y_true)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    table = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "n_cells": support.astype(int)},
        index=pd.Index(classes, name=None),
    )
    return table.sort_values("n_cells", ascending=False, kind="stable")


def macro_f1(y_true, y_pred) -> float:
    """F1 averaged over the classes present in ``y_true`` (each class counts once).

    Examples
    --------
    >>> macro_f1(["a", "a", "b"], ["a", "a", "a"])
    0.4
    """
    return float(per_class_f1(y_true, y_pred)["f1"].mean())


def confusion_table(y_true, y_pred, normalize: bool = False) -> pd.DataFrame:
    """Cells per (true label, predicted label); rows true, columns predicted.

    Parameters
    ----------
    y_true
        True label per cell.
    y_pred
        Predicted label per cell.
    normalize
        Divide each row by its total (row = share of a true class given each prediction).

    Examples
    --------
    >>> confusion_table(["a", "a", "b"], ["a", "b", "b"]).to_numpy().tolist()
    [[1, 1], [0, 1]]
    """
    y_true, y_pred = _as_labels(y_true, y_pred)
    table = pd.crosstab(
        pd.Series(y_true, name="true"),
        pd.Series(y_pred, name="predicted"),
        normalize="index" if normalize else False,
    )
    return table


@dataclass(frozen=True)
class ClassificationReport:
    """Scores of a predicted labelling against the truth.

    Attributes
    ----------
    macro_f1
        F1 averaged over the classes present in the truth.
    accuracy
        Share of cells given their true label.
    rare_macro_f1
        Macro-F1 over the rare classes only (``nan`` if there are none).
    rare_classes
        Classes holding less than ``rare_fraction`` of the cells (and their counts).
    per_class
        Output of :func:`per_class_f1` with a boolean ``rare`` column.
    confusion
        Output of :func:`confusion_table`.
    """

    macro_f1: float
    accuracy: float
    rare_macro_f1: float
    rare_classes: dict[str, int]
    per_class: pd.DataFrame
    confusion: pd.DataFrame


def classification_report(y_true, y_pred, rare_fraction: float = 0.02) -> ClassificationReport:
    """Macro- and per-class F1, accuracy, rare classes and the confusion table in one call.

    Parameters
    ----------
    y_true
        True label per cell.
    y_pred
        Predicted label per cell.
    rare_fraction
        A class is rare when it holds fewer than this share of the cells of ``y_true``.

    Examples
    --------
    >>> truth = ["a"] * 99 + ["b"]
    >>> report = classification_report(truth, ["a"] * 100)
    >>> report.rare_classes, round(report.macro_f1, 3), report.rare_macro_f1
    ({'b': 1}, 0.497, 0.0)
    """
    if not 0.0 <= rare_fraction < 1.0:
        raise ValueError(f"rare_fraction must lie in [0, 1), got {rare_fraction}")
    y_true, y_pred = _as_labels(y_true, y_pred)
    table = per_class_f1(y_true, y_pred)
    table["rare"] = table["n_cells"] < rare_fraction * y_true.shape[0]
    rare = table[table["rare"]]
    return ClassificationReport(
        macro_f1=float(table["f1"].mean()),
        accuracy=float(accuracy_score(y_true, y_pred)),
        rare_macro_f1=float(rare["f1"].mean()) if len(rare) else float("nan"),
        rare_classes={str(k): int(v) for k, v in rare["n_cells"].items()},
        per_class=table,
        confusion=confusion_table(y_true, y_pred),
    )

"""k-nearest-neighbour label transfer from reference to query cells."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from ._neighbors import knn_vote, nearest_neighbors


@dataclass(frozen=True)
class KnnTransferResult:
    """Scores of a kNN label transfer.

    Attributes
    ----------
    macro_f1
        F1 averaged over the classes present in the query's true labels.
    accuracy
        Share of query cells given their true label.
    predicted
        Predicted label per query cell.
    """

    macro_f1: float
    accuracy: float
    predicted: np.ndarray


def _check_inputs(embedding: np.ndarray, labels: np.ndarray, name: str) -> None:
    if embedding.ndim != 2:
        raise ValueError(
            f"{name} embedding must be 2-D (cells x dimensions), got {embedding.shape}"
        )
    if embedding.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{name}: {embedding.shape[0]} cells in the embedding but {labels.shape[0]} labels"
        )
    if not np.all(np.isfinite(embedding)):
        raise ValueError(f"{name} embedding holds NaN or infinite values")


def knn_label_transfer(
    reference: np.ndarray,
    reference_labels: np.ndarray,
    query: np.ndarray,
    query_labels: np.ndarray,
    k: int = 15,
) -> KnnTransferResult:
    """Predict query labels by majority vote of their ``k`` nearest reference cells.

    Euclidean distance, uniform weights. Macro-F1 averages over the classes in
    ``query_labels``, so a class absent from the query does not count.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.array([[0.0], [0.1], [5.0], [5.1]]); lab = np.array(["a", "a", "b", "b"])
    >>> knn_label_transfer(ref, lab, np.array([[0.05], [5.05]]), np.array(["a", "b"]), k=1).macro_f1
    1.0
    """
    reference, query = np.asarray(reference), np.asarray(query)
    reference_labels = np.asarray(reference_labels).astype(str)
    query_labels = np.asarray(query_labels).astype(str)
    _check_inputs(reference, reference_labels, "reference")
    _check_inputs(query, query_labels, "query")
    if reference.shape[1] != query.shape[1]:
        raise ValueError(
            f"reference has {reference.shape[1]} dimensions but query has {query.shape[1]}"
        )
    k = min(k, reference.shape[0])
    classes_in_reference, codes = np.unique(reference_labels, return_inverse=True)
    indices, _ = nearest_neighbors(reference, query, k, method="exact")
    winner, _ = knn_vote(codes[indices], len(classes_in_reference))  # ties: first class
    predicted = classes_in_reference[winner]
    classes = np.unique(query_labels)
    macro_f1 = f1_score(query_labels, predicted, labels=classes, average="macro", zero_division=0)
    return KnnTransferResult(
        macro_f1=float(macro_f1),
        accuracy=float(accuracy_score(query_labels, predicted)),
        predicted=predicted,
    )


def leave_one_batch_out(
    embedding: np.ndarray, labels: np.ndarray, batches: np.ndarray, k: int = 15
) -> pd.DataFrame:
    """KNN label transfer with each batch in turn as query and the others as reference.

    Returns
    -------
    One row per held-out batch with ``macro_f1``, ``accuracy`` and ``n_cells``, plus a
    final ``"mean"`` row (unweighted mean over batches).

    Warns when a held-out batch holds cell types that no other batch has: they count
    in that batch's macro-F1 with F1 0 whatever the embedding, which caps the score.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(["a", "b"], 50)
    >>> emb = rng.normal(size=(100, 2)) + (labels == "b")[:, None] * 10
    >>> batches = np.tile(["x", "y"], 50)
    >>> float(leave_one_batch_out(emb, labels, batches).loc["mean", "macro_f1"])
    1.0
    """
    embedding = np.asarray(embedding)
    labels = np.asarray(labels).astype(str)
    batches = np.asarray(batches).astype(str)
    if batches.shape[0] != embedding.shape[0]:
        raise ValueError(f"{embedding.shape[0]} cells but {batches.shape[0]} batch values")
    unique_batches = np.unique(batches)
    if unique_batches.size < 2:
        raise ValueError("leave_one_batch_out needs at least two batches")
    rows, untransferable = {}, {}
    for batch in unique_batches:
        held_out = batches == batch
        absent = sorted(set(labels[held_out]) - set(labels[~held_out]))
        if absent:
            untransferable[batch] = absent
        result = knn_label_transfer(
            embedding[~held_out], labels[~held_out], embedding[held_out], labels[held_out], k=k
        )
        rows[batch] = {
            "macro_f1": result.macro_f1,
            "accuracy": result.accuracy,
            "n_cells": int(held_out.sum()),
        }
    if untransferable:
        listed = "; ".join(f"{b}: {', '.join(c)}" for b, c in untransferable.items())
        warnings.warn(
            "these cell types exist in no batch but the held-out one, so they score F1 0 "
            f"there whatever the embedding: {listed}",
            UserWarning,
            stacklevel=2,
        )
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["mean"] = [table.macro_f1.mean(), table.accuracy.mean(), int(table.n_cells.sum())]
    table["n_cells"] = table["n_cells"].astype(int)
    return table


def knn_cross_validation(
    embedding: np.ndarray, labels: np.ndarray, k: int = 15, n_splits: int = 5, seed: int = 0
) -> dict[str, float]:
    """KNN label transfer scored by stratified k-fold cross-validation over the cells.

    For data without batches: each fold in turn is the query, the rest the reference.
    Returns the mean ``macro_f1`` and ``accuracy`` over folds.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.repeat(["a", "b"], 50)
    >>> emb = np.random.default_rng(0).normal(size=(100, 2)) + (labels == "b")[:, None] * 10
    >>> knn_cross_validation(emb, labels)["macro_f1"]
    1.0
    """
    from sklearn.model_selection import StratifiedKFold

    embedding = np.asarray(embedding)
    labels = np.asarray(labels).astype(str)
    # classes rarer than n_splits cannot be stratified; they stay in every reference fold
    classes, counts = np.unique(labels, return_counts=True)
    splittable = np.isin(labels, classes[counts >= n_splits])
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = []
    index = np.flatnonzero(splittable)
    for _, query_pos in folds.split(index, labels[index]):
        query = np.zeros(labels.shape[0], dtype=bool)
        query[index[query_pos]] = True
        result = knn_label_transfer(
            embedding[~query], labels[~query], embedding[query], labels[query], k=k
        )
        scores.append((result.macro_f1, result.accuracy))
    macro_f1, accuracy = np.mean(scores, axis=0)
    return {"macro_f1": float(macro_f1), "accuracy": float(accuracy)}

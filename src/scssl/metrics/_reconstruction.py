"""Quality of reconstructing held-out (masked) entries."""

from __future__ import annotations

import numpy as np


def masked_reconstruction_error(
    observed: np.ndarray, predicted: np.ndarray, hidden: np.ndarray
) -> dict[str, float]:
    """MSE and explained variance of the predictions on the hidden entries only.

    Explained variance is ``1 - sum((obs - pred)^2) / sum((obs - mean(obs))^2)`` over
    the hidden entries, with the mean taken per gene over its hidden entries (so a
    model predicting each gene's mean scores 0).

    Examples
    --------
    >>> import numpy as np
    >>> obs = np.array([[1.0, 2.0], [3.0, 4.0]]); hid = np.array([[True, False], [True, False]])
    >>> masked_reconstruction_error(obs, obs, hid)
    {'mse': 0.0, 'explained_variance': 1.0, 'n_entries': 2}
    """
    observed, predicted = np.asarray(observed, dtype=float), np.asarray(predicted, dtype=float)
    hidden = np.asarray(hidden, dtype=bool)
    if not observed.shape == predicted.shape == hidden.shape:
        raise ValueError(
            f"shapes differ: observed {observed.shape}, predicted {predicted.shape}, "
            f"hidden {hidden.shape}"
        )
    n = int(hidden.sum())
    if n == 0:
        raise ValueError("no hidden entries to evaluate")
    squared_error = ((observed - predicted) ** 2)[hidden].sum()
    per_gene_count = hidden.sum(axis=0)
    per_gene_mean = np.where(hidden, observed, 0.0).sum(axis=0) / np.maximum(per_gene_count, 1)
    total = ((observed - per_gene_mean[None, :]) ** 2)[hidden].sum()
    explained = 1.0 - squared_error / total if total > 0 else float("nan")
    return {"mse": float(squared_error / n), "explained_variance": float(explained), "n_entries": n}

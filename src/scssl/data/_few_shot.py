"""Few-shot label sets: ``k`` labelled cells per cell type, drawn reproducibly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def sample_per_label(
    labels: Sequence | np.ndarray | pd.Series,
    n_per_label: int,
    *,
    eligible: np.ndarray | None = None,
    exclude: Sequence[str] = (),
    seed: int = 0,
) -> np.ndarray:
    """Choose ``n_per_label`` cells of every label at random; a mask of the chosen cells.

    The labelled set of a few-shot experiment: only cells where ``eligible`` is true
    (for example the reference batches) can be chosen, and a label with fewer eligible
    cells than ``n_per_label`` gives all of them. Missing labels and those in
    ``exclude`` (an unlabelled category) are never chosen. The same ``seed`` gives the
    same cells; each label draws from its own stream, so adding cells of one label
    does not change which cells of another are chosen.

    Parameters
    ----------
    labels
        One label per cell.
    n_per_label
        Cells to choose per label (at least 1).
    eligible
        Boolean mask of the cells that may be chosen; all cells when ``None``.
    exclude
        Labels never chosen.
    seed
        Seed of the draw.

    Returns
    -------
    Boolean mask, ``True`` for the chosen cells.

    Examples
    --------
    >>> labels = ["a", "a", "a", "b", "b", "c"]
    >>> sample_per_label(labels, 2, seed=0).sum()  # 2 of a, 2 of b, the only c
    np.int64(5)
    >>> sample_per_label(labels, 1, eligible=np.array([1, 1, 1, 0, 0, 0], bool)).sum()
    np.int64(1)
    """
    if isinstance(n_per_label, bool) or not isinstance(n_per_label, int | np.integer):
        raise TypeError(f"n_per_label must be an integer, got {n_per_label!r}")
    if n_per_label < 1:
        raise ValueError(f"n_per_label must be at least 1, got {n_per_label}")
    values = pd.Series(np.asarray(labels, dtype=object))
    if eligible is None:
        eligible = np.ones(len(values), dtype=bool)
    eligible = np.asarray(eligible)
    if eligible.dtype != bool or eligible.shape != (len(values),):
        raise ValueError(
            f"eligible must be a boolean mask of one entry per cell ({len(values)}), got "
            f"dtype {eligible.dtype} and shape {eligible.shape}"
        )
    usable = eligible & values.notna().to_numpy() & ~values.isin(list(exclude)).to_numpy()
    names = values.astype(str).to_numpy()
    chosen = np.zeros(len(values), dtype=bool)
    for i, label in enumerate(sorted(set(names[usable]))):
        cells = np.flatnonzero(usable & (names == label))
        rng = np.random.default_rng([seed, i])
        chosen[rng.choice(cells, size=min(n_per_label, len(cells)), replace=False)] = True
    return chosen

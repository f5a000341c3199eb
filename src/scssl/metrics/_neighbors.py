"""Nearest neighbours and the kNN vote: the one search and the one vote every scssl part uses.

:func:`nearest_neighbors` serves label transfer, the kNN metrics, the scib
neighbour graph, mutual nearest neighbours, kNN contrastive partners and the
smoothing of single cells; :func:`knn_vote` serves :func:`scssl.tl.transfer_labels`
and :func:`~scssl.metrics.knn_label_transfer`.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

NeighbourSearch = Literal["auto", "exact", "pynndescent"]
#: above this many reference x query pairs an approximate index beats exact search
EXACT_MAX_PAIRS = 5e7


def nearest_neighbors(
    reference: np.ndarray,
    query: np.ndarray,
    k: int,
    method: NeighbourSearch = "auto",
    random_state: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of the ``k`` nearest reference points of each query point.

    Euclidean distance. ``"exact"`` uses scikit-learn's brute-force search,
    ``"pynndescent"`` an approximate nearest-neighbour-descent index (fast for
    1e5 x 1e5 cells on CPU); ``"auto"`` picks exact search for small problems.
    Passing the same array as ``reference`` and ``query`` gives each point itself
    as its first neighbour.

    Examples
    --------
    >>> import numpy as np
    >>> idx, dist = nearest_neighbors(np.array([[0.0], [1.0], [5.0]]), np.array([[0.9]]), k=2)
    >>> idx.tolist()
    [[1, 0]]
    """
    if method not in get_args(NeighbourSearch):
        raise ValueError(f"method must be one of {get_args(NeighbourSearch)}, got {method!r}")
    if method == "auto":
        pairs = float(reference.shape[0]) * float(query.shape[0])
        method = "exact" if pairs <= EXACT_MAX_PAIRS else "pynndescent"
    if method == "exact":
        from sklearn.neighbors import NearestNeighbors

        search = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=n_jobs).fit(reference)
        distances, indices = search.kneighbors(query)
        return indices, distances
    from pynndescent import NNDescent

    index = NNDescent(
        reference,
        n_neighbors=max(k, 15),
        metric="euclidean",
        random_state=random_state,
        n_jobs=n_jobs if n_jobs is not None else -1,
        low_memory=True,
    )
    indices, distances = index.query(query, k=k)
    return indices, distances


def knn_vote(neighbour_codes: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Majority vote over each row of neighbour class codes (cells x k).

    Returns the winning code per cell (ties: the lowest code) and the share of the
    ``k`` neighbours that voted for it.

    Examples
    --------
    >>> import numpy as np
    >>> winner, share = knn_vote(np.array([[0, 1, 1], [2, 0, 2]]), n_classes=3)
    >>> winner.tolist(), share.round(2).tolist()
    ([1, 2], [0.67, 0.67])
    """
    n_cells, k = neighbour_codes.shape
    votes = np.zeros((n_cells, n_classes), dtype=np.int32)
    np.add.at(votes, (np.repeat(np.arange(n_cells), k), neighbour_codes.ravel()), 1)
    winner = votes.argmax(axis=1)
    return winner, votes[np.arange(n_cells), winner] / k


def mutual_nearest_neighbors(
    embedding: np.ndarray, batches: np.ndarray, k: int = 20, seed: int = 0
) -> np.ndarray:
    """For each cell, one mutual nearest neighbour from another batch (``-1`` if none).

    Two cells ``a`` (batch A) and ``b`` (batch B != A) are mutual nearest neighbours
    when ``b`` is among the ``k`` nearest cells of ``a`` in batch B and ``a`` among the
    ``k`` nearest of ``b`` in batch A (Euclidean distance on ``embedding``, e.g. PCA).
    Among a cell's partners one is chosen at random.

    Returns
    -------
    Integer array ``(n_cells,)`` of row positions of the chosen partner, or ``-1``.

    Examples
    --------
    >>> import numpy as np
    >>> emb = np.array([[0.0], [10.0], [0.1], [10.1]]); batches = np.array(["a", "a", "b", "b"])
    >>> mutual_nearest_neighbors(emb, batches, k=1).tolist()
    [2, 3, 0, 1]
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    batches = np.asarray(batches).astype(str)
    if embedding.ndim != 2 or embedding.shape[0] != batches.shape[0]:
        raise ValueError(
            f"embedding {embedding.shape} and batches {batches.shape} must describe the same cells"
        )
    unique = np.unique(batches)
    if unique.size < 2:
        raise ValueError("mutual nearest neighbours need at least two batches")
    # neighbours[a] = set of (global) cells in other batches among a's k nearest per batch
    neighbours: list[set[int]] = [set() for _ in range(batches.shape[0])]
    positions = {b: np.flatnonzero(batches == b) for b in unique}
    for b in unique:
        target = positions[b]
        others = np.flatnonzero(batches != b)
        found, _ = nearest_neighbors(
            embedding[target], embedding[others], min(k, target.size), method="exact"
        )
        for query_cell, row in zip(others, target[found], strict=True):
            neighbours[query_cell].update(row.tolist())
    rng = np.random.default_rng(seed)
    partner = np.full(batches.shape[0], -1, dtype=np.int64)
    for cell, candidates in enumerate(neighbours):
        mutual = [other for other in candidates if cell in neighbours[other]]
        if mutual:
            partner[cell] = int(rng.choice(sorted(mutual)))
    return partner

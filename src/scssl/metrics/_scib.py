"""Batch-mixing and bio-conservation scores from scib-metrics (optional dependency)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._neighbors import nearest_neighbors

_INSTALL_HINT = (
    "scib_scores needs the optional dependency scib-metrics: "
    "pip install 'scssl[metrics]' (or pip install scib-metrics)"
)


@dataclass(frozen=True)
class ScibConfig:
    """Which scib-metrics scores to compute and with how many neighbours.

    Attributes
    ----------
    n_neighbors
        Neighbours for the kNN-graph metrics (LISI uses ``n_neighbors``, graph
        connectivity and kBET at most 50 and 15 of them).
    kbet
        Also compute kBET per label (the slowest batch metric).
    """

    n_neighbors: int = 90
    kbet: bool = False


def _import_scib():
    try:
        import scib_metrics
        from scib_metrics.nearest_neighbors import NeighborsResults
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT) from error
    return scib_metrics, NeighborsResults


def scib_scores(
    embedding: np.ndarray,
    labels: np.ndarray | None,
    batches: np.ndarray | None,
    config: ScibConfig | None = None,
) -> dict[str, float]:
    """scib-metrics scores of an embedding, with the benchmark's aggregates.

    Bio conservation: silhouette of labels, cLISI, isolated labels, KMeans NMI and
    ARI. Batch correction: BRAS (batch silhouette within labels), iLISI, graph
    connectivity, and kBET if ``config.kbet``. ``bio_conservation`` and
    ``batch_correction`` are the means of their metrics (no min-max scaling across
    methods) and ``total = 0.6 * bio + 0.4 * batch``, as scib-metrics'
    ``Benchmarker`` weighs them. Neighbours are exact (scikit-learn).

    Without ``labels`` only iLISI is computed (the other metrics need labels) and
    ``total`` is the batch score; without ``batches`` (or with one batch) only the bio
    metrics other than isolated labels are, and ``total`` is the bio score.

    Parameters
    ----------
    embedding
        Cells x dimensions.
    labels
        Cell-type label per cell, or ``None``.
    batches
        Batch per cell, or ``None``.
    config
        Metric settings (:class:`ScibConfig`).

    Returns
    -------
    Dict of metric name -> value, all in [0, 1] (higher is better).

    Raises
    ------
    ImportError
        If scib-metrics is not installed, with the install command.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(["a", "b"], 100); batches = np.tile(["x", "y"], 100)
    >>> emb = rng.normal(size=(200, 5)) + 5 * (labels == "b")[:, None]
    >>> scores = scib_scores(emb, labels, batches, ScibConfig(n_neighbors=30))
    >>> bool(scores["bio_conservation"] > 0.7)
    True
    """
    scib_metrics, NeighborsResults = _import_scib()
    config = config or ScibConfig()
    embedding = np.asarray(embedding, dtype=np.float32)
    if labels is not None:
        labels = np.asarray(labels).astype(str)
    if batches is not None:
        batches = np.asarray(batches).astype(str)
        if np.unique(batches).size < 2:
            batches = None
    if labels is None and batches is None:
        raise ValueError("scib_scores needs labels, at least two batches, or both")
    sizes = {a.shape[0] for a in (labels, batches) if a is not None}
    if embedding.ndim != 2 or sizes != {embedding.shape[0]}:
        raise ValueError(
            f"embedding {embedding.shape}, labels and batches ({sorted(sizes)} values) "
            "must describe the same cells"
        )
    if not np.all(np.isfinite(embedding)):
        raise ValueError("embedding holds NaN or infinite values")
    n_neighbors = min(config.n_neighbors, embedding.shape[0] - 1)
    indices, distances = nearest_neighbors(embedding, embedding, n_neighbors, method="exact")
    neighbours = NeighborsResults(indices=indices, distances=distances)
    metrics = scib_metrics.metrics
    bio: dict[str, float] = {}
    batch: dict[str, float] = {}
    if labels is not None:
        nmi_ari = metrics.nmi_ari_cluster_labels_kmeans(embedding, labels)
        bio["silhouette_label"] = float(metrics.silhouette_label(embedding, labels))
        bio["clisi"] = float(metrics.clisi_knn(neighbours, labels))
        if batches is not None:
            bio["isolated_labels"] = float(metrics.isolated_labels(embedding, labels, batches))
        bio["kmeans_nmi"], bio["kmeans_ari"] = float(nmi_ari["nmi"]), float(nmi_ari["ari"])
    if batches is not None:
        if labels is not None:
            batch["bras"] = float(metrics.bras(embedding, labels, batches))
        batch["ilisi"] = float(metrics.ilisi_knn(neighbours, batches))
        if labels is not None:
            connected = neighbours.subset_neighbors(min(15, n_neighbors))
            batch["graph_connectivity"] = float(metrics.graph_connectivity(connected, labels))
        if config.kbet and labels is not None:
            batch["kbet"] = float(
                metrics.kbet_per_label(
                    neighbours.subset_neighbors(min(50, n_neighbors)), batches, labels
                )
            )
    scores: dict[str, float] = {**bio, **batch}
    if bio:
        scores["bio_conservation"] = float(np.mean(list(bio.values())))
    if batch:
        scores["batch_correction"] = float(np.mean(list(batch.values())))
    if bio and batch:
        scores["total"] = 0.6 * scores["bio_conservation"] + 0.4 * scores["batch_correction"]
    else:
        scores["total"] = scores.get("bio_conservation", scores.get("batch_correction", np.nan))
    return scores

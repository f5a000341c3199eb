"""Shared benchmark plumbing: data preparation, peers (PCA, scVI), timing, result tables.

Every benchmark measures scssl side by side with its peers in one run, on the
same genes and cells, and writes a markdown table under ``benchmarks/results/``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scanpy as sc
import scvi
import torch
from anndata import AnnData

import scssl

RESULTS = Path(__file__).resolve().parent / "results"
N_THREADS = 1  # one thread: often faster on the loaded 2-core machine


def set_threads(n: int = N_THREADS) -> None:
    """Fix torch's thread count (recorded in every result table)."""
    torch.set_num_threads(n)


def hvg_subset(adata: AnnData, batch_key: str | None, n_top_genes: int = 2000) -> AnnData:
    """Counts of the ``n_top_genes`` highly variable genes (seurat_v3 on counts, batch-aware)."""
    adata = adata.copy()
    adata.X = adata.X.astype(np.float32)
    sc.pp.filter_genes(adata, min_cells=3)
    sc.pp.highly_variable_genes(
        adata, n_top_genes=n_top_genes, flavor="seurat_v3", batch_key=batch_key
    )
    out = adata[:, adata.var.highly_variable].copy()
    out.layers["counts"] = out.X.copy()
    return out


def baron(n_top_genes: int = 2000) -> AnnData:
    """Baron pancreas, 2000 HVGs, counts in X and layers['counts']; donor / cell_type1."""
    return hvg_subset(scssl.data.baron_pancreas(), "donor", n_top_genes)


def pbmc_3tech(n_top_genes: int = 2000) -> AnnData:
    """pbmc_3tech, 2000 HVGs; chemistry in obs['tech'], labels in obs['cell_type']."""
    return hvg_subset(scssl.data.pbmc_3tech(), "tech", n_top_genes)


@dataclass
class Timed:
    """An embedding with its training time."""

    embedding: np.ndarray
    seconds: float
    n_cells: int
    epochs: int

    @property
    def cells_per_second(self) -> float:
        """Training throughput: cells processed per second over all epochs."""
        return self.n_cells * self.epochs / self.seconds


def timed(fn: Callable[[], tuple[np.ndarray, int]], n_cells: int) -> Timed:
    """Run ``fn`` (returning ``(embedding, epochs)``) and time it."""
    start = time.perf_counter()
    embedding, epochs = fn()
    return Timed(np.asarray(embedding), time.perf_counter() - start, n_cells, epochs)


def benchmark_one(adata: AnnData, label: str, spec: dict, seed: int, **kwargs):
    """One method (a ``scssl.benchmark`` variant ``spec``) and one seed; raise if it failed.

    ``kwargs`` go to ``scssl.benchmark`` (the data hold their genes already, so
    ``n_top_genes=None``). Returns the scores (metric -> value), the run's row and the
    result.
    """
    result = scssl.benchmark(
        adata,
        methods={label: spec},
        seeds=[seed],
        n_top_genes=None,
        progress_bar=False,
        **kwargs,
    )
    if not result.failures.empty:
        raise RuntimeError(f"{label} seed {seed} failed: {result.failures.error.item()}")
    return result.scores.set_index("metric").value, result.runs.iloc[0], result


def cv_score(adata: AnnData, labels_key: str, spec: dict, seed: int) -> dict:
    """5-fold cross-validated kNN (k=15) ``macro_f1`` and training ``seconds`` of one run.

    Through :func:`benchmark_one` on data without batches; ``spec`` names the method
    and its arguments (``{"method": "simclr", "max_epochs": 50, ...}``); scib-metrics
    are not computed.
    """
    work = AnnData(X=adata.X, obs=adata.obs[[labels_key]].copy(), obsm=dict(adata.obsm))
    scores, run, _ = benchmark_one(work, "run", spec, seed, labels_key=labels_key, scib=False)
    return {"macro_f1": float(scores["knn_macro_f1"]), "seconds": float(run.seconds)}


def scvi_embedding(
    adata: AnnData,
    batch_key: str | None,
    seed: int,
    max_epochs: int | None = None,
    n_latent: int = 10,
) -> Timed:
    """scVI (n_latent 10, default architecture) on the same counts; the standard peer.

    ``max_epochs=None`` keeps scVI's own default epoch heuristic.
    """

    def run():
        scvi.settings.seed = seed
        work = AnnData(X=adata.layers["counts"], obs=adata.obs.copy())
        scvi.model.SCVI.setup_anndata(work, batch_key=batch_key)
        model = scvi.model.SCVI(work, n_latent=n_latent)
        model.train(max_epochs=max_epochs, enable_progress_bar=False)
        return model.get_latent_representation(), len(model.history["elbo_train"])

    return timed(run, adata.n_obs)


def pca(adata: AnnData, seed: int, n_comps: int = 50) -> Timed:
    """50 PCs of log1p-normalised counts (scssl.tl.pca_embedding)."""
    return timed(
        lambda: (scssl.tl.pca_embedding(adata, layer="counts", n_comps=n_comps, seed=seed), 1),
        adata.n_obs,
    )


def append_row(path: Path, row: dict) -> None:
    """Append one result row to a CSV (header on the first write): a stopped run keeps its rows."""
    pd.DataFrame([row]).to_csv(path, mode="a", header=not path.exists(), index=False)


def environment_note() -> str:
    """One line recording versions and threads, for the result tables."""
    device = f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU"
    return (
        f"python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads, {device}), scvi-tools {scvi.__version__}, "
        f"scssl {scssl.__version__}, {platform.processor() or platform.machine()}"
    )


def write_markdown(path: Path, title: str, sections: list[tuple[str, pd.DataFrame | str]]) -> None:
    """Write a result file: a title, then (heading, table or text) sections."""
    lines = [f"# {title}", "", f"_Environment: {environment_note()}_", ""]
    for heading, body in sections:
        lines += [f"## {heading}", ""]
        lines += [body.to_markdown(floatfmt=".3f") if isinstance(body, pd.DataFrame) else body, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))

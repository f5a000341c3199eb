"""Contrastive self-supervision vs MaskedAE, PCA and scVI on two multi-batch datasets.

Datasets (2000 batch-aware HVGs, raw counts): Baron pancreas (4 donors,
``cell_type1``) and pbmc_3tech (3 10x chemistries, ``cell_type``). Methods:
PCA (50 PCs), scVI (n_latent 10, batch covariate), MaskedAE (defaults, batch in
the decoder), the four joint-embedding objectives of ``scssl.model.Contrastive``
(defaults: no batch covariate in the encoder), SimCLR and VICReg with the
batch-aware positive pair (for half of the cells the second view is a mutual
nearest neighbour from another batch: ``mnn_prob=0.5``, partners from
``scssl.tl.mnn_pairs`` with its defaults, 30 PCs, k=20), and the
MaskedContrastive hybrid (defaults: VICReg term with weight 0.1). Seeds 0, 1,
2; every model is trained in the same run, on the same cells and genes, with
minibatches of 128 cells.

Scores: leave-one-batch-out kNN (k=15) macro-F1 and accuracy (each batch in turn
is the query, the others the reference; mean over batches); scib-metrics
bio-conservation and batch-correction aggregates (``scssl.metrics.scib_scores``:
silhouette label, cLISI, isolated labels, KMeans NMI/ARI | BRAS, iLISI, graph
connectivity; unscaled means, total = 0.6 bio + 0.4 batch); training throughput
(cells x epochs / second, including set-up and embedding) as a ratio to scVI's.

    nohup .venv/bin/python benchmarks/contrastive.py > /tmp/contrastive_bench.log 2>&1 &

Environment: ``SCSSL_BENCH_SEEDS`` (default ``0,1,2``), ``SCSSL_BENCH_SSL_EPOCHS``
(default 30), ``SCSSL_BENCH_SCVI_EPOCHS`` (default 60) for quick checks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import scvi
from _common import RESULTS, Timed, baron, pbmc_3tech, pca, scvi_embedding, set_threads, timed
from _common import write_markdown as _write
from anndata import AnnData

import scssl

SEEDS = [int(s) for s in os.environ.get("SCSSL_BENCH_SEEDS", "0,1,2").split(",")]
SSL_EPOCHS = int(os.environ.get("SCSSL_BENCH_SSL_EPOCHS", "30"))
SCVI_EPOCHS = int(os.environ.get("SCSSL_BENCH_SCVI_EPOCHS", "60"))
BATCH_SIZE = 128
OUT = RESULTS / "contrastive.md"
EARLIER = """A first run injected the batch into the contrastive encoders
(``encode_covariates=True``) and was stopped after Baron seed 0, because it did
not use the models' defaults. Its Baron seed-0 kNN macro-F1: PCA 0.797, scVI
0.793, MaskedAE 0.795, SimCLR 0.674, BYOL 0.684, Barlow Twins 0.648, VICReg 0.671,
MaskedContrastive 0.707. A separate check of SimCLR without the covariate on the
same split gave 0.744, which led to this run using the defaults (no covariate)."""
CONTRASTIVE = ["SimCLR", "BYOL", "Barlow Twins", "VICReg"]
MNN_VARIANTS = ["SimCLR", "VICReg"]
MNN_KEY = "scssl_mnn_partner"
METHOD_KEYS = {
    "SimCLR": "simclr",
    "BYOL": "byol",
    "Barlow Twins": "barlow_twins",
    "VICReg": "vicreg",
}

DATASETS: dict[str, tuple[Callable[[], AnnData], str, str]] = {
    "Baron (4 donors)": (baron, "donor", "cell_type1"),
    "pbmc_3tech (3 chemistries)": (pbmc_3tech, "tech", "cell_type"),
}


def ssl_embedding(
    model_cls,
    adata: AnnData,
    batch_key: str,
    seed: int,
    epochs: int,
    mnn_key: str | None = None,
    **model_kwargs,
) -> Timed:
    """Train an scssl model on the counts and return its timed embedding."""

    def run():
        scvi.settings.seed = seed
        keys = [batch_key] + ([mnn_key] if mnn_key else [])
        work = AnnData(X=adata.layers["counts"], obs=adata.obs[keys].copy())
        setup = {"mnn_key": mnn_key} if mnn_key else {}
        model_cls.setup_anndata(work, batch_key=batch_key, **setup)
        model = model_cls(work, **model_kwargs)
        model.train(max_epochs=epochs, batch_size=BATCH_SIZE, enable_progress_bar=False)
        return model.get_latent_representation(), epochs

    return timed(run, adata.n_obs)


def runners(adata: AnnData, batch_key: str, seed: int) -> dict[str, Callable[[], Timed]]:
    out: dict[str, Callable[[], Timed]] = {
        "PCA": lambda: pca(adata, seed),
        "scVI": lambda: scvi_embedding(adata, batch_key, seed, max_epochs=SCVI_EPOCHS),
        "MaskedAE": lambda: ssl_embedding(scssl.model.MaskedAE, adata, batch_key, seed, SSL_EPOCHS),
    }
    for name in CONTRASTIVE:
        out[name] = lambda key=METHOD_KEYS[name]: ssl_embedding(
            scssl.model.Contrastive,
            adata,
            batch_key,
            seed,
            SSL_EPOCHS,
            method=key,
        )
    for name in MNN_VARIANTS:
        out[f"{name} + MNN"] = lambda key=METHOD_KEYS[name]: ssl_embedding(
            scssl.model.Contrastive,
            adata,
            batch_key,
            seed,
            SSL_EPOCHS,
            mnn_key=MNN_KEY,
            method=key,
            mnn_prob=0.5,
        )
    out["MaskedContrastive"] = lambda: ssl_embedding(
        scssl.model.MaskedContrastive, adata, batch_key, seed, SSL_EPOCHS
    )
    return out


def _mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=0):.3f}"


def summarise(rows: list[dict]) -> list[tuple[str, pd.DataFrame | str]]:
    table = pd.DataFrame(rows)
    sections: list[tuple[str, pd.DataFrame | str]] = []
    summary_lines = []
    for dataset, part in table.groupby("dataset", sort=False):
        scvi_f1 = part.loc[part.method == "scVI", "macro_f1"].mean()
        scvi_speed = part.loc[part.method == "scVI", "cells_per_s"].mean()
        grouped = part.groupby("method", sort=False)
        summary = pd.DataFrame(
            {
                "seeds": grouped.size(),
                "kNN macro-F1": grouped.macro_f1.apply(_mean_sd),
                "kNN accuracy": grouped.accuracy.apply(_mean_sd),
                "macro-F1 / scVI": grouped.macro_f1.mean() / scvi_f1,
                "bio conservation": grouped.bio_conservation.mean(),
                "batch correction": grouped.batch_correction.mean(),
                "scib total": grouped.total.mean(),
                "train s": grouped.seconds.mean(),
                "throughput / scVI": grouped.cells_per_s.mean() / scvi_speed,
            }
        )
        sections.append((dataset, summary))
        names = CONTRASTIVE + [f"{n} + MNN" for n in MNN_VARIANTS]
        contrastive = part[part.method.isin(names)]
        if not contrastive.empty and not np.isnan(scvi_f1):
            best = contrastive.groupby("method").macro_f1.mean()
            name, value = best.idxmax(), best.max()
            # a difference below 0.005 macro-F1 is within seed noise here: call it level
            if abs(value - scvi_f1) < 0.005:
                verdict = "is level with (difference below 0.005)"
            else:
                verdict = "beats" if value > scvi_f1 else "does not beat"
            summary_lines.append(
                f"- {dataset}: best contrastive method {name} (macro-F1 {value:.4f}) "
                f"{verdict} scVI ({scvi_f1:.4f}); ratio {value / scvi_f1:.3f}."
            )
    detail_cols = [
        "dataset",
        "seed",
        "method",
        "macro_f1",
        "accuracy",
        "bio_conservation",
        "batch_correction",
        "total",
        "seconds",
        "cells_per_s",
    ]
    per_metric = table.drop(columns=[c for c in detail_cols if c not in ("dataset", "method")])
    per_metric = per_metric.groupby(["dataset", "method"], sort=False).mean(numeric_only=True)
    return [
        ("Target: best contrastive method vs scVI (kNN macro-F1)", "\n".join(summary_lines)),
        *sections,
        ("scib-metrics components (mean over seeds)", per_metric),
        ("All runs", table[detail_cols].set_index(["dataset", "seed", "method"])),
    ]


def write(rows: list[dict], started: float, complete: bool) -> None:
    status = "complete" if complete else "PARTIAL (run in progress or interrupted)"
    protocol = __doc__.split("\n\n    nohup")[0]
    settings = (
        f"Seeds {SEEDS}; SSL models {SSL_EPOCHS} epochs, scVI {SCVI_EPOCHS} epochs "
        f"(scVI's own heuristic would give 400 here: shortened for the 2-core machine); "
        f"minibatch {BATCH_SIZE}. Status: {status}; "
        f"wall time so far {(time.perf_counter() - started) / 60:.1f} min."
    )
    _write(
        OUT,
        "Contrastive self-supervision vs MaskedAE, PCA and scVI",
        [("Protocol", protocol + "\n\n" + settings), *summarise(rows), ("Earlier run", EARLIER)],
    )


def main() -> None:
    set_threads()
    started = time.perf_counter()
    data = {
        name: (load(), batch_key, labels_key)
        for name, (load, batch_key, labels_key) in DATASETS.items()
    }
    for adata, batch_key, _ in data.values():
        scssl.tl.mnn_pairs(adata, batch_key=batch_key, layer="counts", key_added=MNN_KEY)
    rows: list[dict] = []
    for seed in SEEDS:
        for dataset, (adata, batch_key, labels_key) in data.items():
            labels = adata.obs[labels_key].to_numpy()
            batches = adata.obs[batch_key].to_numpy()
            for method, run in runners(adata, batch_key, seed).items():
                result = run()
                knn = scssl.metrics.leave_one_batch_out(result.embedding, labels, batches)
                scib = scssl.metrics.scib_scores(result.embedding, labels, batches)
                rows.append(
                    {
                        "dataset": dataset,
                        "seed": seed,
                        "method": method,
                        "macro_f1": knn.loc["mean", "macro_f1"],
                        "accuracy": knn.loc["mean", "accuracy"],
                        "seconds": result.seconds,
                        "cells_per_s": result.cells_per_second,
                        **scib,
                    }
                )
                print(
                    f"[{(time.perf_counter() - started) / 60:5.1f} min] {dataset} seed {seed} "
                    f"{method}: macro-F1 {rows[-1]['macro_f1']:.3f}, "
                    f"total {scib['total']:.3f}, {result.seconds:.0f} s",
                    flush=True,
                )
                write(rows, started, complete=False)
    write(rows, started, complete=True)


if __name__ == "__main__":
    main()

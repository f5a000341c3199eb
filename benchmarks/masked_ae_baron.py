"""MaskedAE vs PCA vs scVI on Baron human pancreas (issue: foundation, item 10).

Same 2000 highly variable genes (seurat_v3 on counts, donor-aware) and the same
2142 cells for every method; 3 seeds; all in one run.
- Leave-one-donor-out kNN label transfer (k=15) on each embedding: each of the
  4 donors in turn is the query, the other three the reference; macro-F1 and
  accuracy averaged over the 4 folds. The embeddings are learnt without labels
  on all cells (self-supervised), as a user would.
- Training throughput: cells processed per second (cells x epochs / seconds),
  and its ratio to scVI measured in the same run.
Peers: PCA = 50 PCs of log1p(counts / library * 1e4); scVI = n_latent 10, batch
= donor, its default epoch heuristic. MaskedAE: package defaults, no batch key.

    .venv/bin/python benchmarks/masked_ae_baron.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scvi
from _common import RESULTS, baron, pca, scvi_embedding, set_threads, timed, write_markdown

import scssl

SEEDS = [0, 1, 2]
LABELS, BATCH = "cell_type1", "donor"


def masked_ae(adata, seed: int, batch_key: str | None = None):
    def run():
        scvi.settings.seed = seed
        work = adata.copy()
        scssl.model.MaskedAE.setup_anndata(work, layer="counts", batch_key=batch_key)
        model = scssl.model.MaskedAE(work)
        model.train(enable_progress_bar=False)
        return model.get_latent_representation(), len(model.history["train_loss"])

    return timed(run, adata.n_obs)


def main() -> None:
    set_threads()
    adata = baron()
    labels = adata.obs[LABELS].to_numpy()
    donors = adata.obs[BATCH].to_numpy()
    methods = {
        "PCA": lambda seed: pca(adata, seed),
        "scVI": lambda seed: scvi_embedding(adata, BATCH, seed),
        "MaskedAE": lambda seed: masked_ae(adata, seed),
        "MaskedAE (batch_key=donor)": lambda seed: masked_ae(adata, seed, BATCH),
    }
    rows, per_donor = [], []
    for seed in SEEDS:
        for name, fn in methods.items():
            result = fn(seed)
            table = scssl.metrics.leave_one_batch_out(result.embedding, labels, donors, k=15)
            rows.append(
                {
                    "method": name,
                    "seed": seed,
                    "macro_f1": table.loc["mean", "macro_f1"],
                    "accuracy": table.loc["mean", "accuracy"],
                    "train_seconds": result.seconds,
                    "epochs": result.epochs,
                    "cells_per_s": result.cells_per_second if name != "PCA" else np.nan,
                }
            )
            per_donor.append(table.drop(index="mean").assign(method=name, seed=seed))
            print(rows[-1], flush=True)
    runs = pd.DataFrame(rows)
    summary = runs.groupby("method", sort=False).agg(
        macro_f1=("macro_f1", "mean"),
        macro_f1_sd=("macro_f1", "std"),
        accuracy=("accuracy", "mean"),
        accuracy_sd=("accuracy", "std"),
        epochs=("epochs", "mean"),
        train_seconds=("train_seconds", "mean"),
        cells_per_s=("cells_per_s", "mean"),
    )
    summary["macro_f1_ratio_to_scVI"] = summary.macro_f1 / summary.loc["scVI", "macro_f1"]
    summary["throughput_ratio_to_scVI"] = summary.cells_per_s / summary.loc["scVI", "cells_per_s"]
    donors_table = (
        pd.concat(per_donor)
        .rename_axis("donor")
        .reset_index()
        .groupby(["method", "donor"], sort=False)["macro_f1"]
        .mean()
        .unstack()
    )
    best = summary.drop(index="PCA").macro_f1.idxmax()
    verdict = (
        f"MaskedAE macro-F1 {summary.loc['MaskedAE', 'macro_f1']:.3f} vs scVI "
        f"{summary.loc['scVI', 'macro_f1']:.3f} (ratio "
        f"{summary.loc['MaskedAE', 'macro_f1_ratio_to_scVI']:.3f}); target (>= scVI) "
        f"{'met' if summary.loc['MaskedAE', 'macro_f1_ratio_to_scVI'] >= 1 else 'NOT met'}. "
        f"Best learnt embedding: {best}."
    )
    write_markdown(
        RESULTS / "masked_ae_baron.md",
        "MaskedAE vs PCA vs scVI: Baron pancreas, leave-one-donor-out kNN",
        [
            ("Protocol", __doc__.split("\n\n    ")[0]),
            ("Summary (mean and sd over 3 seeds)", summary),
            ("Verdict", verdict),
            ("Macro-F1 per held-out donor (mean over seeds)", donors_table),
            ("All runs", runs.set_index(["method", "seed"])),
        ],
    )
    print(verdict)


if __name__ == "__main__":
    main()

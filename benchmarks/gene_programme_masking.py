"""Gene-programme masking vs random masking on Baron pancreas (issue 3).

Four MaskedAE strategies, same data, architecture and epochs, 3 seeds each:

* ``random``: 50% of genes per cell (the MaskedAE default);
* ``gene_programme``: all genes of a random subset of programmes per cell; the
  programme fraction is fixed *before training* so that the expected share of
  hidden genes matches random masking (~50%);
* ``gp_to_gp``: one programme visible per cell, the rest predicted;
* ``gp_to_tf``: one TF's targets visible per cell, the TF predicted.

Programmes: MSigDB Hallmark + C8 cell-type signatures + Reactome (5-300 genes in
the data) for ``gene_programme`` / ``gp_to_gp``; MSigDB C3 TF-target sets whose TF
is in Lambert et al. 2018 and in the data for ``gp_to_tf``.

Metrics: leave-one-donor-out kNN (k=15) macro-F1 on the embedding; on the
validation cells (10%, never fitted): explained variance of randomly hidden
genes (15%), of hidden Hallmark programmes (median over programmes), of the rest
of the cell from one Hallmark programme (isolated), and the correlation between
predicted and observed TF expression from the TF's targets (median over TFs).
Per-programme tables over all programmes come from seed 0 (hidden-programme
tables for every strategy, isolated-programme tables for ``gp_to_gp``).

Run: ``.venv/bin/python benchmarks/gene_programme_masking.py`` (about 15-25 min on
two loaded CPU cores). Set ``SCSSL_BENCH_QUICK=1`` for a 2-epoch smoke run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scvi

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, baron, pca, set_threads, write_markdown  # noqa: E402

import scssl  # noqa: E402
from scssl.data import GeneProgrammes  # noqa: E402

QUICK = os.environ.get("SCSSL_BENCH_QUICK") == "1"
SEEDS = [0] if QUICK else [0, 1, 2]
MAX_EPOCHS = 2 if QUICK else 60
STRATEGIES = ["random", "gene_programme", "gp_to_gp", "gp_to_tf"]
MODEL = {"n_latent": 32, "n_hidden": 256, "n_layers": 2, "mask_ratio": 0.5}
OUT = RESULTS / ("gene_programme_masking_quick.md" if QUICK else "gene_programme_masking.md")


def programmes(adata) -> tuple[GeneProgrammes, GeneProgrammes, GeneProgrammes, list[str]]:
    """(pathway/cell-type programmes, Hallmark panel, C3 TF programmes, coverage notes)."""
    root = scssl.data.data_dir()
    gmt = root / "gene_programs"
    hallmark = GeneProgrammes.from_gmt(gmt / "h.all.v7.0.symbols.gmt")
    collection = hallmark.concat(
        GeneProgrammes.from_gmt(gmt / "c8.all.v7.5.1.symbols.gmt"),
        GeneProgrammes.from_gmt(gmt / "c2.cp.reactome.v7.5.1.symbols.gmt"),
    )
    gp = collection.align(adata, min_genes=5, max_genes=300)
    panel = hallmark.align(adata, min_genes=5, max_genes=300)
    c3 = GeneProgrammes.from_gmt(gmt / "c3.tft.v7.5.1.symbols.gmt", tf_from_name=True)
    tfs = c3.align(adata, min_genes=5, max_genes=300, tf_list=root / "tf" / "lambert2018.txt")
    notes = []
    for label, aligned in [("Hallmark+C8+Reactome", gp), ("C3 TF targets", tfs)]:
        cov = aligned.coverage()
        notes.append(
            f"- {label}: {cov['programmes_kept']} of {cov['programmes_in']} programmes kept "
            f"(dropped: {cov['dropped_by_reason']}); {cov['genes_covered']} of "
            f"{cov['genes_in_data']} genes covered; median size {cov['median_programme_size']:.0f}"
        )
    notes.append(f"- C3 TF programmes cover {len(set(tfs.tfs.values()))} distinct TFs")
    return gp, panel, tfs, notes


def matched_fraction(membership: np.ndarray, target: float) -> float:
    """Programme fraction whose expected share of hidden genes equals ``target``."""
    per_gene = membership.sum(axis=0)
    lo, hi = 1e-4, 0.999
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 - (1 - mid) ** per_gene).mean() < target:
            lo = mid
        else:
            hi = mid
    return round((lo + hi) / 2, 4)


def run_one(adata, strategy, seed, gp, panel, tfs, fraction, full_tables):
    scvi.settings.seed = seed
    kwargs = dict(MODEL)
    if strategy == "gene_programme":
        kwargs.update(programmes=gp, programme_fraction=fraction)
    elif strategy == "gp_to_gp":
        kwargs.update(programmes=gp)
    elif strategy == "gp_to_tf":
        kwargs.update(programmes=tfs)
    model = scssl.model.MaskedAE(adata, masking=strategy, **kwargs)
    start = time.perf_counter()
    model.train(max_epochs=MAX_EPOCHS, enable_progress_bar=False, check_val_every_n_epoch=10)
    seconds = time.perf_counter() - start
    z = model.get_latent_representation()
    knn = scssl.metrics.leave_one_batch_out(
        z, adata.obs["cell_type1"].to_numpy(), adata.obs["donor"].to_numpy(), k=15
    )
    held = model.validation_indices
    random15 = scssl.metrics.masked_reconstruction_error(
        **model.get_masked_reconstruction(indices=held, mask_ratio=0.15, seed=seed)
    )
    masked = scssl.tl.programme_reconstruction(model, gp if full_tables else panel)
    # the isolated task over every programme only where it is the training task
    isolated = scssl.tl.programme_reconstruction(
        model, gp if full_tables and strategy == "gp_to_gp" else panel, mode="isolated"
    )
    tf_targets = scssl.tl.tf_prediction(model, tfs, context="targets")
    tf_all = scssl.tl.tf_prediction(model, tfs, context="all")
    history = model.history
    row = {
        "strategy": strategy,
        "seed": seed,
        "macro_f1": knn.loc["mean", "macro_f1"],
        "accuracy": knn.loc["mean", "accuracy"],
        "random15_ev": random15["explained_variance"],
        "hallmark_masked_ev": masked.loc[panel.names, "explained_variance"].median(),
        "hallmark_isolated_ev": isolated.loc[panel.names, "explained_variance"].median(),
        "tf_r_from_targets": tf_targets["pearson_r"].median(),
        "tf_r_from_all": tf_all["pearson_r"].median(),
        "masked_fraction": float(history["masked_fraction_train"].iloc[-1, 0]),
        "loss_fraction": float(history["loss_fraction_train"].iloc[-1, 0]),
        "train_s": seconds,
    }
    tables = {"masked": masked, "isolated": isolated, "tf_targets": tf_targets, "tf_all": tf_all}
    return row, tables


def top_table(table: pd.DataFrame, metric: str, n: int = 10, extra=()) -> pd.DataFrame:
    cols = [*extra, "n_genes" if "n_genes" in table else "n_targets", metric]
    ranked = table.sort_values(metric, ascending=False)
    return pd.concat([ranked.head(n), ranked.tail(3)])[cols]


def main() -> None:
    set_threads()
    t0 = time.perf_counter()
    adata = baron()
    scssl.model.MaskedAE.setup_anndata(adata, layer="counts", batch_key="donor")
    gp, panel, tfs, notes = programmes(adata)
    fraction = matched_fraction(gp.membership_dense(), MODEL["mask_ratio"])
    print("\n".join(notes), f"\nprogramme_fraction={fraction}", flush=True)

    rows, seed0 = [], {}
    partial = RESULTS / "gene_programme_masking_partial.csv"
    for seed in SEEDS:
        for strategy in STRATEGIES:
            row, tables = run_one(
                adata, strategy, seed, gp, panel, tfs, fraction, full_tables=seed == SEEDS[0]
            )
            rows.append(row)
            if seed == SEEDS[0]:
                seed0[strategy] = tables
            print(pd.Series(row).to_string(), flush=True)
            pd.DataFrame(rows).to_csv(partial, index=False)

    per_seed = pd.DataFrame(rows)
    metrics = [
        "macro_f1",
        "accuracy",
        "random15_ev",
        "hallmark_masked_ev",
        "hallmark_isolated_ev",
        "tf_r_from_targets",
        "tf_r_from_all",
        "masked_fraction",
        "loss_fraction",
        "train_s",
    ]
    grouped = per_seed.groupby("strategy", sort=False)[metrics]
    mean, sd = grouped.mean(), grouped.std()
    summary = mean.copy().astype(object)
    for col in metrics:
        summary[col] = [f"{m:.3f} ± {s:.3f}" for m, s in zip(mean[col], sd[col].fillna(0))]
    pca_knn = [
        scssl.metrics.leave_one_batch_out(
            pca(adata, seed).embedding,
            adata.obs["cell_type1"].to_numpy(),
            adata.obs["donor"].to_numpy(),
            k=15,
        ).loc["mean", "macro_f1"]
        for seed in SEEDS
    ]
    pca_line = (
        "PCA (50 PCs of log1p-normalised counts), same kNN protocol: macro-F1 "
        f"{np.mean(pca_knn):.3f} ± {np.std(pca_knn, ddof=1) if len(pca_knn) > 1 else 0:.3f}"
    )
    ratios = (mean["macro_f1"] / mean.loc["random", "macro_f1"]).rename("macro_f1 / random")

    # -- per-programme / per-TF tables (seed 0) ------------------------------------------------
    gp_masked = seed0["gene_programme"]["masked"]
    rnd_masked = seed0["random"]["masked"]
    compare = pd.DataFrame(
        {
            "gene_programme EV": gp_masked["explained_variance"],
            "random EV": rnd_masked["explained_variance"],
            "n_genes": gp_masked["n_genes"],
        }
    )
    compare["difference"] = compare["gene_programme EV"] - compare["random EV"]
    better = (compare["difference"] > 0).mean()
    tf_runs = [seed0[s]["tf_targets"] for s in STRATEGIES]
    tf_compare = pd.DataFrame({f"{s} r": t["pearson_r"] for s, t in zip(STRATEGIES, tf_runs)}).join(
        seed0["gp_to_tf"]["tf_targets"][["tf", "n_targets", "frac_expressed"]]
    )
    tf_compare = tf_compare.sort_values("gp_to_tf r", ascending=False)
    scssl.pl.programme_ranking(
        gp_masked,
        n=12,
        title="gene_programme masking, seed 0: programmes predicted best / worst when hidden",
        save=RESULTS / "gene_programme_masking_programmes.png",
    )
    scssl.pl.programme_ranking(
        seed0["gp_to_tf"]["tf_targets"],
        metric="pearson_r",
        label="tf",
        n=10,
        title="gp_to_tf masking, seed 0: TFs predicted best / worst from their targets",
        save=RESULTS / "gene_programme_masking_tfs.png",
    )

    minutes = (time.perf_counter() - t0) / 60
    protocol = "\n".join(
        [
            f"Baron pancreas, {adata.n_obs} cells x {adata.n_vars} HVGs (seurat_v3, donor-aware), "
            f"4 donors, 14 cell types. MaskedAE {MODEL}, MSE on log1p-normalised counts, donor as "
            f"decoder covariate, {MAX_EPOCHS} epochs, batch 128, lr 1e-3, 90/10 train/validation "
            f"split drawn from the seed (the same cells for every strategy at a seed); seeds "
            f"{SEEDS}. Wall time {minutes:.1f} min.",
            "",
            *notes,
            f"- gene_programme masks {fraction} of the programmes per cell: the fraction was "
            f"computed before training so that the expected share of hidden genes equals random "
            f"masking's {MODEL['mask_ratio']} (see masked_fraction).",
            "",
            "Columns: macro_f1 / accuracy = leave-one-donor-out kNN (k=15) label transfer, mean "
            "over the 4 held-out donors. On validation cells: random15_ev = explained variance of "
            "15% randomly hidden entries; hallmark_masked_ev = median over Hallmark programmes of "
            "the explained variance of a programme's genes when that programme is hidden; "
            "hallmark_isolated_ev = the same for all other genes when only the programme is "
            "visible; tf_r_from_targets / tf_r_from_all = median over C3 TF programmes of the "
            "Pearson r between predicted and observed TF expression, with only the targets "
            "visible / everything but the TF visible. Explained variance is relative to each "
            "gene's mean over the validation cells (0 = no better than the mean).",
        ]
    )
    sections = [
        ("Protocol", protocol),
        ("Summary (mean ± sd over seeds)", summary),
        ("kNN macro-F1 relative to random masking", ratios.to_frame()),
        ("Peer", pca_line),
        ("Per seed", per_seed.set_index(["strategy", "seed"])),
        (
            "Programmes predicted best and worst when hidden (gene_programme model, seed 0)",
            top_table(gp_masked, "explained_variance", extra=("gene_r",)),
        ),
        (
            "Same programmes under random masking (seed 0)",
            f"Over all {len(compare)} programmes the gene_programme model explains more variance "
            f"of a hidden programme than the random-masking model for {better:.0%} of them "
            f"(median difference {compare['difference'].median():+.3f}).\n\n"
            + compare.sort_values("gene_programme EV", ascending=False)
            .head(10)
            .to_markdown(floatfmt=".3f"),
        ),
        (
            "Programmes from which the rest of the cell is predicted best (gp_to_gp, seed 0)",
            top_table(seed0["gp_to_gp"]["isolated"], "explained_variance", extra=("gene_r",)),
        ),
        (
            "TFs predicted from their targets (seed 0; r per strategy, best gp_to_tf first)",
            pd.concat([tf_compare.head(15), tf_compare.tail(5)]),
        ),
        (
            "Figures",
            "gene_programme_masking_programmes.png, gene_programme_masking_tfs.png "
            "(scssl.pl.programme_ranking).",
        ),
    ]
    write_markdown(OUT, "Gene-programme masking vs random masking (Baron pancreas)", sections)
    partial.unlink(missing_ok=True)
    print(f"wrote {OUT} in {minutes:.1f} min", flush=True)


if __name__ == "__main__":
    main()

"""Does the sparse path learn as good an embedding as the dense path? Baron, all genes.

Issue "Atlas scale", item 5: "kNN macro-F1 on Baron within one seed sd of the dense
path". Baron pancreas with all 20,125 genes (no gene selection), 2,142 cells; package
defaults (100 epochs for this size, minibatch 128), seeds 0-2, one torch thread.
- MaskedAE dense path: the counts as a dense matrix (the decoder evaluates every gene).
- MaskedAE sparse path: the same counts as CSR (sparse first layer) with the package
  default ``decoder_gene_fraction``. In the first run that default was 0.25 (the decoder
  on a fresh quarter of the genes each step, weighted to the same loss in
  expectation); since then it is 1.0 (every gene, the exact objective). The 0.25 rows
  are in ``results/scale_sparse_quality_runs.csv`` and in the first run's table (git
  history of ``results/scale_sparse_quality.md``).
- SimCLR with noise on every gene vs ``noise_nonzero_only=True``, seed 0 only (an
  indication, not a decision).
- PCA (50 PCs of log-normalised counts) as the reference point.
Score: leave-one-donor-out kNN (k=15) macro-F1, mean over the four held-out donors.

Third run (after the sparse random-mask loss became its expectation over the hidden
zeros, ``MaskedAEModule._random_mask_loss``): the default sparse path and
``decoder_gene_fraction=0.25`` again, against the same rule, fixed before this run: the
sparse default must meet it, and the default becomes 0.25 only if 0.25 meets it too.

Fourth run (2026-12-07): since the third, the first layer's code changed (its weight
stored gene-major, its gradient an embedding-bag over the entries grouped by gene, one
encoder forward for dense and CSR input). It computes the same sums in another order, so
training follows another floating-point path, and ``masked_ae_decoder_width.py``'s rerun
of the sparse default scored 0.784 against this file's 0.796. Every row is rerun with
the current code, against the same rule; its rows go to a new CSV. ``--extra-seeds``
trains the dense and sparse paths on seeds 3-5 as well: added after that 0.784 was
seen, descriptive only, so that the table shows how far seeds alone move each path.

Decision rule, fixed before the first run: the default ``decoder_gene_fraction=0.25``
stays if the sparse path's mean over the three seeds is at least the dense path's mean
minus the dense path's seed sd; otherwise the default becomes 1.0 (every gene, the
exact dense objective). First run (commit "scale_sparse_quality: first run"): sparse
0.720 vs dense 0.793 - 0.007, not met, so the default became 1.0; this rerun checks
the new default against the same rule.

    cd benchmarks && ../.venv/bin/python scale_sparse_quality.py
    cd benchmarks && ../.venv/bin/python scale_sparse_quality.py --extra-seeds  # descriptive
    cd benchmarks && ../.venv/bin/python scale_sparse_quality.py --report  # table from the CSVs
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import scvi
from _common import RESULTS, append_row, set_threads, write_markdown
from anndata import AnnData
from scipy import sparse

import scssl

SEEDS = [0, 1, 2]
LABELS, BATCH = "cell_type1", "donor"
QUARTER = "MaskedAE sparse path, decoder_gene_fraction=0.25"
RUNS_CSV = RESULTS / "scale_sparse_quality_runs_2026-12-07.csv"
EXTRA_SEEDS = [3, 4, 5]
EXTRA_CSV = RESULTS / "scale_sparse_quality_runs_2026-12-07_extra_seeds.csv"
EXTRA_NOTE = (
    "Run after the fourth run's verdict and not part of the rule: the dense and the sparse "
    "path on three more seeds, to tell a seed-to-seed spread from a difference between "
    "the paths. The verdict above stays the rule's."
)


def lobo_f1(embedding: np.ndarray, adata: AnnData) -> float:
    table = scssl.metrics.leave_one_batch_out(
        embedding, adata.obs[LABELS].to_numpy(), adata.obs[BATCH].to_numpy(), k=15
    )
    return float(table.loc["mean", "macro_f1"])


def train_embed(cls, adata: AnnData, seed: int, **kwargs) -> tuple[np.ndarray, float]:
    scvi.settings.seed = seed
    work = adata.copy()
    cls.setup_anndata(work)
    model = cls(work, **kwargs)
    start = time.perf_counter()
    model.train(batch_size=128, enable_progress_bar=False)
    return model.get_latent_representation(), time.perf_counter() - start


def baron_all_genes() -> AnnData:
    """Baron, all genes, the counts as CSR, with the label and donor columns."""
    counts = scssl.data.baron_pancreas()
    return AnnData(
        sparse.csr_matrix(counts.X, dtype=np.float32), obs=counts.obs[[LABELS, BATCH]].copy()
    )


def train_rows(runs: dict, seeds: list[int], csv) -> None:
    """Train every run on ``seeds`` (where the run takes them) into a fresh ``csv``."""
    csv.unlink(missing_ok=True)  # a rerun replaces the rows, never mixes two runs
    for name, (cls, adata, kwargs, run_seeds) in runs.items():
        for seed in [s for s in seeds if s in run_seeds]:
            embedding, seconds = train_embed(cls, adata, seed, **kwargs)
            f1 = lobo_f1(embedding, adata)
            row = {"method": name, "seed": seed, "macro_f1": f1, "s": seconds}
            print(row, flush=True)
            append_row(csv, row)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--extra-seeds", action="store_true", help=f"dense and sparse path on seeds {EXTRA_SEEDS}"
    )
    parser.add_argument("--report", action="store_true", help="write the table from the CSVs")
    args = parser.parse_args()
    set_threads()
    if not args.report:
        as_csr = baron_all_genes()
        as_dense = AnnData(as_csr.X.toarray(), obs=as_csr.obs.copy())
        dense_and_sparse = {
            "MaskedAE dense path": (scssl.model.MaskedAE, as_dense, {}, SEEDS + EXTRA_SEEDS),
            "MaskedAE sparse path": (scssl.model.MaskedAE, as_csr, {}, SEEDS + EXTRA_SEEDS),
        }
        if args.extra_seeds:
            train_rows(dense_and_sparse, EXTRA_SEEDS, EXTRA_CSV)
            return
        runs = dense_and_sparse | {
            QUARTER: (scssl.model.MaskedAE, as_csr, {"decoder_gene_fraction": 0.25}, SEEDS),
            "SimCLR, noise on every gene": (
                scssl.model.Contrastive,
                as_csr,
                {"method": "simclr"},
                SEEDS[:1],
            ),
            "SimCLR, noise_nonzero_only (sparse)": (
                scssl.model.Contrastive,
                as_csr,
                {"method": "simclr", "noise_nonzero_only": True},
                SEEDS[:1],
            ),
        }
        EXTRA_CSV.unlink(missing_ok=True)  # an earlier run's extra seeds belong to that run
        train_rows(runs, SEEDS, RUNS_CSV)
    report()


def report() -> None:
    """The summary table and the rule's verdict (seeds 0-2); the extra seeds, if run, apart."""
    as_csr = baron_all_genes()
    pca_rows = [
        {"method": "PCA", "seed": seed}
        | {"macro_f1": lobo_f1(scssl.tl.pca_embedding(as_csr, n_comps=50, seed=seed), as_csr)}
        | {"s": 0.0}
        for seed in SEEDS
    ]
    runs_table = pd.concat([pd.DataFrame(pca_rows), pd.read_csv(RUNS_CSV)], ignore_index=True)
    summary = summarise(runs_table)
    dense = runs_table[runs_table.method == "MaskedAE dense path"].macro_f1
    threshold = dense.mean() - dense.std()

    def verdict_for(name: str) -> str:
        mean = runs_table[runs_table.method == name].macro_f1.mean()
        met = "rule met" if mean >= threshold else "rule NOT met"
        return (
            f"{name}: mean {mean:.4f} vs dense mean {dense.mean():.4f} - sd "
            f"{dense.std():.4f} = {threshold:.4f}: {met}."
        )

    verdict = "\n\n".join(verdict_for(name) for name in ("MaskedAE sparse path", QUARTER))
    sections = [
        ("Leave-one-donor-out kNN macro-F1 (k=15)", summary),
        ("Decision rule (fixed before the run)", verdict),
        ("Per seed", runs_table.set_index(["method", "seed"])),
    ]
    if EXTRA_CSV.exists():
        extra = pd.concat([runs_table, pd.read_csv(EXTRA_CSV)], ignore_index=True)
        extra = extra[extra.method.isin(["MaskedAE dense path", "MaskedAE sparse path"])]
        sections.append((f"Seeds {SEEDS + EXTRA_SEEDS} (descriptive)", EXTRA_NOTE))
        sections.append((f"Seeds {SEEDS + EXTRA_SEEDS}", summarise(extra)))
    write_markdown(
        RESULTS / "scale_sparse_quality.md",
        "Sparse vs dense path: embedding quality on Baron, all genes",
        sections,
    )
    print(verdict)


def summarise(runs_table: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean and seed sd of the macro-F1, number of seeds, training seconds."""
    return runs_table.groupby("method", sort=False).agg(
        macro_f1=("macro_f1", "mean"),
        sd=("macro_f1", "std"),
        seeds=("seed", "count"),
        train_seconds=("s", "mean"),
    )


if __name__ == "__main__":
    main()

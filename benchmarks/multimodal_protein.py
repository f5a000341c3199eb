"""Protein prediction from RNA for a held-out CITE-seq batch: MultimodalMAE vs ridge vs totalVI.

Data: ``scssl.data.cite_pbmc()`` (two 10x CITE-seq PBMC sets, 200 cells each, the 14
antibodies both panels share), RNA counts of the 2000 batch-aware highly variable
genes (seurat_v3, chosen from RNA alone). Each batch is held out in turn: its protein
counts are hidden from every method and predicted from its RNA.

Methods, each on the same genes and cells, seeds 0, 1, 2 (fixed before the run):
- ``MultimodalMAE (transductive)``: trained on all 400 cells, the held-out batch's
  proteins all zero (= unmeasured), no batch covariate; defaults otherwise;
- ``MultimodalMAE (reference only)``: trained on the other batch alone, then applied to
  the held-out RNA (``prepare_query_anndata`` gives it all-zero proteins; no retraining);
- ``MultimodalMAE + NT-Xent`` (both modes): the contrastive variant, a cell's RNA and
  protein as two views (``contrastive_weight=0.1``, fixed before its run; added after
  the first four methods had run);
- ``ridge on PCA``: 50 PCs of log-normalised RNA (fitted on all cells' RNA, no protein),
  ridge regression to CLR proteins fitted on the other batch, alpha by RidgeCV over
  ``10**[-2..4]`` (deterministic: every seed gives the same prediction);
- ``totalVI``: scvi-tools' TOTALVI (defaults, batch covariate) on all 400 cells with the
  held-out proteins all zero (totalVI treats them as missing), prediction = its
  denoised protein expression with ``transform_batch`` set to the other batch (25
  posterior samples), put on the CLR scale.

Score: per protein, Pearson and Spearman correlation of prediction and observed
``log1p`` CLR proteins over the held-out cells; per run the mean over proteins;
mean ± sd over seeds. The sets are small (200 cells per batch): the seed spread and
the per-protein table are part of the result.

    cd benchmarks && nohup ../.venv/bin/python multimodal_protein.py > /tmp/mm.log 2>&1 &
"""

from __future__ import annotations

import argparse
import functools
import logging
import time

import numpy as np
import pandas as pd
import scanpy as sc
import scvi
import torch
from _common import RESULTS, append_row, hvg_subset, set_threads, write_markdown
from scipy import sparse
from scipy.stats import pearsonr, spearmanr
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV

import scssl
from scssl.model import MultimodalMAE
from scssl.module import centred_log_ratio

SEEDS = [0, 1, 2]
CONTRASTIVE_WEIGHT = 0.1  # fixed before its run (MaskedContrastive's default weight)
PROTEIN_KEY = "protein_expression"
RUNS = RESULTS / "multimodal_protein_runs.csv"
PER_PROTEIN = RESULTS / "multimodal_protein_per_protein.csv"
REPORT = RESULTS / "multimodal_protein.md"


def clr(counts: np.ndarray) -> np.ndarray:
    """The model's CLR (:func:`scssl.module.centred_log_ratio`) on numpy: every method's scale."""
    return centred_log_ratio(torch.as_tensor(np.asarray(counts, dtype=np.float64))).numpy()


def hide_proteins(adata, held: np.ndarray):
    """A copy whose held-out cells show all-zero (unmeasured) proteins."""
    out = adata.copy()
    values = out.obsm[PROTEIN_KEY].to_numpy().copy()
    values[held] = 0
    out.obsm[PROTEIN_KEY] = pd.DataFrame(
        values, index=out.obs_names, columns=adata.obsm[PROTEIN_KEY].columns
    )
    return out


def mmae_transductive(adata, held, seed, train_batch, **model_kwargs):
    scvi.settings.seed = seed
    data = hide_proteins(adata, held)
    MultimodalMAE.setup_anndata(data, layer="counts", protein_expression_obsm_key=PROTEIN_KEY)
    model = MultimodalMAE(data, **model_kwargs)
    model.train(enable_progress_bar=False)
    return model.predict_modality(source="rna", target="protein").to_numpy()[held]


def mmae_reference_only(adata, held, seed, train_batch, **model_kwargs):
    scvi.settings.seed = seed
    reference, query = adata[~held].copy(), adata[held].copy()
    del query.obsm[PROTEIN_KEY]
    MultimodalMAE.setup_anndata(reference, layer="counts", protein_expression_obsm_key=PROTEIN_KEY)
    model = MultimodalMAE(reference, **model_kwargs)
    model.train(enable_progress_bar=False)
    MultimodalMAE.prepare_query_anndata(query, model)
    return model.predict_modality(query, source="rna", target="protein").to_numpy()


def ridge_on_pca(adata, held, seed, train_batch):
    logged = adata.copy()
    logged.X = logged.layers["counts"].copy()
    sc.pp.normalize_total(logged, target_sum=1e4)
    sc.pp.log1p(logged)
    matrix = logged.X.toarray() if sparse.issparse(logged.X) else np.asarray(logged.X)
    pcs = PCA(n_components=50, random_state=0).fit_transform(matrix)
    target = clr(adata.obsm[PROTEIN_KEY].to_numpy())
    ridge = RidgeCV(alphas=10.0 ** np.arange(-2, 5)).fit(pcs[~held], target[~held])
    return ridge.predict(pcs[held])


def totalvi(adata, held, seed, train_batch):
    scvi.settings.seed = seed
    data = hide_proteins(adata, held)
    scvi.model.TOTALVI.setup_anndata(
        data, layer="counts", protein_expression_obsm_key=PROTEIN_KEY, batch_key="batch"
    )
    model = scvi.model.TOTALVI(data)
    model.train(enable_progress_bar=False)
    _, proteins = model.get_normalized_expression(
        indices=np.flatnonzero(held),
        transform_batch=train_batch,
        n_samples=25,
        return_mean=True,
    )
    return clr(np.asarray(proteins))


METHODS = {
    "MultimodalMAE (transductive)": mmae_transductive,
    "MultimodalMAE (reference only)": mmae_reference_only,
    "MultimodalMAE + NT-Xent (transductive)": functools.partial(
        mmae_transductive, contrastive_weight=CONTRASTIVE_WEIGHT
    ),
    "MultimodalMAE + NT-Xent (reference only)": functools.partial(
        mmae_reference_only, contrastive_weight=CONTRASTIVE_WEIGHT
    ),
    "ridge on PCA": ridge_on_pca,
    "totalVI": totalvi,
}


def score(predicted: np.ndarray, observed: np.ndarray, proteins) -> pd.DataFrame:
    """Per-protein Pearson and Spearman correlation over the held-out cells."""
    rows = []
    for j, name in enumerate(proteins):
        rows.append(
            {
                "protein": name,
                "pearson": pearsonr(predicted[:, j], observed[:, j]).statistic,
                "spearman": spearmanr(predicted[:, j], observed[:, j]).statistic,
            }
        )
    return pd.DataFrame(rows)


def run(methods: list[str]) -> None:
    set_threads()
    adata = hvg_subset(scssl.data.cite_pbmc(), "batch")
    proteins = list(adata.obsm[PROTEIN_KEY].columns)
    observed_all = clr(adata.obsm[PROTEIN_KEY].to_numpy())
    done = set()
    if RUNS.exists():
        old = pd.read_csv(RUNS)
        done = set(zip(old["method"], old["held_out"], old["seed"], strict=True))
    for held_batch in adata.obs["batch"].cat.categories:
        held = (adata.obs["batch"] == held_batch).to_numpy()
        train_batch = next(b for b in adata.obs["batch"].cat.categories if b != held_batch)
        for seed in SEEDS:
            for name in methods:
                if (name, held_batch, seed) in done:
                    continue
                start = time.perf_counter()
                predicted = METHODS[name](adata, held, seed, train_batch)
                seconds = time.perf_counter() - start
                table = score(predicted, observed_all[held], proteins)
                keys = {"method": name, "held_out": held_batch, "seed": seed}
                for row in table.to_dict("records"):
                    append_row(PER_PROTEIN, {**keys, **row})
                append_row(
                    RUNS,
                    {
                        **keys,
                        "pearson": table["pearson"].mean(),
                        "spearman": table["spearman"].mean(),
                        "seconds": seconds,
                    },
                )
                print(keys, f"pearson {table['pearson'].mean():.3f}", flush=True)


def _mean_sd(frame: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(by)[columns]
    mean, sd = grouped.mean(), grouped.std()
    return mean.round(3).astype(str) + " ± " + sd.round(3).astype(str)


def report() -> None:
    runs = pd.read_csv(RUNS)
    per_protein = pd.read_csv(PER_PROTEIN)
    per_seed = runs.pivot_table(index=["held_out", "method"], columns="seed", values="pearson")
    per_seed.columns = [f"pearson seed {s}" for s in per_seed.columns]
    by_protein = per_protein.groupby(["protein", "method"])["pearson"].mean().unstack()
    wins = by_protein.drop(columns="ridge on PCA").gt(by_protein["ridge on PCA"], axis=0)
    write_markdown(
        REPORT,
        "Protein prediction for a held-out CITE-seq batch from RNA alone",
        [
            ("Protocol", __doc__.split("\n\n    cd ")[0]),
            (
                "Mean over proteins, mean ± sd over 3 seeds",
                _mean_sd(runs, ["held_out", "method"], ["pearson", "spearman", "seconds"]),
            ),
            ("Mean Pearson per seed", per_seed),
            (
                "Both held-out batches pooled (mean ± sd over the 6 runs)",
                _mean_sd(runs, ["method"], ["pearson", "spearman"]),
            ),
            ("Per protein: Pearson, mean over seeds and held-out batches", by_protein),
            (
                "Proteins on which a method beats ridge on PCA (of 14)",
                wins.sum().to_frame("proteins above ridge"),
            ),
        ],
    )
    print(REPORT.read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--report", action="store_true", help="only write the report")
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.WARNING)
    scvi.settings.verbosity = logging.WARNING
    if not args.report:
        run(args.methods)
    report()

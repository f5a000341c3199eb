"""Transfer benchmark: label-scarce fine-tuning and reference mapping, scssl vs peers.

Run from the repository root::

    .venv/bin/python benchmarks/transfer.py [--seeds 0 1 2] [--datasets baron pbmc_3tech]

Settings (all scores on held-out cells, macro-F1 over the classes present in them):

* ``one_batch``: labels from one batch only (Baron: donor human1; pbmc_3tech: V3),
  scored on the other batches.
* ``10pct``: labels on a random 10% of the cells, scored on the other 90%.
  For both, MaskedAE is pretrained unsupervised on all cells. Methods: kNN on PCA,
  on scVI and on the MaskedAE embedding (zero-shot), linear probe and full
  fine-tuning of the pretrained encoder (``CellTypeClassifier.from_pretrained``),
  and the same classifier from scratch (``load_weights=False``).
* ``reference_mapping``: reference = all batches but one (Baron: human4 is the
  query; pbmc_3tech: VDJ), query mapped with ``MaskedAE.load_query_data`` (encoder
  sees the batch), labels predicted by kNN (``scssl.tl.transfer_labels``) and by a
  linear probe trained on the reference cells; peer: scANVI's scArches query mapping
  (SCVI -> SCANVI on the reference, ``SCANVI.load_query_data`` + query training).
  Zero-shot kNN on the all-cell embeddings (PCA, scVI, MaskedAE) on the same split
  is listed too.

Results go to ``benchmarks/results/transfer.md``, rewritten after every seed.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import pandas as pd
import scvi
import torch
from _common import RESULTS, baron, pbmc_3tech, pca, scvi_embedding, set_threads, write_markdown
from anndata import AnnData

import scssl
from scssl.metrics import classification_report
from scssl.model import CellTypeClassifier, MaskedAE

warnings.filterwarnings("ignore")
logging.getLogger("scvi").setLevel(logging.ERROR)
logging.getLogger("lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("scssl").setLevel(logging.ERROR)

UNKNOWN = "Unknown"
SSL_EPOCHS = 30  # MaskedAE pretraining (all cells) and reference model
SCVI_EPOCHS = 30  # scVI (all cells) and the scVI reference of scANVI
SCANVI_EPOCHS = 10  # scANVI on top of the scVI reference
QUERY_EPOCHS = 20  # query training of MaskedAE and scANVI
CLASSIFIER_STEPS = 150  # optimisation steps of every classifier (batch 128)
MODEL_KWARGS = {"n_latent": 32, "n_hidden": 256, "n_layers": 2}
TRAIN = {"enable_progress_bar": False}

DATASETS = {
    "baron": {
        "load": baron,
        "labels": "cell_type1",
        "batch": "donor",
        "label_batch": "human1",
        "query_batch": "human4",
    },
    "pbmc_3tech": {
        "load": pbmc_3tech,
        "labels": "cell_type",
        "batch": "tech",
        "label_batch": "V3",
        "query_batch": "VDJ",
    },
}


def counts_view(adata: AnnData, obs: pd.DataFrame | None = None) -> AnnData:
    """A fresh AnnData of the counts (each model registers its own copy)."""
    return AnnData(
        X=adata.layers["counts"].copy(),
        obs=(adata.obs if obs is None else obs).copy(),
        var=adata.var[[]].copy(),
    )


def knn_predict(ref_emb, ref_labels, query_emb, k: int = 15) -> np.ndarray:
    ref = AnnData(obs=pd.DataFrame({"label": np.asarray(ref_labels)}), obsm={"X": ref_emb})
    ref.obs_names = [f"r{i}" for i in range(ref.n_obs)]
    query = AnnData(obs=pd.DataFrame(index=[f"q{i}" for i in range(len(query_emb))]))
    query.obsm["X"] = query_emb
    scssl.tl.transfer_labels(ref, query, use_rep="X", labels_key="label", k=k, key_added="pred")
    return query.obs["pred"].astype(str).to_numpy()


def classifier_run(
    ssl_model,
    adata,
    truth,
    labelled,
    held_out,
    mode: str,
    seed: int,
    obs=None,
    encoder_lr_ratio: float | None = None,
) -> tuple[np.ndarray, float]:
    """Train a CellTypeClassifier on the labelled cells; predict the held-out ones."""
    start = time.perf_counter()
    scvi.settings.seed = seed
    obs = (adata.obs if obs is None else obs).copy()
    obs["label_train"] = np.where(labelled, truth, UNKNOWN)
    work = counts_view(adata, obs)
    clf = CellTypeClassifier.from_pretrained(
        ssl_model,
        work,
        labels_key="label_train",
        unlabeled_category=UNKNOWN,
        freeze_encoder=(mode == "probe"),
        load_weights=(mode != "scratch"),
    )
    ratio = (
        encoder_lr_ratio if encoder_lr_ratio is not None else (1.0 if mode == "scratch" else 0.1)
    )
    steps_per_epoch = max(1, int(np.ceil(labelled.sum() / 128)))
    epochs = int(np.clip(round(CLASSIFIER_STEPS / steps_per_epoch), 20, 300))
    clf.train(
        max_epochs=epochs, encoder_lr_ratio=ratio, seed=seed, validation_fraction=0.0, **TRAIN
    )
    predicted = clf.predict(indices=np.flatnonzero(held_out))
    return predicted, time.perf_counter() - start


def score(rows, dataset, setting, method, seed, truth, predicted, seconds) -> None:
    report = classification_report(truth, predicted)
    rows.append(
        {
            "dataset": dataset,
            "setting": setting,
            "method": method,
            "seed": seed,
            "macro_f1": report.macro_f1,
            "rare_f1": report.rare_macro_f1,
            "accuracy": report.accuracy,
            "seconds": seconds,
        }
    )
    print(
        f"  {dataset:11s} {setting:18s} {method:22s} seed {seed}: "
        f"macro-F1 {report.macro_f1:.3f} (rare {report.rare_macro_f1:.3f}) {seconds:.0f}s",
        flush=True,
    )


def label_scarce(rows, name, spec, adata, seed, emb) -> None:
    truth = adata.obs[spec["labels"]].astype(str).to_numpy()
    batch = adata.obs[spec["batch"]].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    splits = {
        "one_batch": batch == spec["label_batch"],
        "10pct": rng.random(adata.n_obs) < 0.10,
    }
    for setting, labelled in splits.items():
        held_out = ~labelled
        for method in ("pca", "scvi", "scssl_mae"):
            predicted = knn_predict(emb[method][labelled], truth[labelled], emb[method][held_out])
            score(rows, name, setting, f"knn_{method}", seed, truth[held_out], predicted, 0.0)
        for mode in ("probe", "finetune", "scratch"):
            predicted, seconds = classifier_run(
                emb["model"], adata, truth, labelled, held_out, mode, seed
            )
            method = {"probe": "mae_linear_probe", "finetune": "mae_finetune"}.get(
                mode, "scratch_classifier"
            )
            score(rows, name, setting, method, seed, truth[held_out], predicted, seconds)


def reference_mapping(rows, name, spec, adata, seed, emb) -> None:
    labels_key, batch_key = spec["labels"], spec["batch"]
    truth = adata.obs[labels_key].astype(str).to_numpy()
    is_query = (adata.obs[batch_key] == spec["query_batch"]).to_numpy()
    setting = "reference_mapping"
    for method in ("pca", "scvi", "scssl_mae"):
        predicted = knn_predict(emb[method][~is_query], truth[~is_query], emb[method][is_query])
        score(rows, name, setting, f"zero_shot_knn_{method}", seed, truth[is_query], predicted, 0)

    # scssl: reference model, then load_query_data + short query training
    start = time.perf_counter()
    scvi.settings.seed = seed
    ref = counts_view(adata[~is_query], adata.obs[~is_query][[labels_key, batch_key]])
    ref.obs[batch_key] = ref.obs[batch_key].astype(str).astype("category")
    MaskedAE.setup_anndata(ref, batch_key=batch_key)
    ref_model = MaskedAE(ref, encode_covariates=True, **MODEL_KWARGS)
    ref_model.train(max_epochs=SSL_EPOCHS, **TRAIN)
    ref_seconds = time.perf_counter() - start
    start = time.perf_counter()
    query = counts_view(adata[is_query], adata.obs[is_query][[labels_key, batch_key]])
    query.obs[batch_key] = query.obs[batch_key].astype(str).astype("category")
    MaskedAE.prepare_query_anndata(query, ref_model)
    query_model = MaskedAE.load_query_data(query, ref_model)
    query_model.train(max_epochs=QUERY_EPOCHS, **TRAIN)
    z_ref = ref_model.get_latent_representation()
    z_query = query_model.get_latent_representation()
    query_seconds = time.perf_counter() - start
    predicted = knn_predict(z_ref, truth[~is_query], z_query)
    score(rows, name, setting, "scssl_query_knn", seed, truth[is_query], predicted, query_seconds)

    # linear probe on the mapped encoder, trained on reference labels only
    mapping = list(query_model.adata_manager.get_state_registry("batch")["categorical_mapping"])
    obs = adata.obs[[labels_key, batch_key]].copy()
    obs[batch_key] = pd.Categorical(obs[batch_key].astype(str), categories=mapping)
    predicted, seconds = classifier_run(
        query_model, adata, truth, ~is_query, is_query, "probe", seed, obs=obs
    )
    score(rows, name, setting, "scssl_query_probe", seed, truth[is_query], predicted, seconds)

    # peer: scANVI scArches query mapping on the same split
    start = time.perf_counter()
    scvi.settings.seed = seed
    sref = counts_view(adata[~is_query], adata.obs[~is_query][[labels_key, batch_key]])
    sref.obs[labels_key] = sref.obs[labels_key].astype(str)
    scvi.model.SCVI.setup_anndata(sref, batch_key=batch_key, labels_key=labels_key)
    vae = scvi.model.SCVI(sref, n_latent=10)
    vae.train(max_epochs=SCVI_EPOCHS, **TRAIN)
    scanvi = scvi.model.SCANVI.from_scvi_model(vae, unlabeled_category=UNKNOWN)
    scanvi.train(max_epochs=SCANVI_EPOCHS, n_samples_per_label=100, **TRAIN)
    squery = counts_view(adata[is_query], adata.obs[is_query][[labels_key, batch_key]])
    squery.obs[labels_key] = UNKNOWN
    scvi.model.SCANVI.prepare_query_anndata(squery, scanvi)
    scanvi_query = scvi.model.SCANVI.load_query_data(squery, scanvi)
    scanvi_query.train(max_epochs=QUERY_EPOCHS, plan_kwargs={"weight_decay": 0.0}, **TRAIN)
    predicted = np.asarray(scanvi_query.predict()).astype(str)
    seconds = time.perf_counter() - start
    score(rows, name, setting, "scanvi_query", seed, truth[is_query], predicted, seconds)
    print(f"  (MaskedAE reference model {ref_seconds:.0f}s)", flush=True)


def summarise(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["dataset", "setting", "method"], sort=False)
    stats = grouped.agg(
        macro_f1=("macro_f1", "mean"),
        sd=("macro_f1", "std"),
        rare_f1=("rare_f1", "mean"),
        accuracy=("accuracy", "mean"),
        seconds=("seconds", "mean"),
        n_seeds=("seed", "nunique"),
    )
    stats["macro_f1 (mean ± sd)"] = [
        f"{m:.3f} ± {0.0 if np.isnan(s) else s:.3f}" for m, s in zip(stats.macro_f1, stats.sd)
    ]
    table = stats[["macro_f1 (mean ± sd)", "rare_f1", "accuracy", "seconds", "n_seeds"]]
    best = (
        stats.reset_index()
        .sort_values("macro_f1", ascending=False)
        .groupby(["dataset", "setting"], sort=False)
        .head(1)[["dataset", "setting", "method", "macro_f1"]]
        .set_index(["dataset", "setting"])
        .sort_index()
    )
    deltas = []
    for (dataset, setting), part in stats.groupby(level=[0, 1], sort=False):
        part = part.droplevel([0, 1])["macro_f1"]

        def gap(a, b, part=part):
            return part.get(a, np.nan) - part.get(b, np.nan)

        if setting == "reference_mapping":
            deltas.append(
                {
                    "dataset": dataset,
                    "setting": setting,
                    "comparison": "scssl_query_knn - scanvi_query",
                    "delta": gap("scssl_query_knn", "scanvi_query"),
                }
            )
            deltas.append(
                {
                    "dataset": dataset,
                    "setting": setting,
                    "comparison": "scssl_query_probe - scanvi_query",
                    "delta": gap("scssl_query_probe", "scanvi_query"),
                }
            )
        else:
            for method in ("mae_finetune", "mae_linear_probe"):
                deltas.append(
                    {
                        "dataset": dataset,
                        "setting": setting,
                        "comparison": f"{method} - scratch_classifier",
                        "delta": gap(method, "scratch_classifier"),
                    }
                )
    delta_table = pd.DataFrame(deltas).set_index(["dataset", "setting", "comparison"])
    return table, best, delta_table


def write(rows: list[dict], seeds_done: list[int], total_seconds: float) -> None:
    table, best, deltas = summarise(rows)
    sections = [
        (
            "Setup",
            f"Seeds finished: {seeds_done}. Held-out cells only; macro-F1 over the classes "
            "present in the held-out cells; `rare_f1` = mean F1 of classes with < 2% of the "
            "held-out cells (NaN: none). MaskedAE "
            f"{MODEL_KWARGS}, {SSL_EPOCHS} epochs; scVI n_latent=10, {SCVI_EPOCHS} epochs; "
            f"scANVI {SCANVI_EPOCHS} epochs on the scVI reference; query training "
            f"{QUERY_EPOCHS} epochs for both. Classifiers: linear head on the standardised "
            f"embedding, balanced class weights, ~{CLASSIFIER_STEPS} steps at lr 5e-3; "
            "fine-tuning trains "
            "the encoder at 0.1x that rate, from-scratch trains everything at the full rate "
            f"(same architecture, random init). kNN: k=15. Total time {total_seconds / 60:.1f} "
            "min.",
        ),
        ("Macro-F1 per setting and method", table),
        ("Targets: pretraining vs scratch (label-scarce), scssl vs scANVI (mapping)", deltas),
        ("Best method per setting", best),
    ]
    write_markdown(RESULTS / "transfer_raw.md", "Transfer benchmark (raw tables)", sections)
    pd.DataFrame(rows).to_csv(RESULTS / "transfer_runs.csv", index=False)


def knn_timing(n: int = 100_000, dims: int = 32) -> None:
    """Time ``transfer_labels`` (pynndescent) for n reference x n query cells on CPU."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 20, n)
    centres = rng.normal(scale=3, size=(20, dims))
    ref = AnnData(obs=pd.DataFrame({"label": labels.astype(str)}))
    ref.obs_names = [f"r{i}" for i in range(n)]
    ref.obsm["X"] = (centres[labels] + rng.normal(size=(n, dims))).astype(np.float32)
    query_labels = rng.integers(0, 20, n)
    query = AnnData(obs=pd.DataFrame({"truth": query_labels.astype(str)}))
    query.obs_names = [f"q{i}" for i in range(n)]
    query.obsm["X"] = (centres[query_labels] + rng.normal(size=(n, dims))).astype(np.float32)
    # warm-up on small data: numba compiles pynndescent once per process
    start = time.perf_counter()
    scssl.tl.transfer_labels(
        ref[:2000], query[:2000], use_rep="X", labels_key="label", method="pynndescent"
    )
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scssl.tl.transfer_labels(ref, query, use_rep="X", labels_key="label", method="pynndescent")
    seconds = time.perf_counter() - start
    accuracy = float((query.obs["label_transferred"].astype(str) == query.obs["truth"]).mean())
    print(
        f"transfer_labels pynndescent {n} x {n} cells, {dims} dims: {seconds:.1f}s "
        f"(first call incl. numba compilation {compile_seconds:.1f}s), accuracy {accuracy:.3f}, "
        f"torch threads {torch.get_num_threads()}, numba threads default",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--quick", action="store_true", help="2 epochs everywhere; no tables")
    parser.add_argument(
        "--knn-timing", action="store_true", help="only time transfer_labels on 1e5 x 1e5 cells"
    )
    args = parser.parse_args()
    if args.knn_timing:
        set_threads()
        knn_timing()
        return
    if args.quick:
        global SSL_EPOCHS, SCVI_EPOCHS, SCANVI_EPOCHS, QUERY_EPOCHS
        SSL_EPOCHS = SCVI_EPOCHS = SCANVI_EPOCHS = QUERY_EPOCHS = 2
    set_threads()
    torch.manual_seed(0)
    start = time.perf_counter()
    rows: list[dict] = []
    data = {name: DATASETS[name]["load"]() for name in args.datasets}
    for seed in args.seeds:
        for name in args.datasets:
            spec, adata = DATASETS[name], data[name]
            print(f"[{(time.perf_counter() - start) / 60:.1f} min] {name} seed {seed}", flush=True)
            scvi.settings.seed = seed
            work = counts_view(adata, adata.obs[[spec["labels"], spec["batch"]]])
            MaskedAE.setup_anndata(work, batch_key=spec["batch"])
            model = MaskedAE(work, **MODEL_KWARGS)
            model.train(max_epochs=SSL_EPOCHS, **TRAIN)
            emb = {
                "model": model,
                "scssl_mae": model.get_latent_representation(),
                "pca": pca(adata, seed).embedding,
                "scvi": scvi_embedding(adata, spec["batch"], seed, SCVI_EPOCHS).embedding,
            }
            label_scarce(rows, name, spec, adata, seed, emb)
            reference_mapping(rows, name, spec, adata, seed, emb)
            if not args.quick:
                write(rows, sorted({r["seed"] for r in rows}), time.perf_counter() - start)
            else:
                print(summarise(rows)[0].to_string())
    print(f"done in {(time.perf_counter() - start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()

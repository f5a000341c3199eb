"""Cross-species reference mapping: human Baron pancreas -> mouse pancreas, via orthologues.

Issue "Transfer where pretraining pays", item 3. Reference: Baron human pancreas
(2,142 cells, 4 donors, ``cell_type1``). Query: mouse pancreas endocrinogenesis
(3,696 cells, 2,000 mouse genes, ``cell_type_inferred``). The gene space is the
orthologue space: the Baron genes that are 1:1 orthologues
(``genes/orthologs_human_mouse_1to1.csv``) of the query's genes.

Methods, per seed, in one run, with the epochs of ``transfer.py``:
- ``scssl_query_knn``: MaskedAE reference (encoder sees the donor, 30 epochs), the
  mouse query prepared with ``prepare_query_anndata(..., gene_map=<orthologue table>)``,
  ``load_query_data`` + 20 query epochs, labels by kNN (k=15) from the reference cells;
- ``scanvi_query``: scVI (30 epochs) -> scANVI (10 epochs) on the reference,
  ``SCANVI.load_query_data`` on the query renamed through the same gene map,
  20 query epochs, ``predict()``;
- ``joint_pca_knn``: 50 PCs of the log-normalised reference and query together,
  labels by kNN (k=15) from the reference cells.

Type correspondence (written here, fixed before the run): query ``Ductal``,
``Alpha``, ``Beta``, ``Delta``, ``Epsilon`` are the reference's ``ductal``, ``alpha``,
``beta``, ``delta``, ``epsilon``. The mouse progenitor stages (``Ngn3 low EP``,
``Ngn3 high EP``, ``Pre-endocrine``) have no counterpart and are not scored. Score:
macro-F1 over the five shared types, on the query cells of those types; a prediction
of any other reference type counts as wrong. Baron holds only 3 epsilon cells, so
that class is expected to be missed by every method (reported per class).

Target (fixed before the run): the scssl mean over seeds is at least scANVI's.

The first run (seeds 0-2) missed it (scssl 0.370 vs scANVI 0.465). Levers then added,
with the rule fixed before their run: ``scssl_query_probe`` (a linear probe on the
mapped encoder, trained on the reference labels), ``scssl_frozen_knn`` (no query
training: a reference encoder blind to the donor embeds the query) and
``scssl_joint_knn`` (one MaskedAE on reference and query together, the analogue of
joint PCA). All methods run on seeds 0-5 in one run; the scssl variant with the
highest mean on seeds 0-2 is the pick, and the target is judged for the pick against
scANVI on seeds 3-5, which the pick never saw.

    cd benchmarks && ../.venv/bin/python cross_species.py [--seeds 0 1 2] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import anndata
import numpy as np
import pandas as pd
import scvi
from _common import RESULTS, append_row, set_threads, write_markdown
from anndata import AnnData
from sklearn.metrics import f1_score

import scssl

warnings.filterwarnings("ignore")
for name in ("scvi", "lightning", "lightning.pytorch", "scssl"):
    logging.getLogger(name).setLevel(logging.ERROR)

SHARED_TYPES = {
    "Ductal": "ductal",
    "Alpha": "alpha",
    "Beta": "beta",
    "Delta": "delta",
    "Epsilon": "epsilon",
}
EPOCHS = {"ssl": 30, "scvi": 30, "scanvi": 10, "query": 20, "probe": 20}  # probe: ~340 steps
MODEL_KWARGS = {"n_latent": 32, "n_hidden": 256, "n_layers": 2}
TRAIN = {"enable_progress_bar": False}
UNKNOWN = "Unknown"
RUNS_CSV = RESULTS / "cross_species_runs.csv"


def load() -> tuple[AnnData, AnnData, str]:
    """Reference in the orthologue space, the mouse query as stored, the map's path."""
    table = scssl.data.human_mouse_orthologues()
    human = scssl.data.baron_pancreas()
    mouse = scssl.data.mouse_pancreas()
    renamed, report = scssl.data.map_gene_names(mouse.var_names, table)
    print(report.describe(), flush=True)
    genes = [g for g in human.var_names if g in set(renamed)]
    reference = AnnData(
        X=human[:, genes].X.astype(np.float32),
        obs=human.obs[["cell_type1", "donor"]].copy(),
        var=pd.DataFrame(index=genes),
    )
    query = AnnData(
        X=mouse.X.astype(np.float32),
        obs=pd.DataFrame({"donor": "mouse", "truth": mouse.obs["cell_type_inferred"].astype(str)}),
        var=pd.DataFrame(index=mouse.var_names),
    )
    query.obs_names = mouse.obs_names
    return reference, query, str(table)


def knn_labels(ref_emb: np.ndarray, labels: np.ndarray, query_emb: np.ndarray) -> np.ndarray:
    """kNN (k=15) label per query cell; the query's own labels are not used for it."""
    placeholder = np.full(len(query_emb), labels[0])  # knn_label_transfer also scores
    return scssl.metrics.knn_label_transfer(ref_emb, labels, query_emb, placeholder).predicted


def score(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Macro-F1 over the shared types, on the query cells of those types."""
    scored = np.isin(truth, list(SHARED_TYPES))
    expected = np.array([SHARED_TYPES[t] for t in truth[scored]])
    classes = list(SHARED_TYPES.values())
    per_class = f1_score(expected, predicted[scored], labels=classes, average=None, zero_division=0)
    return {
        "macro_f1": float(per_class.mean()),
        **dict(zip(classes, map(float, per_class), strict=True)),
    }


def _reference_model(reference: AnnData, seed: int, encode_covariates: bool):
    scvi.settings.seed = seed
    ref = reference.copy()
    scssl.model.MaskedAE.setup_anndata(ref, batch_key="donor")
    model = scssl.model.MaskedAE(ref, encode_covariates=encode_covariates, **MODEL_KWARGS)
    model.train(max_epochs=EPOCHS["ssl"], **TRAIN)
    return model


def _query_model(model, query: AnnData, gene_map: str):
    """The mouse cells mapped onto the reference (scArches-style) and trained briefly."""
    mapped = query.copy()
    scssl.model.MaskedAE.prepare_query_anndata(mapped, model, gene_map=gene_map)
    query_model = scssl.model.MaskedAE.load_query_data(mapped, model)
    query_model.train(max_epochs=EPOCHS["query"], **TRAIN)
    return query_model


def joint_anndata(reference: AnnData, query: AnnData, gene_map: str) -> tuple[AnnData, np.ndarray]:
    """Reference and query (renamed into the reference's genes) as one AnnData; reference mask."""
    renamed = query.copy()
    renamed.var_names = scssl.data.map_gene_names(query.var_names, gene_map)[0]
    renamed = renamed[:, reference.var_names].copy()
    joint = anndata.concat([reference, renamed], label="side", keys=["ref", "query"])
    return joint, (joint.obs["side"] == "ref").to_numpy()


def run_scssl(reference: AnnData, query: AnnData, gene_map: str, seed: int) -> np.ndarray:
    model = _reference_model(reference, seed, encode_covariates=True)
    query_model = _query_model(model, query, gene_map)
    return knn_labels(
        model.get_latent_representation(),
        model.adata.obs["cell_type1"].astype(str).to_numpy(),
        query_model.get_latent_representation(),
    )


def run_scanvi(reference: AnnData, query: AnnData, gene_map: str, seed: int) -> np.ndarray:
    scvi.settings.seed = seed
    ref = reference.copy()
    ref.obs["cell_type1"] = ref.obs["cell_type1"].astype(str)
    scvi.model.SCVI.setup_anndata(ref, batch_key="donor", labels_key="cell_type1")
    vae = scvi.model.SCVI(ref, n_latent=10)
    vae.train(max_epochs=EPOCHS["scvi"], **TRAIN)
    scanvi = scvi.model.SCANVI.from_scvi_model(vae, unlabeled_category=UNKNOWN)
    scanvi.train(max_epochs=EPOCHS["scanvi"], n_samples_per_label=100, **TRAIN)
    renamed = query.copy()
    renamed.var_names = scssl.data.map_gene_names(query.var_names, gene_map)[0]
    renamed.obs["cell_type1"] = UNKNOWN
    scvi.model.SCANVI.prepare_query_anndata(renamed, scanvi)
    scanvi_query = scvi.model.SCANVI.load_query_data(renamed, scanvi)
    scanvi_query.train(max_epochs=EPOCHS["query"], plan_kwargs={"weight_decay": 0.0}, **TRAIN)
    return np.asarray(scanvi_query.predict()).astype(str)


def run_joint_pca(reference: AnnData, query: AnnData, gene_map: str, seed: int) -> np.ndarray:
    joint, is_ref = joint_anndata(reference, query, gene_map)
    pcs = scssl.tl.pca_embedding(joint, n_comps=50, seed=seed)
    return knn_labels(pcs[is_ref], reference.obs["cell_type1"].astype(str).to_numpy(), pcs[~is_ref])


def run_scssl_query_probe(
    reference: AnnData, query: AnnData, gene_map: str, seed: int
) -> np.ndarray:
    """Lever: a linear probe on the mapped encoder, trained on the reference labels."""
    model = _reference_model(reference, seed, encode_covariates=True)
    query_model = _query_model(model, query, gene_map)
    both = anndata.concat([model.adata, query_model.adata], label="side", keys=["ref", "query"])
    mapping = list(query_model.adata_manager.get_state_registry("batch")["categorical_mapping"])
    both.obs["donor"] = pd.Categorical(both.obs["donor"].astype(str), categories=mapping)
    is_query = (both.obs["side"] == "query").to_numpy()
    reference_labels = model.adata.obs["cell_type1"].astype(str).to_numpy()
    both.obs["label"] = np.concatenate([reference_labels, [UNKNOWN] * int(is_query.sum())])
    clf = scssl.model.CellTypeClassifier.from_pretrained(
        query_model, both, labels_key="label", freeze_encoder=True
    )
    clf.train(max_epochs=EPOCHS["probe"], seed=seed, validation_fraction=0.0, **TRAIN)
    return np.asarray(clf.predict(indices=np.flatnonzero(is_query))).astype(str)


def run_scssl_frozen_knn(reference: AnnData, query: AnnData, gene_map: str, seed: int):
    """Lever: no query training; the reference encoder (blind to the donor) embeds the query."""
    model = _reference_model(reference, seed, encode_covariates=False)
    mapped = query.copy()
    scssl.model.MaskedAE.prepare_query_anndata(mapped, model, gene_map=gene_map)
    mapped.obs["donor"] = pd.Categorical(
        [model.adata.obs["donor"].cat.categories[0]] * mapped.n_obs,
        categories=model.adata.obs["donor"].cat.categories,
    )  # a placeholder: the encoder does not see the donor
    return knn_labels(
        model.get_latent_representation(),
        model.adata.obs["cell_type1"].astype(str).to_numpy(),
        model.get_latent_representation(mapped),
    )


def run_scssl_joint_knn(reference: AnnData, query: AnnData, gene_map: str, seed: int):
    """Lever, the analogue of joint PCA: one MaskedAE on reference and query together."""
    joint, is_ref = joint_anndata(reference, query, gene_map)
    scvi.settings.seed = seed
    scssl.model.MaskedAE.setup_anndata(joint, batch_key="donor")
    model = scssl.model.MaskedAE(joint, **MODEL_KWARGS)
    model.train(max_epochs=EPOCHS["ssl"], **TRAIN)
    z = model.get_latent_representation()
    return knn_labels(z[is_ref], reference.obs["cell_type1"].astype(str).to_numpy(), z[~is_ref])


def run_scanvi_joint(reference: AnnData, query: AnnData, gene_map: str, seed: int):
    """Peer of the joint MaskedAE: scVI -> scANVI on reference and query together, the
    query cells unlabelled (scANVI's semi-supervised integration, no reference mapping)."""
    joint, is_ref = joint_anndata(reference, query, gene_map)
    labels = reference.obs["cell_type1"].astype(str).to_numpy()
    joint.obs["label"] = np.concatenate([labels, [UNKNOWN] * int((~is_ref).sum())])
    scvi.settings.seed = seed
    scvi.model.SCVI.setup_anndata(joint, batch_key="donor", labels_key="label")
    vae = scvi.model.SCVI(joint, n_latent=10)
    vae.train(max_epochs=EPOCHS["scvi"], **TRAIN)
    scanvi = scvi.model.SCANVI.from_scvi_model(vae, unlabeled_category=UNKNOWN)
    scanvi.train(max_epochs=EPOCHS["scanvi"], n_samples_per_label=100, **TRAIN)
    return np.asarray(scanvi.predict(indices=np.flatnonzero(~is_ref))).astype(str)


METHODS = {
    "scssl_query_knn": run_scssl,
    "scanvi_query": run_scanvi,
    "joint_pca_knn": run_joint_pca,
    # levers tried after the first run missed the target (see the result file)
    "scssl_query_probe": run_scssl_query_probe,
    "scssl_frozen_knn": run_scssl_frozen_knn,
    "scssl_joint_knn": run_scssl_joint_knn,
    # the matching peer of scssl_joint_knn, added once its first seeds were seen
    "scanvi_joint": run_scanvi_joint,
}


VARIANTS = """\
* Reference mapping, the reference model frozen: `scssl_query_knn` (scArches-style
  `load_query_data` + kNN; the first run's method), `scssl_query_probe` (a linear probe
  on the mapped encoder), `scssl_frozen_knn` (no query training, a donor-blind encoder),
  and the peer `scanvi_query` (`SCANVI.load_query_data`).
* Joint models, reference and query cells fitted together (query unlabelled):
  `scssl_joint_knn` (one MaskedAE, species as one more batch, then kNN),
  `joint_pca_knn`, and the peer `scanvi_joint` (scVI -> scANVI on both, query cells
  unlabelled), added as the matching peer after `scssl_joint_knn`'s first seeds.
* So the target is met by a joint MaskedAE, not by mapping onto a frozen reference;
  the frozen-reference paths stay below scANVI's query mapping, and joint PCA is the
  most stable method here (it has no seed)."""
EXPLORE_SEEDS = (0, 1, 2)  # the levers are compared here ...
CONFIRM_SEEDS = (3, 4, 5)  # ... and the pick is judged against scANVI here


def verdict(runs: pd.DataFrame) -> str:
    """The target by the rule fixed before the lever run (see the module docstring)."""
    means = runs.groupby(["method", runs.seed.isin(CONFIRM_SEEDS)]).macro_f1.mean().unstack()
    explore, confirm = means[False], means.get(True, pd.Series(dtype=float))
    scssl_variants = [m for m in explore.index if m.startswith("scssl")]
    pick = explore[scssl_variants].idxmax()
    lines = [
        f"* first run's rule, seeds {list(EXPLORE_SEEDS)}: scssl_query_knn "
        f"{explore['scssl_query_knn']:.3f} vs scANVI {explore['scanvi_query']:.3f}: "
        + ("met" if explore["scssl_query_knn"] >= explore["scanvi_query"] else "NOT met"),
        f"* pick among the scssl variants on seeds {list(EXPLORE_SEEDS)}: {pick} "
        f"({explore[pick]:.3f})",
    ]
    if pick in confirm and "scanvi_query" in confirm:
        met = confirm[pick] >= confirm["scanvi_query"]
        lines.append(
            f"* confirmation, seeds {list(CONFIRM_SEEDS)}: {pick} {confirm[pick]:.3f} vs scANVI "
            f"{confirm['scanvi_query']:.3f} (joint PCA {confirm.get('joint_pca_knn', np.nan):.3f})"
            f": target {'met' if met else 'NOT met'}"
        )
    if pick in confirm and "scanvi_joint" in confirm:
        lines.append(
            f"* against the joint peer, seeds {list(CONFIRM_SEEDS)}: {pick} {confirm[pick]:.3f} "
            f"vs scANVI trained on reference + query {confirm['scanvi_joint']:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[*EXPLORE_SEEDS, *CONFIRM_SEEDS])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="2 epochs everywhere (smoke run)")
    parser.add_argument(
        "--append", action="store_true", help="add to the runs CSV; report on all its rows"
    )
    parser.add_argument("--report", action="store_true", help="only rewrite the result file")
    args = parser.parse_args()
    if args.report:
        args.methods, args.append = [], True
    if args.quick:
        EPOCHS.update(dict.fromkeys(EPOCHS, 2))
    elif not args.append:
        RUNS_CSV.unlink(missing_ok=True)
    set_threads()
    reference, query, gene_map = load()
    truth = query.obs["truth"].to_numpy()
    rows = []
    for seed in args.seeds:
        for method in args.methods:
            start = time.perf_counter()
            predicted = METHODS[method](reference, query, gene_map, seed)
            row = {"method": method, "seed": seed, **score(truth, predicted)}
            row["seconds"] = time.perf_counter() - start
            print(row, flush=True)
            rows.append(row)
            if not args.quick:
                append_row(RUNS_CSV, row)
    if args.quick:
        return
    runs = pd.read_csv(RUNS_CSV)
    summary = (
        runs.assign(seeds=np.where(runs.seed.isin(CONFIRM_SEEDS), "3-5", "0-2"))
        .groupby(["seeds", "method"], sort=False)
        .agg(["mean", "std"])
        .drop(columns="seed")
    )
    write_markdown(
        RESULTS / "cross_species.md",
        "Cross-species mapping: human Baron reference -> mouse pancreas query",
        [
            ("Macro-F1 over the shared types (mean and sd over seeds)", summary),
            ("Target (fixed before the run): scssl >= scANVI", verdict(runs)),
            ("What the variants are", VARIANTS),
            ("Per seed", runs.set_index(["method", "seed"])),
        ],
    )
    print(verdict(runs))


if __name__ == "__main__":
    main()

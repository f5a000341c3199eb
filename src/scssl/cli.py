"""The ``scssl`` command (demo, fit, benchmark, pretrain, map): thin layers over the library."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from pathlib import Path

from scssl._cli_benchmark import add_benchmark_parser
from scssl._constants import OUTPUT_KEYS
from scssl._options import TrainingPrecision, options

logger = logging.getLogger("scssl")


def _train_and_report(
    adata,
    *,
    layer: str | None,
    batch_key: str | None,
    labels_key: str | None,
    output_dir: Path,
    max_epochs: int | None,
    seed: int,
    h5ad_name: str,
    n_top_genes: int | None = None,
) -> dict:
    import numpy as np
    import scvi
    import torch

    import scssl

    scvi.settings.seed = seed
    torch.set_num_threads(max(1, torch.get_num_threads()))
    output_dir.mkdir(parents=True, exist_ok=True)

    logger.info("training MaskedAE on %d cells x %d genes", adata.n_obs, adata.n_vars)
    start = time.perf_counter()
    scssl.tl.masked_ae(
        adata, layer=layer, batch_key=batch_key, max_epochs=max_epochs, n_top_genes=n_top_genes
    )
    seconds = time.perf_counter() - start
    genes = list(adata.uns["scssl_mae"]["genes"])
    report: dict = {
        "n_cells": int(adata.n_obs),
        "n_genes": int(adata.n_vars),
        "n_genes_used": len(genes),
        "gene_selection": scssl.data.describe_gene_selection(len(genes), adata.n_vars, batch_key),
        "train_seconds": round(seconds, 1),
        "seed": seed,
    }
    if labels_key is not None:
        logger.info("scoring kNN label transfer for MaskedAE and PCA (same genes)")
        adata.obsm[OUTPUT_KEYS.PCA_BASELINE] = scssl.tl.pca_embedding(
            adata[:, genes], layer=layer, seed=seed
        )
        labels = adata.obs[labels_key].to_numpy()
        for name, key in [("MaskedAE", OUTPUT_KEYS.MASKED_AE), ("PCA", OUTPUT_KEYS.PCA_BASELINE)]:
            if batch_key is not None and adata.obs[batch_key].nunique() > 1:
                table = scssl.metrics.leave_one_batch_out(
                    adata.obsm[key], labels, adata.obs[batch_key].to_numpy()
                )
                scores: dict[str, object] = {
                    "macro_f1": float(table.loc["mean", "macro_f1"]),
                    "accuracy": float(table.loc["mean", "accuracy"]),
                    "protocol": f"leave-one-{batch_key}-out kNN (k=15)",
                }
            else:
                scores = dict(
                    scssl.metrics.knn_cross_validation(adata.obsm[key], labels, seed=seed)
                )
                scores["protocol"] = "5-fold cross-validated kNN (k=15)"
            report[name] = scores
        report["macro_f1_ratio_MaskedAE_over_PCA"] = round(
            report["MaskedAE"]["macro_f1"] / max(report["PCA"]["macro_f1"], 1e-12), 3
        )
        scssl.pl.umap(
            adata,
            use_rep=OUTPUT_KEYS.MASKED_AE,
            color=labels_key,
            save=output_dir / "umap_scssl_mae.png",
            seed=seed,
        )
        report["umap_png"] = str(output_dir / "umap_scssl_mae.png")
    adata.write_h5ad(output_dir / h5ad_name)
    report["h5ad"] = str(output_dir / h5ad_name)
    with open(output_dir / "report.json", "w") as handle:
        json.dump(report, handle, indent=2, default=lambda o: np.asarray(o).tolist())
    return report


def demo(args: argparse.Namespace) -> dict:
    """Train MaskedAE on scanpy's bundled PBMCs and compare with PCA."""
    import scssl

    adata = scssl.data.pbmc68k_counts()
    report = _train_and_report(
        adata,
        layer="counts",
        batch_key=None,
        labels_key="bulk_labels",
        output_dir=Path(args.output),
        max_epochs=args.max_epochs,
        seed=args.seed,
        h5ad_name="pbmc68k_scssl.h5ad",
    )
    return report


def _read_h5ad(path: Path):
    """Read an ``.h5ad`` file, with an error that says what is wrong instead of h5py's."""
    import anndata as ad

    if not path.exists():
        raise FileNotFoundError(f"input file {path} does not exist")
    if path.suffix != ".h5ad":
        raise ValueError(f"{path} is not an .h5ad file (convert it with anndata / scanpy first)")
    try:
        return ad.read_h5ad(path)
    except OSError as error:
        raise ValueError(f"{path} could not be read as .h5ad ({error})") from error


def _check_columns(adata, path: Path, layer: str | None, keys: dict[str, str | None]) -> None:
    """Every named obs column and the layer exist: checked before any training."""
    for option, key in keys.items():
        if key is not None and key not in adata.obs:
            columns = ", ".join(map(str, adata.obs.columns[:20]))
            raise KeyError(f"{option} {key!r} is not a column of {path}'s obs ({columns})")
    if layer is not None and layer not in adata.layers:
        raise KeyError(f"--layer {layer!r} is not a layer of {path} ({list(adata.layers)})")


def fit(args: argparse.Namespace) -> dict:
    """Train MaskedAE on a user's h5ad and write the embedding back."""
    source, output = Path(args.input), Path(args.output)
    written = output if output.suffix == ".h5ad" else output / "scssl.h5ad"
    if written.resolve() == source.resolve():
        raise ValueError("--output must differ from --input (the input file is never overwritten)")
    adata = _read_h5ad(source)
    _check_columns(
        adata, source, args.layer, {"--batch-key": args.batch_key, "--labels-key": args.labels_key}
    )
    report = _train_and_report(
        adata,
        layer=args.layer,
        batch_key=args.batch_key,
        labels_key=args.labels_key,
        output_dir=output.parent if output.suffix == ".h5ad" else output,
        max_epochs=args.max_epochs,
        seed=args.seed,
        h5ad_name=output.name if output.suffix == ".h5ad" else "scssl.h5ad",
        n_top_genes=args.n_top_genes or None,
    )
    return report


def pretrain(args: argparse.Namespace) -> dict:
    """Pretrain on on-disk files (read backed, never loaded whole); write a reference folder."""
    import scssl

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    scssl.tl.pretrain(
        args.input,
        args.output,
        genes=args.genes,
        n_top_genes=args.n_top_genes or None,
        model=args.model,
        layer=args.layer,
        batch_key=args.batch_key,
        categorical_covariate_keys=args.categorical_covariate_keys,
        continuous_covariate_keys=args.continuous_covariate_keys,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        checkpoint_every_n_steps=args.checkpoint_every,
        seed=args.seed,
        overwrite=args.overwrite,
        resume_from=args.resume,
        precision=args.precision,
    )
    return scssl.tl.read_reference(args.output)


def map_command(args: argparse.Namespace) -> dict:
    """Map a new study onto a reference folder; embed it and transfer labels."""
    import scssl

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    source, output = Path(args.query), Path(args.output)
    if output.resolve() == source.resolve():
        raise ValueError("--output must differ from --query (the query file is never overwritten)")
    scssl.tl.read_reference(args.reference)  # a clear error before reading the query
    if args.gene_map is not None and not Path(args.gene_map).is_file():
        raise FileNotFoundError(f"--gene-map file not found: {args.gene_map}")
    query = _read_h5ad(source)
    _check_columns(query, source, args.layer, {})
    mapped = scssl.tl.map_query(
        args.reference,
        query,
        labels_key=args.labels_key,
        layer=args.layer,
        max_epochs=args.max_epochs,
        seed=args.seed,
        gene_map=args.gene_map,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    mapped.write_h5ad(output)
    genes = mapped.uns[OUTPUT_KEYS.QUERY_GENES]
    summary = {
        "n_cells": int(mapped.n_obs),
        "output": str(output),
        "reference_genes_in_query": int(genes["n_shared"]),
    }
    if "gene_map" in genes:
        summary["genes_renamed_by_gene_map"] = int(genes["gene_map"]["n_mapped"])
    if args.labels_key is not None:
        column = f"{args.labels_key}_transferred"
        summary["predicted"] = mapped.obs[column].value_counts().to_dict()
        summary["mean_uncertainty"] = float(mapped.obs[f"{column}_uncertainty"].mean())
    return summary


def _add_gene_selection(parser: argparse.ArgumentParser, what: str) -> None:
    """The gene-selection and seed options of the training commands."""
    parser.add_argument(
        "--n-top-genes",
        type=int,
        default=2000,
        help=f"{what} (seurat_v3 on counts, batch-aware; default 2000); 0: all genes",
    )
    parser.add_argument("--seed", type=int, default=0)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


EXIT_CODES = """exit codes: 0 success (JSON report on stdout); 2 bad input or arguments (message on
stderr, nothing written); 1 an unexpected error (traceback on stderr)."""


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ``scssl`` command."""
    parser = argparse.ArgumentParser(prog="scssl", description=__doc__, epilog=EXIT_CODES)
    sub = parser.add_subparsers(dest="command", required=True)

    p_demo = sub.add_parser(
        "demo", help="MaskedAE vs PCA on scanpy's bundled PBMCs (no data needed)"
    )
    p_demo.add_argument("--output", default="scssl_demo", help="output folder (default scssl_demo)")
    p_demo.add_argument("--max-epochs", type=_positive_int, default=None)
    p_demo.add_argument("--seed", type=int, default=0)
    p_demo.set_defaults(func=demo)

    p_fit = sub.add_parser("fit", help="train MaskedAE on your own .h5ad of raw counts")
    p_fit.add_argument("--input", required=True, help="input .h5ad with raw counts")
    p_fit.add_argument("--output", required=True, help="output .h5ad (or folder)")
    p_fit.add_argument("--layer", default=None, help="layer with raw counts (default X)")
    p_fit.add_argument("--batch-key", default=None)
    p_fit.add_argument("--labels-key", default=None, help="if given, score kNN vs PCA and plot")
    p_fit.add_argument("--max-epochs", type=_positive_int, default=None)
    _add_gene_selection(p_fit, "train on this many highly variable genes")
    p_fit.set_defaults(func=fit)

    add_benchmark_parser(sub, _positive_int)

    p_pre = sub.add_parser(
        "pretrain", help="pretrain on .h5ad/.zarr files read from disk; write a reference"
    )
    p_pre.add_argument("--input", nargs="+", required=True, help=".h5ad / .zarr files (CSR)")
    p_pre.add_argument("--output", required=True, help="reference folder to write")
    p_pre.add_argument("--genes", default=None, help="text file, one gene per line")
    _add_gene_selection(p_pre, "without --genes: train on this many highly variable genes")
    p_pre.add_argument("--model", default="masked_ae", help="masked_ae, simclr, byol, ...")
    p_pre.add_argument("--layer", default=None)
    p_pre.add_argument("--batch-key", default=None)
    p_pre.add_argument(
        "--categorical-covariate-keys", nargs="+", default=None, help="further obs columns"
    )
    p_pre.add_argument(
        "--continuous-covariate-keys", nargs="+", default=None, help="numeric obs columns"
    )
    p_pre.add_argument("--max-epochs", type=_positive_int, default=None)
    p_pre.add_argument("--batch-size", type=_positive_int, default=128)
    p_pre.add_argument(
        "--checkpoint-every", type=_positive_int, default=1000, help="steps between checkpoints"
    )
    p_pre.add_argument(
        "--precision",
        choices=options(TrainingPrecision),
        default="32-true",
        help="bf16-mixed: bfloat16 matmuls, float32 weights and losses; faster on CPUs with "
        "bfloat16 support and on GPUs (default 32-true)",
    )
    p_pre.add_argument("--overwrite", action="store_true")
    p_pre.add_argument(
        "--resume", default=None, help="checkpoint of an interrupted run, or 'latest'"
    )
    p_pre.set_defaults(func=pretrain)

    p_map = sub.add_parser("map", help="map a new study onto a reference folder")
    p_map.add_argument("--reference", required=True, help="folder written by scssl pretrain")
    p_map.add_argument("--query", required=True, help=".h5ad of raw counts")
    p_map.add_argument("--output", required=True, help="output .h5ad")
    p_map.add_argument("--labels-key", default=None, help="reference obs column to transfer")
    p_map.add_argument("--layer", default=None)
    p_map.add_argument("--max-epochs", type=_positive_int, default=20)
    p_map.add_argument("--seed", type=int, default=0)
    p_map.add_argument(
        "--gene-map",
        default=None,
        help="CSV/TSV of gene pairs (e.g. 1:1 orthologues) renaming the query's genes into "
        "the reference's; the column holding the query's genes is detected",
    )
    p_map.set_defaults(func=map_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scssl`` command."""
    args = build_parser().parse_args(argv)
    try:
        # progress and library logs go to stderr: stdout holds the JSON report alone
        with contextlib.redirect_stdout(sys.stderr):
            report = args.func(args)
        print(json.dumps(report, indent=2, default=str))
        return 0
    except (ValueError, KeyError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``scssl benchmark``: which method suits the user's data (a thin layer over scssl.benchmark)."""

from __future__ import annotations

import argparse
from pathlib import Path


def benchmark_command(args: argparse.Namespace) -> dict:
    """Benchmark the methods on a user's h5ad; write tables, figures and settings."""
    import scssl
    from scssl.cli import _check_columns, _read_h5ad  # cli imports this module at its top

    source, output = Path(args.input), Path(args.output)
    if output.suffix:
        raise ValueError(f"--output is a folder, got the file name {output}")
    adata = _read_h5ad(source)
    _check_columns(
        adata, source, args.layer, {"--batch-key": args.batch_key, "--labels-key": args.labels_key}
    )
    methods: dict[str, dict | None] = {m: None for m in args.methods.split(",")}
    if args.max_epochs is not None:
        methods = {m: ({} if m == "pca" else {"max_epochs": args.max_epochs}) for m in methods}
    result = scssl.benchmark(
        adata,
        layer=args.layer,
        batch_key=args.batch_key,
        labels_key=args.labels_key,
        methods=methods,
        seeds=args.seeds,
        time_budget=args.time_budget,
        n_jobs=args.n_jobs,
        n_top_genes=args.n_top_genes or None,
    )
    paths = result.write(output)
    paths["benchmark.png"] = output / "benchmark.png"
    paths["benchmark_table.png"] = output / "benchmark_table.png"
    summary = result.summary()
    if not summary.empty:
        scssl.pl.benchmark(result, save=paths["benchmark.png"])
        scssl.pl.benchmark_table(result, save=paths["benchmark_table.png"])
    return {
        "ranking": list(summary.index),
        "aggregate": result.aggregate,
        result.aggregate: summary[result.aggregate].round(4).to_dict() if len(summary) else {},
        "failed": [f"{r.method} seed {r.seed}: {r.error}" for r in result.failures.itertuples()],
        "notes": result.notes,
        "files": sorted(str(p) for p in paths.values() if p.exists()),
    }


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def add_benchmark_parser(sub, positive_int) -> None:
    """The ``scssl benchmark`` command's options."""
    p_bench = sub.add_parser(
        "benchmark", help="train and score every method on your .h5ad: which one suits it"
    )
    p_bench.add_argument("--input", required=True, help="input .h5ad with raw counts")
    p_bench.add_argument("--output", required=True, help="folder for the tables and figures")
    p_bench.add_argument("--layer", default=None, help="layer with raw counts (default X)")
    p_bench.add_argument("--batch-key", default=None)
    p_bench.add_argument("--labels-key", default=None, help="cell types (label metrics)")
    p_bench.add_argument(
        "--methods",
        default="masked_ae,simclr,vicreg,byol,barlow_twins,pca,scvi",
        help="comma-separated methods (default: all seven)",
    )
    p_bench.add_argument(
        "--seeds", type=_int_list, default=[0, 1, 2], help="comma-separated (default 0,1,2)"
    )
    p_bench.add_argument(
        "--time-budget", type=float, default=None, help="seconds of training for the whole run"
    )
    p_bench.add_argument(
        "--max-epochs", type=positive_int, default=None, help="epochs of every trained method"
    )
    p_bench.add_argument("--n-jobs", type=positive_int, default=1)
    p_bench.add_argument(
        "--n-top-genes",
        type=int,
        default=2000,
        help="highly variable genes every method trains on (default 2000); 0: all genes",
    )
    p_bench.set_defaults(func=benchmark_command)

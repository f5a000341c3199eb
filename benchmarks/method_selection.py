"""Which method suits a dataset: ``scssl.benchmark`` on Baron pancreas, all methods, 3 seeds.

The one-call comparison a user runs on their own data (issue "Method selection"),
run here on Baron pancreas (2,142 cells, 4 donors, labels ``cell_type1``): the seven
default methods (MaskedAE, SimCLR, VICReg, BYOL, Barlow Twins with their defaults;
PCA, 50 PCs; scVI with its defaults), seeds 0, 1, 2, the 2000 batch-aware highly
variable genes every method shares, and a training budget of ``--time-budget``
seconds for the whole run (default 1800: 100 s per trained run; each run stops at
the end of the epoch after which the next would overrun its share, see
``scssl.benchmark``). Scores: leave-one-donor-out kNN macro-F1 / accuracy,
scib-metrics bio conservation and batch correction (total = 0.6 bio + 0.4 batch,
the ranking), masked reconstruction on MaskedAE's validation cells, training time.

    cd benchmarks && nohup ../.venv/bin/python method_selection.py > method_selection.log &

Writes ``results/method_selection.md`` with the figures and the raw tables next to
it (``results/method_selection/``).
"""

from __future__ import annotations

import argparse
import time

from _common import RESULTS, set_threads, write_markdown

import scssl

OUT = RESULTS / "method_selection.md"
FOLDER = RESULTS / "method_selection"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-budget", type=float, default=1800.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    set_threads()
    adata = scssl.data.baron_pancreas()
    start = time.perf_counter()
    result = scssl.benchmark(
        adata,
        batch_key="donor",
        labels_key="cell_type1",
        seeds=args.seeds,
        time_budget=args.time_budget,
    )
    minutes = (time.perf_counter() - start) / 60
    paths = result.write(FOLDER)
    scssl.pl.benchmark(result, save=FOLDER / "benchmark.png")
    scssl.pl.benchmark_table(result, save=FOLDER / "benchmark_table.png")
    runs = result.runs.drop(columns="error").set_index(["method", "seed"])
    protocol = __doc__.split("\n\n")[1].replace("\n", " ")
    write_markdown(
        OUT,
        "Method selection on Baron pancreas (scssl.benchmark)",
        [
            ("Protocol", protocol + f" Wall time of the call: {minutes:.1f} min."),
            ("Result", result.to_markdown()),
            ("Runs", runs),
            (
                "Files",
                "Tidy scores, runs, settings and versions: "
                + ", ".join(f"`method_selection/{p.name}`" for p in paths.values())
                + ". Figures: `method_selection/benchmark.png`, "
                "`method_selection/benchmark_table.png`.",
            ),
        ],
    )
    print(result.summary().T.to_string())


if __name__ == "__main__":
    main()

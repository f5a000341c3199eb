"""Fresh pages per training step, and what glibc's malloc thresholds change: SimCLR and scVI.

Issue "Atlas scale" (SimCLR >= 2x scVI at 20k genes). A SimCLR step over Baron's 20,125
genes allocates a 41 MB first-layer weight gradient and 10-20 MB dense views every
time. glibc serves blocks of 32 MiB or more (and, by its adaptive rule, smaller ones
too) with fresh ``mmap`` pages and returns them when freed, so every step pays page
faults; on this 2-core virtual machine filling 41 MB of fresh memory took 17 ms against
1.4 ms for reused memory.

Each run is a fresh Python process (one torch thread), Baron with all genes, minibatch
128, the throughput benchmark's training (4 epochs, cells/s over epochs 2-4). The two
settings differ only in the process's environment:
- ``glibc default``: nothing set;
- ``large blocks kept``: ``MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483648``
  (freed blocks up to 1 GiB stay in the heap and are reused).
Minor page faults are counted over the whole ``train()`` call and divided by its steps.
Every (model, setting) runs ``ROUNDS`` times, interleaved.

Rule (fixed on 2026-12-07, before the run): scssl does not change the allocator itself
(it is process-wide and would speed scVI too); the scale guide recommends the setting
to users only if SimCLR trains at least 5% faster under it (median over rounds of the
per-round ratio), and the SimCLR / scVI ratio that counts for the issue is the one with
both models under the same setting.

    cd benchmarks && ../.venv/bin/python allocator_page_faults.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

import numpy as np
import pandas as pd
import scvi
from _common import RESULTS, append_row, set_threads, write_markdown
from anndata import AnnData
from scale_sparse_quality import baron_all_genes
from scale_throughput import EpochTimer, train_kwargs

import scssl

ROUNDS = 3
RUNS_CSV = RESULTS / "allocator_page_faults_runs.csv"
SETTINGS = {
    "glibc default": {},
    "large blocks kept": {
        "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
        "MALLOC_TRIM_THRESHOLD_": str(1 << 31),
    },
}
MODELS = ("scVI", "SimCLR")


def one_run(model_name: str) -> dict:
    """Train ``model_name`` on Baron (all genes) in this process; cells/s and faults/step."""
    set_threads()
    counts = baron_all_genes().X
    if model_name == "scVI":  # scVI on dense minibatches, as in scale_throughput
        adata, cls, kwargs = AnnData(counts.toarray()), scvi.model.SCVI, {}
    else:
        adata, cls, kwargs = AnnData(counts), scssl.model.Contrastive, {"method": "simclr"}
    cls.setup_anndata(adata)
    scvi.settings.seed = 0
    model = cls(adata, **kwargs)
    timer = EpochTimer()
    options = train_kwargs(None)
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model.train(callbacks=[timer], **options)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
    steps = options["max_epochs"] * int(np.ceil(adata.n_obs / options["batch_size"]))
    return {"train cells/s": timer.cells_per_second, "faults per step": faults / steps}


def run_in_fresh_process(model_name: str, setting: str) -> dict:
    """:func:`one_run` in a new interpreter whose environment carries ``setting``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    env.update(SETTINGS[setting])
    done = subprocess.run(
        [sys.executable, __file__, "--one", model_name],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"model": model_name, "setting": setting, **result}


def report(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame | str]]:
    """Median cells/s and faults per step, the setting's gain, the SimCLR / scVI ratios."""
    by_run = rows.groupby(["model", "setting"], sort=False)
    table = by_run[["train cells/s", "faults per step"]].median()
    speed = rows.set_index(["round", "model", "setting"])["train cells/s"].unstack(
        ["model", "setting"]
    )
    gain = {
        model: speed[(model, "large blocks kept")] / speed[(model, "glibc default")]
        for model in MODELS
    }
    table["gain from the setting (median, range)"] = [
        "—"
        if setting == "glibc default"
        else f"{gain[model].median():.3f} ({gain[model].min():.3f}-{gain[model].max():.3f})"
        for model, setting in table.index
    ]
    ratios = {
        "both glibc default": speed[("SimCLR", "glibc default")] / speed[("scVI", "glibc default")],
        "both large blocks kept": speed[("SimCLR", "large blocks kept")]
        / speed[("scVI", "large blocks kept")],
        "SimCLR kept, scVI default": speed[("SimCLR", "large blocks kept")]
        / speed[("scVI", "glibc default")],
    }
    ratio_table = pd.DataFrame(
        {
            "SimCLR / scVI (median)": {k: v.median() for k, v in ratios.items()},
            "range": {k: f"{v.min():.2f}-{v.max():.2f}" for k, v in ratios.items()},
        }
    )
    simclr_gain = gain["SimCLR"].median()
    verdict = (
        f"SimCLR's median gain from the setting: {simclr_gain:.3f}x. Rule: recommend it in "
        f"the scale guide if >= 1.05: {'met' if simclr_gain >= 1.05 else 'not met'}. The "
        "ratio that counts for the issue is SimCLR / scVI with both under the same setting."
    )
    return [
        ("Per model and setting (medians over rounds)", table),
        ("SimCLR / scVI, per-round ratios", ratio_table),
        ("Rule", verdict),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--one", choices=MODELS, help="(internal) one run in this process")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--report", action="store_true", help="write the tables from the CSV")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one)), flush=True)
        return
    set_threads()  # the environment line of the results names the runs' thread count
    if not args.report:
        RUNS_CSV.unlink(missing_ok=True)  # a rerun replaces the rows, never mixes two runs
        for round_ in range(args.rounds):
            for model_name in MODELS:
                for setting in SETTINGS:
                    row = run_in_fresh_process(model_name, setting) | {"round": round_}
                    print(row, flush=True)
                    append_row(RUNS_CSV, row)
    per_round = pd.read_csv(RUNS_CSV)
    sections = report(per_round)
    sections.append(("Per round", per_round.set_index(["round", "model", "setting"])))
    write_markdown(
        RESULTS / "allocator_page_faults.md",
        "Page faults per step and glibc's malloc thresholds (Baron, 20,125 genes)",
        sections,
    )


if __name__ == "__main__":
    main()

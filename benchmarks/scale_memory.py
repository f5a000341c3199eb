"""Peak memory of training from disk at 1e5 and 1e6 cells; two DDP processes vs one.

Issue "Atlas scale", item 5 (second and third bullets). The benchmark writes synthetic
collections of 100,000 and 1,000,000 cells x 20,125 genes into ``benchmarks/_work/``
(git-ignored, deleted at the end), four .h5ad files each, in chunks: every synthetic cell
is a real Baron cell's counts Poisson-resampled at a depth factor in [0.7, 1.3] (the
generator of ``scale_throughput.py``). Nothing is ever loaded whole.

Each measurement runs in a fresh Python process; its peak resident set size is its own
``VmHWM`` (``/proc/self/status``) at the end (``getrusage``'s ``ru_maxrss`` is carried
over ``exec`` on Linux and reported the generator's peak in the first run):
- MaskedAE (package defaults, sparse path) trained for one full epoch from the collection
  through ``CollectionDataModule`` (batch 128, blocks of 64 rows, fetches of 16 blocks),
  one torch thread;
- the same on the 1e5 set for 150 steps with one process, and with two processes
  (Lightning ``ddp_spawn``, gloo, one torch thread each): cells/s over all processes,
  timed from the second step to the end of training by rank 0.

Targets (issue): peak RSS under 4 GB and within 10% between the two sizes.

    cd benchmarks && ../.venv/bin/python scale_memory.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd
import scvi
import torch
from _common import RESULTS, write_markdown
from anndata import AnnData
from lightning.pytorch.callbacks import Callback
from scale_throughput import synthetic_from_real
from scipy import sparse

import scssl

WORK = Path(__file__).resolve().parent / "_work" / "scale_memory"
SIZES = [100_000, 1_000_000]
N_FILES = 4
CHUNK = 50_000
DDP_STEPS = 300


def write_collection(n_cells: int, real: sparse.csr_matrix, genes, folder: Path) -> list[Path]:
    """``N_FILES`` h5ad files of resampled cells, written chunk by chunk."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, per_file, seed = [], n_cells // N_FILES, 0
    donors = np.array(["d0", "d1", "d2", "d3"])
    for index in range(N_FILES):
        path = folder / f"part{index}.h5ad"
        written = 0
        while written < per_file:
            n = min(CHUNK, per_file - written)
            chunk = synthetic_from_real(real, n, seed=seed)
            seed += 1
            if written == 0:
                obs = pd.DataFrame(
                    {"donor": donors[np.arange(per_file) % 4]},
                    index=[f"f{index}_c{i}" for i in range(per_file)],
                )
                first = AnnData(chunk, var=pd.DataFrame(index=genes))
                first.write_h5ad(path)
                with h5py.File(path, "a") as handle:  # obs of the whole file, X grows below
                    del handle["obs"]
                    anndata.io.write_elem(handle, "obs", obs)
            else:
                with h5py.File(path, "a") as handle:
                    anndata.io.sparse_dataset(handle["X"]).append(chunk)
            written += n
        paths.append(path)
    return paths


def memory_gb(field: str = "VmHWM") -> float:
    """A memory figure of this process from ``/proc/self/status``, in GB.

    ``VmHWM`` (default) is its own peak resident set size, ``VmRSS`` the current one.
    Not ``getrusage``: Linux carries ``ru_maxrss`` over an ``exec``, so a child
    process would report its parent's peak (here, the generator's).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1e6  # kB -> GB
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_rss_gb() -> float:
    """This process's own peak resident set size (VmHWM), in GB."""
    return memory_gb("VmHWM")


class Clock(Callback):
    """Time from the second training step to the end, written by rank 0.

    Process start-up and data-loader set-up are excluded alike for one and two processes.
    """

    def __init__(self, path: str):
        self.path = path
        self.start = 0.0

    def on_train_batch_start(self, trainer, *args):  # noqa: D102
        if trainer.global_step == 1:
            self.start = time.perf_counter()

    def on_train_end(self, trainer, *args):  # noqa: D102
        if trainer.global_rank == 0:
            timing = {
                "seconds": time.perf_counter() - self.start,
                "steps": trainer.global_step - 1,
                "rank0_peak_rss_gb": peak_rss_gb(),
            }
            Path(self.path).write_text(json.dumps(timing))


def child(paths: list[str], devices: int, steps: int | None, clock_file: str) -> None:
    """One measurement, in its own process: train, then print timing and peak RSS."""
    torch.set_num_threads(1)
    scvi.settings.seed = 0
    collection = scssl.data.AnnDataCollection(paths, batch_key="donor")
    schema = collection.schema_anndata()
    scssl.model.MaskedAE.setup_anndata(schema, batch_key="donor")
    model = scssl.model.MaskedAE(schema)
    datamodule = scssl.data.CollectionDataModule(collection, batch_size=128)
    kwargs = {"max_epochs": 1, "enable_progress_bar": False, "accelerator": "cpu"}
    if steps:
        kwargs["max_steps"] = steps
    if devices > 1:
        kwargs |= {"devices": devices, "strategy": "ddp_spawn"}
    model.train(datamodule=datamodule, callbacks=[Clock(clock_file)], **kwargs)
    timing = json.loads(Path(clock_file).read_text())
    result = {
        "seconds": timing["seconds"],
        "steps": timing["steps"],
        "cells": timing["steps"] * 128 * devices,
        "peak_rss_gb": peak_rss_gb(),
        "rank0_peak_rss_gb": timing["rank0_peak_rss_gb"],
    }
    print(json.dumps(result))


def run_child(paths, mode: str, devices: int = 1, steps: int | None = None) -> dict:
    args = json.dumps([[str(p) for p in paths], devices, steps, str(WORK / "clock.json")])
    done = subprocess.run(
        [sys.executable, __file__, "--child", args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cells/s"] = result["cells"] / result["seconds"]
    print(mode, result, flush=True)
    return result


def main() -> None:
    baron = scssl.data.baron_pancreas()
    real = sparse.csr_matrix(baron.X, dtype=np.float32)
    genes = baron.var_names
    memory_rows, collections = [], {}
    try:
        for n_cells in SIZES:
            collections[n_cells] = write_collection(n_cells, real, genes, WORK / str(n_cells))
            size_gb = sum(p.stat().st_size for p in collections[n_cells]) / 1e9
            result = run_child(collections[n_cells], f"one epoch, {n_cells:,} cells")
            memory_rows.append(
                {
                    "cells": f"{n_cells:,}",
                    "files on disk (GB)": size_gb,
                    "steps": result["steps"],
                    "train cells/s": result["cells/s"],
                    "peak RSS (GB)": result["peak_rss_gb"],
                    "rank-0 peak RSS (GB)": result["rank0_peak_rss_gb"],
                }
            )
        one = run_child(collections[SIZES[0]], "1 process", 1, DDP_STEPS)
        two = run_child(collections[SIZES[0]], "2 processes (ddp_spawn)", 2, DDP_STEPS)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    memory = pd.DataFrame(memory_rows).set_index("cells")
    small, large = memory["peak RSS (GB)"].iloc[0], memory["peak RSS (GB)"].iloc[1]
    ddp = pd.DataFrame(
        [
            {"processes": 1, "train cells/s": one["cells/s"], "ratio": 1.0},
            {
                "processes": 2,
                "train cells/s": two["cells/s"],
                "ratio": two["cells/s"] / one["cells/s"],
            },
        ]
    ).set_index("processes")
    verdict = (
        f"Peak RSS {small:.2f} GB at {SIZES[0]:,} cells and {large:.2f} GB at {SIZES[1]:,} "
        f"cells (ratio {large / small:.3f}). Target under 4 GB: "
        f"{'met' if max(small, large) < 4 else 'NOT met'}; within 10%: "
        f"{'met' if abs(large / small - 1) <= 0.10 else 'NOT met'}."
    )
    write_markdown(
        RESULTS / "scale_memory.md",
        "Training from disk: peak memory at 1e5 and 1e6 cells, DDP throughput",
        [
            ("One epoch from an on-disk collection (4 h5ad files, 20,125 genes)", memory),
            ("Memory targets", verdict),
            (
                f"Two DDP processes vs one ({SIZES[0]:,} cells, {DDP_STEPS} steps of 128 cells "
                "per process, one torch thread per process, 2-core machine)",
                ddp,
            ),
        ],
    )
    print(verdict)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(*json.loads(sys.argv[2]))
    else:
        main()

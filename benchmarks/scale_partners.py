"""Contrastive kNN partners at atlas scale: the partner reference and views stay sparse.

Issue "Atlas scale", items 1 (augmentations act on the sparse structure) and 5 (memory).
``scssl.tl.contrastive`` computes kNN partners by default and, half of the time, uses one
as a cell's second view; the model keeps the counts of every registered cell to draw
partners from. Until this change that reference was a dense float32 copy (cells x genes,
8 GB at 100k x 20k) and a partner view made every minibatch dense. Now the reference is
CSR and a partner view of a sparse minibatch stays sparse.

In one run, every row in a fresh process (peak RSS is the process's own ``VmHWM``), on a
synthetic 100,000-cell x 20,125-gene set resampled from Baron's real cells (the generator
of ``scale_throughput.py``, rebuilt in each process from the same seed), one torch thread,
minibatch 128; training cells/s over epochs 2-3 of three 20-minibatch epochs:
- data only: the synthetic matrix built, no model;
- scVI (peer, default architecture, dense minibatches from scvi-tools' loader);
- SimCLR without partners, ``noise_nonzero_only=True`` (sparse throughout);
- SimCLR with kNN partners (``scssl.tl.knn_pairs`` defaults, timed), the same augmentations;
- SimCLR with kNN partners and the default augmentations (noise on every gene, so its
  minibatches are made dense after loading).

    cd benchmarks && ../.venv/bin/python scale_partners.py
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import scvi
from _common import RESULTS, set_threads, write_markdown
from anndata import AnnData
from scale_memory import memory_gb
from scale_throughput import EpochTimer, synthetic_from_real
from scipy import sparse

import scssl

N_CELLS = 100_000
BATCH_SIZE = 128
BATCHES_PER_EPOCH = 20
ROWS = {
    "data only": None,
    "scVI": {},
    "SimCLR, no partners, noise_nonzero_only": {"noise_nonzero_only": True},
    "SimCLR, kNN partners, noise_nonzero_only": {"noise_nonzero_only": True, "knn": True},
    "SimCLR, kNN partners, default augmentations": {"knn": True},
}


def synthetic() -> AnnData:
    baron = scssl.data.baron_pancreas()
    matrix = synthetic_from_real(sparse.csr_matrix(baron.X, dtype=np.float32), N_CELLS)
    return AnnData(matrix, var=baron.var[[]].copy())


def child(name: str) -> dict:
    """Build the data (and the row's model), train, and report memory and speed."""
    set_threads()
    adata = synthetic()
    settings = ROWS[name]
    gc.collect()
    result = {
        "row": name,
        "stored entries": int(adata.X.nnz),
        "RSS with data GB": memory_gb("VmRSS"),
    }
    if settings is None:
        return {**result, "peak RSS GB": memory_gb("VmHWM")}
    scvi.settings.seed = 0
    if name == "scVI":
        scvi.model.SCVI.setup_anndata(adata)
        model = scvi.model.SCVI(adata)
    else:
        kwargs = dict(settings)
        setup = {}
        if kwargs.pop("knn", False):
            start = time.perf_counter()
            scssl.tl.knn_pairs(adata)
            result["knn_pairs seconds"] = time.perf_counter() - start
            setup["knn_key"] = "scssl_knn_partners"
        scssl.model.Contrastive.setup_anndata(adata, **setup)
        model = scssl.model.Contrastive(adata, method="simclr", **kwargs)
        reference = model.module.partner_counts
        if reference is not None:
            result["partner reference layout"] = str(reference.layout).removeprefix("torch.")
    gc.collect()
    result["RSS with model GB"] = memory_gb("VmRSS")  # kNN partners and partner reference included
    timer = EpochTimer()
    model.train(
        max_epochs=3,
        batch_size=BATCH_SIZE,
        train_size=1.0,
        limit_train_batches=BATCHES_PER_EPOCH,
        enable_progress_bar=False,
        callbacks=[timer],
    )
    return {
        **result,
        "model over data GB": result["RSS with model GB"] - result["RSS with data GB"],
        "train cells/s": timer.cells_per_second,
        "peak RSS GB": memory_gb("VmHWM"),
    }


def run_row(name: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", name], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(result, flush=True)
    return result


def main() -> None:
    set_threads()  # as in the children, so that the table's environment line is theirs
    table = pd.DataFrame([run_row(name) for name in ROWS]).set_index("row")
    table["train / scVI"] = table["train cells/s"] / table.loc["scVI", "train cells/s"]
    dense_gb = N_CELLS * 20_125 * 4 / 1e9
    notes = (
        f"Synthetic {N_CELLS:,} cells x 20,125 genes, "
        f"{table.loc['data only', 'stored entries']:,} stored entries. A dense float32 "
        f"partner reference, as the code before this change kept, would take "
        f"{dense_gb:.2f} GB (cells x genes x 4 bytes; computed, not run). 'model over "
        "data' is the resident memory the model adds once built (for the kNN rows with "
        "knn_pairs run and the partner reference set), after garbage collection; the peak "
        "includes building the synthetic set (the 'data only' row). Minibatch "
        f"{BATCH_SIZE}; cells/s over epochs 2-3 of three {BATCHES_PER_EPOCH}-minibatch epochs; "
        "one torch thread; each row in its own process."
    )
    write_markdown(
        RESULTS / "scale_partners.md",
        "Contrastive kNN partners at 100k cells x 20k genes: sparse reference and views",
        [("Peak memory and training speed", table), ("Notes", notes)],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2])), flush=True)
    else:
        main()

"""GPU throughput at 20k genes: MaskedAE, SimCLR and scVI at minibatch 512 and 4096.

Issue "Atlas scale", item 7: whenever a GPU is lent, run this and commit
``results/scale_gpu.md`` (the device is named in its header). Target: >= 50k cells/s
MaskedAE training at 20k genes on one H200. Prepared as one short device check (a lent
machine has about 15 minutes in all, start-up included; this run takes a few minutes)::

    cd benchmarks && python scale_gpu.py           # on the GPU machine
    cd benchmarks && python scale_gpu.py --quick   # CPU smoke test, under a minute

The device tool's machines lack scvi-tools, anndata, scanpy and ``../shared``:
``scripts/gpu_bundle.sh`` gathers them under ``.gpu/`` and prints the command to run.

Data: ``--cells`` synthetic cells (default 200,000) x all 20,125 Baron genes, resampled
from Baron's real cells as in ``scale_throughput.py`` (never written to disk), read as
CSR minibatches by scvi-tools' loader (scVI's densified by it, as always). Each row trains
for 4 epochs of at most 60 minibatches; training cells/s is over epochs 2-4, with the GPU
synchronised at each epoch boundary; embedding cells/s is the median of 3
``get_latent_representation`` calls (after an untimed one) over up to 100,000 cells at
minibatch 4096. Rows: scVI, MaskedAE and SimCLR at float32 and each minibatch size, and
MaskedAE in bf16-mixed at 4096. A row that fails records its error and the run goes on,
so one failure does not cost the device time of the others.
"""

from __future__ import annotations

import argparse
import time
import traceback

import numpy as np
import pandas as pd
import scvi
import torch
from _common import RESULTS, write_markdown
from anndata import AnnData
from scale_throughput import builder, measure, synthetic_from_real
from scipy import sparse

import scssl

TARGET_CELLS_PER_SECOND = 50_000  # MaskedAE training, 20k genes, one H200


def rows_for(matrix: sparse.csr_matrix, batch_sizes, epochs, batches, embed_cap) -> list[dict]:
    adata = AnnData(matrix)
    builds = {
        "scVI": builder(scvi.model.SCVI, adata),
        "MaskedAE": builder(scssl.model.MaskedAE, adata),
        "SimCLR": builder(scssl.model.Contrastive, adata, method="simclr"),
    }
    runs = [(name, size, "32-true") for size in batch_sizes for name in builds]
    runs.append(("MaskedAE", batch_sizes[-1], "bf16-mixed"))
    rows = []
    for name, size, precision in runs:
        label = f"{name}, minibatch {size}, {precision}"
        print(f"== {label}", flush=True)
        start = time.perf_counter()
        try:
            row = measure(
                label,
                builds[name],
                matrix.shape[0],
                batches,
                embed_cap=embed_cap,
                embed_batch_size=4096,
                batch_size=size,
                epochs=epochs,
                precision=precision,
            )
        except Exception as error:  # noqa: BLE001 - recorded in the table; the run goes on
            traceback.print_exc()
            row = {"method": label, "error": f"{type(error).__name__}: {error}"[:200]}
        row.update(model=name, minibatch=size, precision=precision)
        row["row seconds"] = time.perf_counter() - start
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cells", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="CPU smoke test: tiny sizes")
    args = parser.parse_args()
    if args.quick:
        n_cells, batch_sizes, epochs, batches, embed_cap = 2_000, (64, 256), 2, 3, 1_000
    else:
        n_cells, batch_sizes, epochs, batches, embed_cap = args.cells, (512, 4096), 4, 60, 100_000
    if not torch.cuda.is_available() and not args.quick:
        raise SystemExit("no GPU visible to torch: run with --quick for the CPU smoke test")
    start = time.perf_counter()
    baron = scssl.data.baron_pancreas()
    matrix = synthetic_from_real(sparse.csr_matrix(baron.X, dtype=np.float32), n_cells)
    print(f"data: {matrix.shape}, {time.perf_counter() - start:.0f}s", flush=True)
    table = pd.DataFrame(rows_for(matrix, batch_sizes, epochs, batches, embed_cap))
    table = table.set_index("method")
    masked_ae = table[(table["model"] == "MaskedAE") & (table["precision"] == "32-true")]
    best = masked_ae.get("train cells/s", pd.Series(dtype=float)).max()
    verdict = (
        f"MaskedAE float32 training, best minibatch: {best:,.0f} cells/s; target >= "
        f"{TARGET_CELLS_PER_SECOND:,} on one H200: "
        + ("met" if best >= TARGET_CELLS_PER_SECOND else "NOT met")
        + " (on the device named above)."
    )
    notes = (
        f"{n_cells:,} synthetic cells x {matrix.shape[1]:,} genes; {epochs} epochs of at most "
        f"{batches} minibatches per row; embedding over up to {embed_cap:,} cells. "
        f"Whole run: {(time.perf_counter() - start) / 60:.1f} min."
    )
    name = "scale_gpu_quick.md" if args.quick else "scale_gpu.md"
    write_markdown(
        RESULTS / name,
        "GPU throughput at 20k genes: MaskedAE, SimCLR, scVI",
        [("Cells/s", table), ("Target", verdict), ("Notes", notes)],
    )
    print((RESULTS / name).read_text(), flush=True)


if __name__ == "__main__":
    main()

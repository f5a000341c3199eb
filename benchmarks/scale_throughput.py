"""Training and embedding throughput at 2k and 20k genes: sparse path vs dense path vs scVI.

Issue "Atlas scale", item 5 (first bullet). In one run, on the same cells, genes and
minibatch size (128), with one torch thread:
- scVI (default architecture, dense minibatches as scvi-tools loads them);
- MaskedAE and SimCLR (scssl defaults) on a dense matrix ("dense path") and on the same
  matrix as CSR ("sparse path"); MaskedAE also with ``decoder_gene_fraction=0.25``
  (faster, but it lost quality in ``scale_sparse_quality.md``, so not the default) and
  with ``decoder_n_hidden=128`` (a decoder half as wide as the encoder; not the default,
  see ``masked_ae_decoder_width.md``), and SimCLR with ``noise_nonzero_only=True``,
  under which its augmentations keep the minibatch sparse.
Data: Baron pancreas, all 20,125 genes and the 2,000 HVGs (seurat_v3, donor-aware), and a
synthetic 100,000-cell x 20,125-gene set resampled from Baron's real cells (each
synthetic cell is a real cell's counts, Poisson-resampled at a depth factor drawn in
[0.7, 1.3], so its non-zero structure and profile are a real cell's; never written to disk).

Training cells/s is timed by a callback over the training epochs after the first
(start-up and the first epoch's warm-up excluded); on the 100k set each epoch is capped
at 40 minibatches (5,120 cells, drawn from all 100k). Embedding cells/s is
``get_latent_representation`` over every cell (capped at 20,000 cells on the 100k set):
the median of 3 calls after an untimed first one. (Until 2026-12-07 it was one call,
about 0.2 s on Baron, and scVI's figure moved 3x between runs: 3.5k vs 10.7k cells/s.)
Peak RSS is the process's (all rows together); per-row memory is measured by
``scale_memory.py``.

Rounds (rule fixed on 2026-12-07, before the first run with them): on this shared 2-core
machine a single measurement of a ratio moved by 10-25% between runs (SimCLR on the
100k set: 2.06x, then 1.48x). Every row is therefore measured ``ROUNDS`` times, the rows
interleaved (round 1 of every method, then round 2, ...), each ratio taken against scVI
*of the same round*. The tables give the median over rounds of the per-round ratios, with
their range; the targets are judged on the median.

    cd benchmarks && ../.venv/bin/python scale_throughput.py
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
import scvi
import torch
from _common import RESULTS, hvg_subset, set_threads, write_markdown
from anndata import AnnData
from lightning.pytorch.callbacks import Callback
from scipy import sparse

import scssl

BATCH_SIZE = 128
EPOCHS = 4  # the first is warm-up; cells/s over the other three
SYNTHETIC_CELLS = 100_000
SYNTHETIC_BATCHES_PER_EPOCH = 40
EMBED_CAP = 20_000
EMBED_REPEATS = 3  # embedding cells/s: the median of 3 timed calls (2,142 cells take ~0.2 s)
ROUNDS = 3  # every row measured 3 times, interleaved; tables give per-round ratio medians
PEER = "scVI (dense minibatches)"


def _synchronize() -> None:
    """Wait for queued GPU work, so that wall time covers it (no-op on CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class EpochTimer(Callback):
    """Wall time and cells of every training epoch after the first."""

    def __init__(self):
        self.seconds, self.cells, self._start, self._cells = 0.0, 0, 0.0, 0

    def on_train_epoch_start(self, trainer, pl_module):  # noqa: D102
        _synchronize()
        self._start, self._cells = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):  # noqa: D102
        x = batch[scvi.REGISTRY_KEYS.X_KEY]
        self._cells += int(x.shape[0])

    def on_train_epoch_end(self, trainer, pl_module):  # noqa: D102
        _synchronize()
        if trainer.current_epoch > 0:
            self.seconds += time.perf_counter() - self._start
            self.cells += self._cells

    @property
    def cells_per_second(self) -> float:  # noqa: D102
        return self.cells / self.seconds


def synthetic_from_real(real: sparse.csr_matrix, n_cells: int, seed: int = 0) -> sparse.csr_matrix:
    """``n_cells`` cells resampled from real cells: Poisson(depth x counts of a real cell)."""
    rng = np.random.default_rng(seed)
    parents = rng.integers(0, real.shape[0], n_cells)
    out = real[parents].astype(np.float32)
    depth = rng.uniform(0.7, 1.3, n_cells).astype(np.float32)
    out.data = rng.poisson(out.data * np.repeat(depth, np.diff(out.indptr))).astype(np.float32)
    out.eliminate_zeros()
    return out


def train_kwargs(
    limit_batches: int | None, batch_size: int = BATCH_SIZE, epochs: int = EPOCHS
) -> dict:
    kwargs = {"max_epochs": epochs, "batch_size": batch_size, "train_size": 1.0}
    kwargs["enable_progress_bar"] = False
    if limit_batches is not None:
        kwargs["limit_train_batches"] = limit_batches
    return kwargs


def measure(
    name: str,
    build,
    n_obs: int,
    limit_batches: int | None,
    embed_cap: int = EMBED_CAP,
    embed_batch_size: int = 1024,
    batch_size: int = BATCH_SIZE,
    epochs: int = EPOCHS,
    **train_options,
) -> dict:
    """Train ``build()``'s model under the timer, then time its embedding.

    ``train_options``: any other ``model.train`` argument (e.g. ``precision``).
    """
    scvi.settings.seed = 0
    model = build()
    timer = EpochTimer()
    kwargs = train_kwargs(limit_batches, batch_size, epochs)
    model.train(callbacks=[timer], **kwargs, **train_options)
    indices = np.arange(min(n_obs, embed_cap))
    seconds = []
    for _ in range(1 + EMBED_REPEATS):  # the first call (loader start-up) is not timed
        start = time.perf_counter()
        model.get_latent_representation(indices=indices, batch_size=embed_batch_size)
        seconds.append(time.perf_counter() - start)
    embed = indices.size / float(np.median(seconds[1:]))
    row = {"method": name, "train cells/s": timer.cells_per_second, "embed cells/s": embed}
    print(row, flush=True)
    return row


def builder(cls, adata: AnnData, **kwargs):
    """A function that registers ``adata`` with ``cls`` (scVI or an scssl model) and builds one."""

    def build():
        cls.setup_anndata(adata)
        return cls(adata, **kwargs)

    return build


def rows_for(
    matrix: sparse.csr_matrix, obs: pd.DataFrame, limit_batches: int | None, rounds: int = ROUNDS
) -> pd.DataFrame:
    """scVI, MaskedAE, SimCLR on ``matrix`` (dense and sparse where it fits), ``rounds`` times."""
    as_csr = AnnData(matrix, obs=obs.copy())
    dense_fits = matrix.shape[0] * matrix.shape[1] * 4 < 4e9
    as_dense = AnnData(matrix.toarray(), obs=obs.copy()) if dense_fits else None

    runs = {PEER: builder(scvi.model.SCVI, as_dense if dense_fits else as_csr)}
    for label, adata in (("dense", as_dense), ("sparse", as_csr)):
        if adata is None:
            continue
        runs[f"MaskedAE {label} path"] = builder(scssl.model.MaskedAE, adata)
        if label == "sparse":
            runs["MaskedAE sparse path, decoder_gene_fraction=0.25"] = builder(
                scssl.model.MaskedAE, adata, decoder_gene_fraction=0.25
            )
            runs["MaskedAE sparse path, decoder_n_hidden=128"] = builder(
                scssl.model.MaskedAE, adata, decoder_n_hidden=128
            )
        runs[f"SimCLR {label} path"] = builder(scssl.model.Contrastive, adata, method="simclr")
    runs["SimCLR sparse path, noise_nonzero_only"] = builder(
        scssl.model.Contrastive, as_csr, method="simclr", noise_nonzero_only=True
    )
    rows = []
    for round_ in range(rounds):
        for name, build in runs.items():
            rows.append(measure(name, build, matrix.shape[0], limit_batches) | {"round": round_})
    return ratio_table(pd.DataFrame(rows))


def ratio_table(per_round: pd.DataFrame) -> pd.DataFrame:
    """Per method: median cells/s and the median (and range) of the per-round ratios to scVI."""
    peer = per_round[per_round["method"] == PEER].set_index("round")
    columns = {}
    for kind in ("train", "embed"):
        speed = f"{kind} cells/s"
        columns[speed] = per_round.groupby("method", sort=False)[speed].median()
        per_round_ratio = per_round[speed] / per_round["round"].map(peer[speed])
        ratio = per_round_ratio.groupby(per_round["method"], sort=False)
        columns[f"{kind} / scVI"] = ratio.median()
        columns[f"{kind} / scVI range"] = [
            f"{low:.2f}-{high:.2f}" for low, high in zip(ratio.min(), ratio.max())
        ]
    return pd.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="measurements per row")
    rounds = parser.parse_args().rounds
    set_threads()
    baron = scssl.data.baron_pancreas()
    baron.X = sparse.csr_matrix(baron.X, dtype=np.float32)
    obs = baron.obs[["donor"]]
    hvg = hvg_subset(baron, "donor", 2000)
    sections = []
    datasets = [
        ("Baron, 2,142 cells x 2,000 HVGs", sparse.csr_matrix(hvg.X), obs, None),
        ("Baron, 2,142 cells x 20,125 genes (all)", baron.X, obs, None),
    ]
    synthetic = synthetic_from_real(baron.X, SYNTHETIC_CELLS)
    synthetic_obs = pd.DataFrame(index=[f"s{i}" for i in range(SYNTHETIC_CELLS)])
    datasets.append(
        (
            f"synthetic, {SYNTHETIC_CELLS:,} cells x 20,125 genes (resampled from Baron)",
            synthetic,
            synthetic_obs,
            SYNTHETIC_BATCHES_PER_EPOCH,
        )
    )
    for title, matrix, cell_obs, limit in datasets:
        density = matrix.nnz / (matrix.shape[0] * matrix.shape[1])
        print(f"== {title}: {density:.1%} non-zero", flush=True)
        table = rows_for(matrix, cell_obs.set_index(pd.Index(cell_obs.index)), limit, rounds)
        sections.append((f"{title}; {density:.1%} of entries non-zero", table))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    notes = (
        f"{rounds} rounds, interleaved; cells/s and ratios are medians over rounds, each "
        "ratio against scVI of the same round (range: lowest-highest round). "
        f"Minibatch {BATCH_SIZE}; train cells/s over epochs 2-{EPOCHS} (timed per epoch "
        f"by a callback); embedding over up to {EMBED_CAP:,} cells, minibatch 1024, the "
        f"median of {EMBED_REPEATS} calls after an untimed one. "
        f"torch threads: {torch.get_num_threads()}. Peak RSS of the whole run "
        f"(all rows, all datasets): {peak_gb:.1f} GB. scVI's 100k row trains on dense "
        "minibatches densified from the CSR matrix by scvi-tools' own loader (the dense "
        "100k x 20k matrix, 8 GB, is not built)."
    )
    sections.append(("Notes", notes))
    write_markdown(
        RESULTS / "scale_throughput.md", "Throughput: sparse path vs dense vs scVI", sections
    )


if __name__ == "__main__":
    main()

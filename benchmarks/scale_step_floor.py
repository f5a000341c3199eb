"""The fixed work of a training step against the scale targets' budgets (MaskedAE 5x, SimCLR 2x).

Issue "Atlas scale", item 5: MaskedAE >= 5x scVI's training cells/s at 20k genes, SimCLR
>= 2x. At the package defaults, part of each step's work is fixed by the objective and
the architecture, whatever else the step does:
- MaskedAE (reconstruction of every gene, ``decoder_gene_fraction=1``): the decoder's last
  layer, ``hidden (128 x 256)`` times the ``20,125 x 256`` weight forward, and its two
  products backward (the gradient of the hidden layer and of the weight): three GEMMs of
  2 x 128 x 256 x 20,125 flops; the encoder's first layer on the visible half of the
  stored entries (scssl's embedding-bag, forward and the weight's gradient); the Adam
  update of all parameters (fused, as scssl trains);
- SimCLR (Gaussian noise on every gene of half the cells, the default augmentation): the
  encoder's first layer reads both views dense, ``(256 x 20,125) @ (20,125 x 512)``
  forward and the weight's gradient backward (the input needs none); the step's random
  draws on every gene (the noise, ``torch.randn``) and on the thinned stored counts
  (``torch.binomial``); the fused Adam update.

This benchmark times, in one process with one torch thread, on Baron's cells with all
20,125 genes and minibatches of 128 cells: a whole scVI step, a whole MaskedAE and SimCLR
step (sparse path, package defaults), and those fixed parts alone, at the same shapes.
Each is the median of ``REPEATS`` timed calls after warm-up, the rows interleaved over
``ROUNDS`` rounds. The budget of a target is scVI's step divided by the target ratio;
if the fixed parts alone take longer than the budget, the target cannot be met at these
defaults with these kernels (torch's float32 GEMM and embedding-bag) on this machine,
whatever the rest of the step costs. (A step measured here
excludes the data loader, as the budget does.)

    cd benchmarks && ../.venv/bin/python scale_step_floor.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import scvi
import torch
from _common import RESULTS, set_threads, write_markdown
from anndata import AnnData
from scale_sparse_quality import baron_all_genes
from scipy import sparse
from scvi.dataloaders import AnnDataLoader

import scssl

BATCH_SIZE = 128
REPEATS = 10
ROUNDS = 3
TARGETS = {"MaskedAE": 5.0, "SimCLR": 2.0}


def median_ms(work, repeats: int = REPEATS) -> float:
    """Median wall time of ``work()`` in ms, after two untimed calls."""
    for _ in range(2):
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def model_step(model, sparse_batches: bool):
    """A whole training step of ``model``'s module (forward, backward, fused Adam)."""
    loader = AnnDataLoader(
        model.adata_manager,
        batch_size=BATCH_SIZE,
        shuffle=True,
        load_sparse_tensor=sparse_batches,
    )
    batches = [batch for _, batch in zip(range(REPEATS + 2), loader, strict=False)]
    module = model.module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, eps=0.01, fused=True)
    position = [0]

    def step():
        batch = batches[position[0] % len(batches)]
        position[0] += 1
        optimizer.zero_grad(set_to_none=True)
        _, _, loss = module(batch)
        loss.loss.backward()
        optimizer.step()

    return step, optimizer


def first_layer_width(model) -> int:
    """Output width of an scssl model's encoder first layer."""
    return model.module.z_encoder.encoder.fc_layers[0][0].out_features


def gemm_work(rows: int, inner: int, out: int, input_grad: bool, gene_major: bool):
    """Forward ``(rows x inner)`` times an ``inner x out`` map, and its backward products.

    ``gene_major``: the weight stored ``inner x out`` (scssl's first layer); else ``out x
    inner`` as ``nn.Linear`` stores it (the decoder). ``input_grad``: the input's gradient
    is computed too (the decoder's, which trains the layers before it). Returns the work
    and its flops (2 x rows x inner x out per product).
    """
    x = torch.randn(rows, inner, requires_grad=input_grad)
    weight = torch.randn(*((inner, out) if gene_major else (out, inner)), requires_grad=True)
    grad = torch.randn(rows, out)

    def work():
        weight.grad = x.grad = None
        y = x @ weight if gene_major else torch.nn.functional.linear(x, weight)
        y.backward(grad)

    n_products = 3 if input_grad else 2
    return work, n_products * 2 * rows * inner * out


def sparse_first_layer_work(counts: sparse.csr_matrix, width: int, visible: float = 0.5):
    """MaskedAE's encoder first layer on a CSR minibatch, forward and weight gradient.

    The visible (unmasked) share of 128 real cells' stored entries, through scssl's
    embedding-bag (``scssl.nn.sparse_linear``) on a gene-major weight.
    """
    rows = counts[:BATCH_SIZE].astype(np.float32)
    keep = np.random.default_rng(0).random(rows.nnz) < visible
    rows.data = np.log1p(rows.data) * keep
    rows.eliminate_zeros()
    x = scssl.data.csr_tensor(rows)
    weight_t = torch.randn(rows.shape[1], width, requires_grad=True)
    grad = torch.randn(BATCH_SIZE, width)

    def work():
        weight_t.grad = None
        scssl.nn.sparse_linear(x, weight_t.T).backward(grad)

    return work


def simclr_draws(counts: sparse.csr_matrix, n_genes: int):
    """The default augmentations' random draws of one SimCLR step (two views of 128 cells)."""
    stored = torch.from_numpy(counts[: 2 * BATCH_SIZE].data.astype(np.float32))
    # the thinned half of the views' stored counts (thinning_prob 0.5), kept at [0.5, 1)
    thinned = stored[: stored.numel() // 2]
    keep = 0.5 + 0.5 * torch.rand(thinned.numel())
    n_noised = BATCH_SIZE  # half of the 256 view rows get noise (noise_prob 0.5)

    def work():
        torch.binomial(thinned, keep)
        torch.randn(n_noised, n_genes)

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    set_threads()
    counts = baron_all_genes().X
    n_genes = counts.shape[1]
    as_csr, as_dense = AnnData(counts), AnnData(counts.toarray())
    scvi.settings.seed = 0
    scvi.model.SCVI.setup_anndata(as_dense)
    scvi_step, _ = model_step(scvi.model.SCVI(as_dense), sparse_batches=False)
    scssl.model.MaskedAE.setup_anndata(as_csr)
    masked_ae = scssl.model.MaskedAE(as_csr)
    masked_ae_step, masked_ae_adam = model_step(masked_ae, sparse_batches=True)
    scssl.model.Contrastive.setup_anndata(as_csr)
    simclr = scssl.model.Contrastive(as_csr, method="simclr")
    simclr_step, simclr_adam = model_step(simclr, sparse_batches=True)
    decoder_gemms = ("MaskedAE", "decoder last layer: 3 GEMMs")
    first_layer_gemms = ("SimCLR", "first layer, dense views: 2 GEMMs")
    gemms = {
        decoder_gemms: gemm_work(
            BATCH_SIZE,
            masked_ae.module.x_decoder.output.in_features,
            n_genes,
            input_grad=True,
            gene_major=False,
        ),
        first_layer_gemms: gemm_work(
            2 * BATCH_SIZE, n_genes, first_layer_width(simclr), input_grad=False, gene_major=True
        ),
    }
    parts = {
        ("scVI", "whole step"): scvi_step,
        ("MaskedAE", "whole step"): masked_ae_step,
        decoder_gemms: gemms[decoder_gemms][0],
        ("MaskedAE", "encoder first layer, sparse (embedding-bag)"): sparse_first_layer_work(
            counts, first_layer_width(masked_ae)
        ),
        ("MaskedAE", "fused Adam update"): masked_ae_adam.step,
        ("SimCLR", "whole step"): simclr_step,
        first_layer_gemms: gemms[first_layer_gemms][0],
        ("SimCLR", "random draws (noise, thinning)"): simclr_draws(counts, n_genes),
        ("SimCLR", "fused Adam update"): simclr_adam.step,
    }
    rows = []
    for round_ in range(args.rounds):
        for (model, part), work in parts.items():
            rows.append({"model": model, "part": part, "ms": median_ms(work), "round": round_})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).groupby(["model", "part"], sort=False)["ms"].median()
    scvi_ms = table[("scVI", "whole step")]
    verdicts = []
    summary = {}
    for model, target in TARGETS.items():
        fixed = table[model].drop("whole step").sum()
        budget = scvi_ms / target
        summary[model] = {
            "whole step (ms)": table[(model, "whole step")],
            "x scVI (step time)": scvi_ms / table[(model, "whole step")],
            "target": f"{target:g}x",
            "budget (ms)": budget,
            "fixed parts (ms)": fixed,
            "fixed parts / budget": fixed / budget,
        }
        verdicts.append(
            f"{model}: fixed parts {fixed:.1f} ms against a budget of {budget:.1f} ms "
            f"(scVI's step {scvi_ms:.1f} ms / {target:g}): "
            + (
                "the target cannot be met at these defaults with these kernels on this machine."
                if fixed >= budget
                else f"{budget - fixed:.1f} ms left for the rest of the step "
                f"(it now takes {table[(model, 'whole step')] - fixed:.1f} ms)."
            )
        )
    gflops = {
        f"{model} {part.split(':')[0]}": flops / table[(model, part)] / 1e6
        for (model, part), (_, flops) in gemms.items()
    }
    notes = (
        " ".join(verdicts)
        + " GEMM rates reached: "
        + ", ".join(f"{name} {rate:.0f} GFLOP/s" for name, rate in gflops.items())
        + f" (float32, {torch.get_num_threads()} thread)."
    )
    write_markdown(
        RESULTS / "scale_step_floor.md",
        "The fixed work of a training step against the targets' budgets (Baron, 20,125 genes)",
        [
            ("Parts of a step (ms, median over rounds)", table.to_frame()),
            ("Budgets", pd.DataFrame(summary).T),
            ("Verdict", notes),
            ("Per round", pd.DataFrame(rows).set_index(["round", "model", "part"])),
        ],
    )


if __name__ == "__main__":
    main()

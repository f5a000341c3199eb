"""Exploratory check behind adding BYOL to the paired methods of ``contrastive.py``.

Leave-one-chemistry-out kNN macro-F1 on pbmc_3tech with seed 10 (not a seed that
``contrastive.py`` reports) for scVI and paired variants not yet in that benchmark.
It printed: scVI 0.9910, BYOL + MNN 0.9918, BYOL + kNN 0.9911, SimCLR + MNN + kNN 0.9899
(the Barlow Twins and VICReg variants were stopped unfinished). No result file: the
numbers are quoted in ``results/contrastive.md`` as the selection step they were.

    cd benchmarks && ../.venv/bin/python contrastive_paired_explore.py
"""

from __future__ import annotations

from _common import scvi_embedding, set_threads
from contrastive import SCVI_EPOCHS, pairing_kwargs, prepare, ssl_embedding

import scssl

SEED = 10
MNN, KNN = pairing_kwargs("MNN"), pairing_kwargs("kNN")
VARIANTS = {  # name -> (method, pairing arguments)
    "BYOL + MNN": ("byol", MNN),
    "BYOL + kNN": ("byol", KNN),
    "SimCLR + MNN + kNN": ("simclr", {**MNN, **KNN}),
    "Barlow Twins + MNN": ("barlow_twins", MNN),
    "VICReg + MNN + kNN": ("vicreg", {**MNN, **KNN}),
}


def main() -> None:
    set_threads()
    _, adata, batch_key, labels_key = prepare("pbmc_3tech")
    labels, batches = adata.obs[labels_key].to_numpy(), adata.obs[batch_key].to_numpy()
    runs = {"scVI": lambda: scvi_embedding(adata, batch_key, SEED, max_epochs=SCVI_EPOCHS)}
    for name, (method, pairing) in VARIANTS.items():
        runs[name] = lambda m=method, p=pairing: ssl_embedding(
            scssl.model.Contrastive, adata, batch_key, SEED, None, method=m, **p
        )
    for name, run in runs.items():
        knn = scssl.metrics.leave_one_batch_out(run().embedding, labels, batches)
        print(f"{name}: macro-F1 {knn.loc['mean', 'macro_f1']:.4f}", flush=True)


if __name__ == "__main__":
    main()

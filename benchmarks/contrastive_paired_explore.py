"""Exploratory check behind adding BYOL to the paired methods of ``contrastive.py``.

Leave-one-chemistry-out kNN macro-F1 on pbmc_3tech with seed 10 (not a seed that
``contrastive.py`` reports) for scVI and paired variants not yet in that benchmark.
It printed: scVI 0.9910, BYOL + MNN 0.9918, BYOL + kNN 0.9911, SimCLR + MNN + kNN 0.9899
(the Barlow Twins and VICReg variants were stopped unfinished). No result file: the
numbers are quoted in ``results/contrastive.md`` as the selection step they were.

    cd benchmarks && ../.venv/bin/python contrastive_paired_explore.py
"""

from __future__ import annotations

from _common import set_threads
from contrastive import BATCH_SIZE, pairing_kwargs, prepare, run_method

SEED = 10
MNN, KNN = pairing_kwargs("MNN"), pairing_kwargs("kNN")
VARIANTS = {  # name -> scssl.benchmark method arguments
    "BYOL + MNN": {"method": "byol", **MNN},
    "BYOL + kNN": {"method": "byol", **KNN},
    "SimCLR + MNN + kNN": {"method": "simclr", **MNN, **KNN},
    "Barlow Twins + MNN": {"method": "barlow_twins", **MNN},
    "VICReg + MNN + kNN": {"method": "vicreg", **MNN, **KNN},
}


def main() -> None:
    set_threads()
    dataset = prepare("pbmc_3tech")
    runs = {"scVI": None, **{n: {**v, "batch_size": BATCH_SIZE} for n, v in VARIANTS.items()}}
    for name, spec in runs.items():
        row, _ = run_method(dataset, name, SEED, spec)
        print(f"{name}: macro-F1 {row['macro_f1']:.4f}", flush=True)


if __name__ == "__main__":
    main()

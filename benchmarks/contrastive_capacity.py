"""Capacity and training length of the Contrastive encoder (SimCLR, VICReg).

The augmentation ablation (``contrastive_ablation.py``) fixed the augmentations with a
small encoder (32-d embedding, 2 x 256 hidden) and 25 epochs. This one asks whether a
wider encoder, a larger embedding and the default epoch budget (~100 passes for ~2k
cells, :func:`scssl.model._base.default_max_epochs`) change the picture. Run on data
*not* used by the benchmark that reports the contrastive methods against their peers:
mouse pancreas endocrinogenesis (the fixed 1800-cell subset of ``masked_ae_ablation.py``)
and pbmc68k_reduced counts. Score: 5-fold cross-validated kNN (k=15) macro-F1 of the
embedding; seed 0; augmentations at the package defaults; minibatches of 128.

    cd benchmarks && ../.venv/bin/python contrastive_capacity.py
"""

from __future__ import annotations

import anndata as ad
import pandas as pd
from _common import RESULTS, cv_score, set_threads, write_markdown
from masked_ae_ablation import datasets

import scssl

SEED = 0
VARIANTS = [  # name, epochs, model arguments
    ("32-d, 2x256, 30 epochs", 30, {"n_latent": 32, "n_hidden": 256}),
    ("32-d, 2x256, 100 epochs", 100, {"n_latent": 32, "n_hidden": 256}),
    ("128-d, 2x512, 30 epochs", 30, {"n_latent": 128, "n_hidden": 512}),
    ("128-d, 2x512, 100 epochs", 100, {"n_latent": 128, "n_hidden": 512}),
]
METHODS = ["simclr", "vicreg"]


def score(adata: ad.AnnData, labels_key: str, method: str, epochs: int, kwargs: dict) -> dict:
    """5-fold kNN macro-F1 and training seconds of one configuration, via scssl.benchmark."""
    spec = {"method": method, **kwargs, "max_epochs": epochs, "batch_size": 128}
    return cv_score(adata, labels_key, spec, SEED)


def main() -> None:
    set_threads()
    rows = []
    for name, (adata, labels_key) in datasets().items():
        labels = adata.obs[labels_key].to_numpy()
        pca = scssl.tl.pca_embedding(adata, seed=SEED)
        f1 = scssl.metrics.knn_cross_validation(pca, labels, seed=SEED)["macro_f1"]
        rows.append({"dataset": name, "method": "PCA (50 PCs)", "variant": "-", "macro_f1": f1})
        for method in METHODS:
            for variant, epochs, kwargs in VARIANTS:
                result = score(adata, labels_key, method, epochs, kwargs)
                rows.append({"dataset": name, "method": method, "variant": variant, **result})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    wide = table[table.variant != "-"].pivot_table(
        index=["method", "variant"], columns="dataset", values="macro_f1", sort=False
    )
    wide["mean"] = wide.mean(axis=1)
    pca_row = table[table.variant == "-"].set_index("dataset")["macro_f1"]
    write_markdown(
        RESULTS / "contrastive_capacity.md",
        "Contrastive encoder capacity and epochs (mouse pancreas, pbmc68k)",
        [
            ("Protocol", __doc__.split("\n\n    ")[0]),
            ("5-fold kNN macro-F1 (seed 0)", wide),
            ("PCA on the same cells", pca_row.to_frame("macro_f1").T),
            ("All runs", table.set_index(["dataset", "method", "variant"])),
        ],
    )


if __name__ == "__main__":
    main()

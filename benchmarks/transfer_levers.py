"""Levers for label-scarce fine-tuning on Baron (follow-up to ``transfer.py``).

``transfer.py`` found that fine-tuning a MaskedAE pretrained for 30 epochs does not beat
the same classifier trained from scratch. This run tests the two levers it names, on
the same splits (``one_batch``: labels of donor human1 only; ``10pct``: a seeded random
10% of cells), the same classifier budget (~150 steps) and held-out scoring, 3 seeds:

* pretraining budget: 30 epochs (as in ``transfer.py``) vs MaskedAE's default (93
  epochs for 2142 cells), unsupervised on all cells;
* encoder learning rate during fine-tuning: 0.1x (default) vs 1x the head's;
* the same classifier from scratch (random weights) as the reference.

    cd benchmarks && ../.venv/bin/python transfer_levers.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scvi
from _common import RESULTS, set_threads, write_markdown
from transfer import DATASETS, MODEL_KWARGS, TRAIN, classifier_run, counts_view

from scssl.metrics import classification_report
from scssl.model import MaskedAE

SEEDS = [0, 1, 2]
PRETRAIN_EPOCHS = {"pretrained 30 epochs": 30, "pretrained default epochs": None}
FINETUNE = {
    "probe": ("probe", None),
    "fine-tune 0.1x": ("finetune", 0.1),
    "fine-tune 1x": ("finetune", 1.0),
}


def main() -> None:
    set_threads()
    spec = DATASETS["baron"]
    adata = spec["load"]()
    truth = adata.obs[spec["labels"]].astype(str).to_numpy()
    batch = adata.obs[spec["batch"]].astype(str).to_numpy()
    rows = []
    start = time.perf_counter()
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        splits = {
            "one_batch": batch == spec["label_batch"],
            "10pct": rng.random(adata.n_obs) < 0.10,
        }
        models = {}
        for name, epochs in PRETRAIN_EPOCHS.items():
            scvi.settings.seed = seed
            work = counts_view(adata, adata.obs[[spec["labels"], spec["batch"]]])
            MaskedAE.setup_anndata(work, batch_key=spec["batch"])
            model = MaskedAE(work, **MODEL_KWARGS)
            model.train(max_epochs=epochs, **TRAIN)
            models[name] = model
        for setting, labelled in splits.items():
            runs = [("from scratch", "-", models["pretrained 30 epochs"], "scratch", None)]
            runs += [
                (fname, pname, model, mode, ratio)
                for pname, model in models.items()
                for fname, (mode, ratio) in FINETUNE.items()
            ]
            for fname, pname, model, mode, ratio in runs:
                predicted, _ = classifier_run(
                    model, adata, truth, labelled, ~labelled, mode, seed, encoder_lr_ratio=ratio
                )
                report = classification_report(truth[~labelled], predicted)
                rows.append(
                    {
                        "setting": setting,
                        "pretraining": pname,
                        "classifier": fname,
                        "seed": seed,
                        "macro_f1": report.macro_f1,
                        "rare_f1": report.rare_macro_f1,
                    }
                )
                print(rows[-1], f"{(time.perf_counter() - start) / 60:.1f} min", flush=True)
    runs = pd.DataFrame(rows)
    summary = runs.groupby(["setting", "pretraining", "classifier"], sort=False).macro_f1.agg(
        ["mean", "std"]
    )
    scratch = summary.xs("from scratch", level="classifier")["mean"].droplevel("pretraining")
    summary["minus scratch"] = [
        m - scratch[s] for (s, _, _), m in zip(summary.index, summary["mean"])
    ]
    write_markdown(
        RESULTS / "transfer_levers.md",
        "Label-scarce fine-tuning levers on Baron (held-out macro-F1)",
        [
            ("Protocol", __doc__.split("\n\n    cd")[0]),
            ("Macro-F1 on held-out cells (mean, sd over 3 seeds)", summary),
            ("All runs", runs.set_index(["setting", "pretraining", "classifier", "seed"])),
        ],
    )


if __name__ == "__main__":
    main()

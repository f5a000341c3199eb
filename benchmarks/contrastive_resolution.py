"""How many cells does the leave-one-batch-out kNN macro-F1 of ``contrastive.py`` resolve?

``contrastive_confirm.py`` finds the best contrastive pick level with scVI on ten fresh
seeds. This script shows why the two datasets cannot separate such methods:

- the cell-type x batch counts, and per held-out batch the classes that no reference
  batch holds (their F1 is 0 whatever the embedding) or holds with fewer cells than a
  majority of the k = 15 neighbours (so a kNN vote can hardly predict them), with the
  best macro-F1 any embedding could reach once the absent classes score 0; and the
  classes with at most 3 query cells, where one cell decides the class's F1 and so moves
  the benchmark's mean macro-F1 by about 1 / (query classes x batches);
- for one fresh seed (100, as in the confirmation), the misclassified query cells of
  PCA, scVI and the dataset's best contrastive pick, and how many of them all three
  get wrong.

    cd benchmarks && ../.venv/bin/python contrastive_resolution.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import RESULTS, set_threads, write_markdown
from contrastive import DATASETS, prepare, run_method
from contrastive_confirm import selected_method

import scssl

K = 15  # the neighbours of scssl.metrics.leave_one_batch_out
SEED = 100
TINY = 3  # query cells of a class at or below which one cell decides its F1
OUT = RESULTS / "contrastive_resolution.md"


def reference_limits(labels: np.ndarray, batches: np.ndarray) -> pd.DataFrame:
    """Per held-out batch: classes absent from / rare in the reference, and the F1 bound."""
    rows = {}
    for batch in np.unique(batches):
        query = batches == batch
        reference_counts = pd.Series(labels[~query]).value_counts()
        classes = np.unique(labels[query])
        absent = [c for c in classes if c not in reference_counts]
        rare = [c for c in classes if 0 < reference_counts.get(c, 0) <= K // 2]
        query_counts = pd.Series(labels[query]).value_counts()
        tiny = [f"{c} ({n})" for c, n in query_counts.items() if n <= TINY]
        rows[batch] = {
            "query classes": str(len(classes)),
            "absent from reference": ", ".join(absent) or "-",
            f"<= {K // 2} reference cells": ", ".join(rare) or "-",
            f"<= {TINY} query cells (count)": ", ".join(tiny) or "-",
            # a class this small has F1 0 or near 1 by one cell's vote
            "one such cell moves the mean by": (
                f"{1 / (len(classes) * len(np.unique(batches))):.3f}" if tiny else "-"
            ),
            "macro-F1 bound": 1 - len(absent) / len(classes),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["mean", "macro-F1 bound"] = table["macro-F1 bound"].mean()
    return table.fillna("")


def misclassified(embedding: np.ndarray, labels: np.ndarray, batches: np.ndarray) -> np.ndarray:
    """Whether each cell is mislabelled when its batch is the query (as in the benchmark)."""
    wrong = np.zeros(len(labels), dtype=bool)
    for batch in np.unique(batches):
        query = batches == batch
        predicted = scssl.metrics.knn_label_transfer(
            embedding[~query], labels[~query], embedding[query], labels[query], k=K
        ).predicted
        wrong[query] = predicted != labels[query]
    return wrong


def main() -> None:
    set_threads()
    sections = []
    for key in DATASETS:
        dataset = prepare(key)
        title, adata, batch_key, labels_key = dataset
        labels = adata.obs[labels_key].astype(str).to_numpy()
        batches = adata.obs[batch_key].astype(str).to_numpy()
        counts = pd.crosstab(pd.Series(labels, name="cell type"), pd.Series(batches, name=""))
        sections.append((f"{title}: cells per type and batch", counts))
        sections.append((f"{title}: what the reference allows", reference_limits(labels, batches)))

        methods = ["PCA", "scVI", selected_method(key)]
        embeddings = {m: run_method(dataset, m, SEED)[1] for m in methods}
        wrong = pd.DataFrame({m: misclassified(z, labels, batches) for m, z in embeddings.items()})
        errors = pd.DataFrame(
            {
                "kNN macro-F1": [
                    scssl.metrics.leave_one_batch_out(z, labels, batches, k=K).loc[
                        "mean", "macro_f1"
                    ]
                    for z in embeddings.values()
                ],
                "misclassified cells": [f"{n} of {len(labels)}" for n in wrong.sum()],
            },
            index=methods,
        )
        in_common = int(wrong.all(axis=1).sum())
        sections.append(
            (
                f"{title}: misclassified query cells, seed {SEED}",
                errors.to_markdown(floatfmt=".3f")
                + f"\n\n{in_common} cells are misclassified by all three.",
            )
        )
        print(title, errors.to_dict(), in_common, flush=True)
    protocol = __doc__.split("\n\n    cd benchmarks")[0]
    write_markdown(
        OUT, "Resolution of the contrastive benchmark", [("Protocol", protocol), *sections]
    )


if __name__ == "__main__":
    main()

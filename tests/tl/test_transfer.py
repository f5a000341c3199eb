from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import scssl
from scssl.metrics import (
    classification_report,
    confusion_table,
    macro_f1,
    nearest_neighbors,
    per_class_f1,
)


def clusters(n_per_class: int, seed: int, labels=("a", "b", "c")) -> AnnData:
    rng = np.random.default_rng(seed)
    centres = {label: rng.normal(scale=10, size=5) for label in labels}
    truth = np.repeat(labels, n_per_class)
    emb = np.stack([centres[label] for label in truth]) + rng.normal(size=(len(truth), 5))
    adata = AnnData(obs=pd.DataFrame({"cell_type": truth}))
    adata.obs_names = [f"s{seed}_{i}" for i in range(adata.n_obs)]
    adata.obsm["X_emb"] = emb.astype(np.float32)
    return adata


def test_transfer_labels_on_separated_clusters():
    ref, query = clusters(50, 0), clusters(20, 0)
    query.obsm["X_emb"] += np.random.default_rng(1).normal(
        scale=0.1, size=query.obsm["X_emb"].shape
    )
    scssl.tl.transfer_labels(ref, query, use_rep="X_emb", labels_key="cell_type", k=10)
    predicted = query.obs["cell_type_transferred"]
    assert (predicted.astype(str) == query.obs["cell_type"]).all()
    assert np.allclose(query.obs["cell_type_transferred_uncertainty"], 0.0)
    assert query.uns["cell_type_transferred"]["params"]["k"] == 10
    assert list(ref.obs.columns) == ["cell_type"]  # reference untouched


def test_uncertainty_is_share_of_disagreeing_neighbours():
    ref = AnnData(obs=pd.DataFrame({"label": ["a", "a", "a", "b"]}, index=list("wxyz")))
    ref.obsm["X"] = np.array([[0.0], [0.1], [0.2], [0.3]])
    query = AnnData(obs=pd.DataFrame(index=["q"]))
    query.obsm["X"] = np.array([[0.15]])
    out = scssl.tl.transfer_labels(
        ref, query, use_rep="X", labels_key="label", k=4, key_added="pred", copy=True
    )
    assert "pred" not in query.obs  # copy=True leaves the input as is
    assert out.obs["pred"].iloc[0] == "a"
    assert out.obs["pred_uncertainty"].iloc[0] == pytest.approx(0.25)


def test_unlabeled_reference_cells_are_ignored():
    ref = clusters(30, 0)
    ref.obs["cell_type"] = ref.obs["cell_type"].astype(str)
    ref.obs.loc[ref.obs["cell_type"] == "c", "cell_type"] = "Unknown"
    query = clusters(10, 0)
    scssl.tl.transfer_labels(
        ref, query, use_rep="X_emb", labels_key="cell_type", unlabeled_category="Unknown"
    )
    assert "Unknown" not in set(query.obs["cell_type_transferred"].astype(str))


@pytest.mark.skipif(
    not os.environ.get("SCSSL_SLOW_TESTS"),
    reason="numba compiles pynndescent on first use (~1-3 min on a loaded 2-core machine); "
    "set SCSSL_SLOW_TESTS=1",
)
def test_pynndescent_agrees_with_exact():
    rng = np.random.default_rng(0)
    ref, query = rng.normal(size=(2000, 8)), rng.normal(size=(300, 8))
    exact, _ = nearest_neighbors(ref, query, 10, method="exact")
    approx, _ = nearest_neighbors(ref, query, 10, method="pynndescent", n_jobs=1)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall > 0.9


def test_transfer_labels_input_errors():
    ref, query = clusters(10, 0), clusters(5, 1)
    with pytest.raises(KeyError, match="labels_key"):
        scssl.tl.transfer_labels(ref, query, use_rep="X_emb", labels_key="nope")
    with pytest.raises(KeyError, match="get_latent_representation"):
        scssl.tl.transfer_labels(ref, query, use_rep="X_missing", labels_key="cell_type")
    query.obsm["X_small"] = np.zeros((query.n_obs, 2))
    with pytest.raises(ValueError, match="dimensions"):
        scssl.tl.transfer_labels(
            ref, query, use_rep="X_emb", query_rep="X_small", labels_key="cell_type"
        )
    with pytest.raises(ValueError, match="k must be"):
        scssl.tl.transfer_labels(ref, query, use_rep="X_emb", labels_key="cell_type", k=0)
    with pytest.raises(ValueError, match="method"):
        nearest_neighbors(np.zeros((3, 2)), np.zeros((1, 2)), 1, method="annoy")


def test_transfer_on_real_baron_embedding(baron_small):
    adata = baron_small.copy()
    adata.obsm["X_pca"] = scssl.tl.pca_embedding(adata, n_comps=20)
    is_query = (adata.obs.donor == "human4").to_numpy()
    ref, query = adata[~is_query].copy(), adata[is_query].copy()
    scssl.tl.transfer_labels(ref, query, use_rep="X_pca", labels_key="cell_type1")
    report = classification_report(query.obs.cell_type1, query.obs.cell_type1_transferred)
    assert report.macro_f1 > 0.5
    assert report.accuracy > 0.8


# -- metrics -----------------------------------------------------------------------------
def test_per_class_f1_and_macro():
    truth = ["a", "a", "a", "b", "c"]
    predicted = ["a", "a", "b", "b", "d"]
    table = per_class_f1(truth, predicted)
    assert list(table.index) == ["a", "b", "c"]  # by support; "d" only predicted
    assert table.loc["a", "f1"] == pytest.approx(0.8)
    assert table.loc["b", "f1"] == pytest.approx(2 / 3)
    assert table.loc["c", "f1"] == 0.0
    assert macro_f1(truth, predicted) == pytest.approx((0.8 + 2 / 3) / 3)


def test_classification_report_rare_and_confusion():
    truth = ["big"] * 95 + ["rare"] * 5
    predicted = ["big"] * 95 + ["big"] * 3 + ["rare"] * 2
    report = classification_report(truth, predicted, rare_fraction=0.1)
    assert report.rare_classes == {"rare": 5}
    assert report.rare_macro_f1 == pytest.approx(2 * 1.0 * 0.4 / 1.4)
    assert report.per_class.loc["rare", "rare"]
    assert report.confusion.loc["rare", "big"] == 3
    assert report.accuracy == pytest.approx(0.97)
    none_rare = classification_report(["a", "b"], ["a", "b"])
    assert np.isnan(none_rare.rare_macro_f1)
    normalised = confusion_table(truth, predicted, normalize=True)
    assert normalised.loc["rare", "rare"] == pytest.approx(0.4)


def test_metric_input_errors():
    with pytest.raises(ValueError, match="one prediction per cell"):
        macro_f1(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no cells"):
        macro_f1([], [])
    with pytest.raises(ValueError, match="rare_fraction"):
        classification_report(["a"], ["a"], rare_fraction=1.5)

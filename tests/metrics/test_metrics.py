from __future__ import annotations

import warnings

import numpy as np
import pytest

from scssl.metrics import (
    knn_cross_validation,
    knn_label_transfer,
    leave_one_batch_out,
    masked_reconstruction_error,
)


def _clusters(n=60, shift=8.0, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], n // 3)
    centres = {"a": 0.0, "b": shift, "c": -shift}
    emb = rng.normal(size=(n, 3)) + np.array([centres[x] for x in labels])[:, None]
    return emb, labels


def test_knn_transfer_perfect_and_hand_computed_case():
    emb, labels = _clusters()
    result = knn_label_transfer(emb[::2], labels[::2], emb[1::2], labels[1::2], k=5)
    assert result.macro_f1 == 1.0 and result.accuracy == 1.0
    # hand-computed: reference a,a,b; query points near a, near b, near a but labelled b
    ref = np.array([[0.0], [0.2], [10.0]])
    out = knn_label_transfer(
        ref,
        np.array(["a", "a", "b"]),
        np.array([[0.1], [9.0], [0.3]]),
        np.array(["a", "b", "b"]),
        k=1,
    )
    assert list(out.predicted) == ["a", "b", "a"]
    assert out.accuracy == pytest.approx(2 / 3)
    # F1(a) = 2*1*0.5/(1.5) = 2/3 ; F1(b) = 2*1*0.5/1.5 = 2/3
    assert out.macro_f1 == pytest.approx(2 / 3)


def test_knn_transfer_random_embedding_is_near_chance():
    rng = np.random.default_rng(1)
    labels = rng.choice(["a", "b", "c", "d"], 800)
    emb = rng.normal(size=(800, 5))
    result = knn_label_transfer(emb[:400], labels[:400], emb[400:], labels[400:])
    assert result.accuracy < 0.4


def test_knn_transfer_input_errors():
    with pytest.raises(ValueError, match="3 cells in the embedding but 2 labels"):
        knn_label_transfer(
            np.zeros((3, 2)), np.array(["a", "b"]), np.zeros((1, 2)), np.array(["a"])
        )
    with pytest.raises(ValueError, match="dimensions"):
        knn_label_transfer(np.zeros((3, 2)), np.array(["a"] * 3), np.zeros((1, 4)), np.array(["a"]))
    with pytest.raises(ValueError, match="NaN"):
        knn_label_transfer(
            np.full((3, 2), np.nan), np.array(["a"] * 3), np.zeros((1, 2)), np.array(["a"])
        )


def test_leave_one_batch_out_table():
    emb, labels = _clusters(n=90)
    batches = np.tile(["d1", "d2", "d3"], 30)
    table = leave_one_batch_out(emb, labels, batches)
    assert list(table.index) == ["d1", "d2", "d3", "mean"]
    assert table.loc["mean", "macro_f1"] == 1.0
    assert table.loc[["d1", "d2", "d3"], "n_cells"].sum() == 90
    # a batch effect that swaps the meaning of the space for one batch hurts its score
    shifted = emb.copy()
    shifted[batches == "d3"] += 8.0
    worse = leave_one_batch_out(shifted, labels, batches)
    assert worse.loc["d3", "macro_f1"] < 0.7
    with pytest.raises(ValueError, match="at least two batches"):
        leave_one_batch_out(emb, labels, np.repeat("d1", 90))


def test_leave_one_batch_out_warns_about_types_no_other_batch_has():
    emb, labels = _clusters(n=90)
    batches = np.tile(["d1", "d2", "d3"], 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every type is in every batch: no warning
        leave_one_batch_out(emb, labels, batches)
    only_in_d2 = labels.astype(object)
    only_in_d2[np.flatnonzero(batches == "d2")[:3]] = "rare"
    with pytest.warns(UserWarning, match="d2: rare") as caught:
        table = leave_one_batch_out(emb, only_in_d2, batches)
    assert len(caught) == 1
    # the warning explains the score: the rare type counts in d2's macro-F1 with F1 0
    assert table.loc["d2", "macro_f1"] < table.loc["d1", "macro_f1"]


def test_knn_cross_validation_keeps_rare_classes_in_reference():
    emb, labels = _clusters(n=90)
    labels = labels.copy()
    labels[:2] = "rare"
    scores = knn_cross_validation(emb, labels, k=5)
    assert scores["accuracy"] > 0.95


def test_masked_reconstruction_error_values():
    observed = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    hidden = np.array([[True, False], [True, True], [True, True]])
    perfect = masked_reconstruction_error(observed, observed, hidden)
    assert perfect["mse"] == 0.0 and perfect["explained_variance"] == 1.0
    # predicting each gene's mean over its hidden entries gives explained variance 0
    means = np.array([[3.0, 2.0]] * 3)
    at_mean = masked_reconstruction_error(observed, means, hidden)
    assert at_mean["explained_variance"] == pytest.approx(0.0)
    # visible entries do not count
    wrong_visible = observed.copy()
    wrong_visible[0, 1] = 100.0
    assert masked_reconstruction_error(observed, wrong_visible, hidden)["mse"] == 0.0
    assert masked_reconstruction_error(observed, observed + 1, hidden)["mse"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no hidden entries"):
        masked_reconstruction_error(observed, observed, np.zeros_like(hidden))
    with pytest.raises(ValueError, match="shapes differ"):
        masked_reconstruction_error(observed, observed[:2], hidden)

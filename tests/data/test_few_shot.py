import numpy as np
import pandas as pd
import pytest

from scssl.data import baron_pancreas, sample_per_label


@pytest.fixture(scope="module")
def baron_obs() -> pd.DataFrame:
    return baron_pancreas().obs[["cell_type1", "donor"]]


@pytest.mark.parametrize("k", [1, 3, 10])
def test_k_cells_per_type_from_the_eligible_cells_only(baron_obs, k):
    labels = baron_obs.cell_type1.astype(str).to_numpy()
    reference = (baron_obs.donor != "human4").to_numpy()
    chosen = sample_per_label(labels, k, eligible=reference, seed=3)
    assert not chosen[~reference].any()
    available = pd.Series(labels[reference]).value_counts()
    counts = pd.Series(labels[chosen]).value_counts()
    for label, n in available.items():  # k, or all of a type with fewer eligible cells
        assert counts.get(label, 0) == min(k, n)
    assert set(counts.index) == set(available.index)


def test_draws_are_reproducible_and_differ_between_seeds(baron_obs):
    labels = baron_obs.cell_type1.to_numpy()
    first = sample_per_label(labels, 3, seed=0)
    np.testing.assert_array_equal(first, sample_per_label(labels, 3, seed=0))
    assert not np.array_equal(first, sample_per_label(labels, 3, seed=1))


def test_one_type_draw_does_not_depend_on_other_types():
    labels = np.array(["a"] * 10 + ["b"] * 10)
    more = np.concatenate([labels, ["b"] * 5])
    first = sample_per_label(labels, 2, seed=5)
    second = sample_per_label(more, 2, seed=5)
    np.testing.assert_array_equal(first[:10], second[:10])


def test_missing_and_excluded_labels_are_never_chosen():
    labels = pd.Series(["a", None, "Unknown", "a", "b", np.nan], dtype=object)
    chosen = sample_per_label(labels, 5, exclude=["Unknown"])
    assert chosen.tolist() == [True, False, False, True, True, False]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_per_label": 0}, ValueError, "at least 1"),
        ({"n_per_label": 2.5}, TypeError, "integer"),
        ({"n_per_label": 1, "eligible": np.ones(2, bool)}, ValueError, "one entry per cell"),
        ({"n_per_label": 1, "eligible": np.ones(3)}, ValueError, "boolean mask"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_per_label(["a", "b", "c"], **kwargs)

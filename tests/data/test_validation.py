from __future__ import annotations

import numpy as np
import pytest
from anndata import AnnData
from scipy import sparse

from scssl.data import check_raw_counts
from scssl.model import MaskedAE


def _adata(matrix) -> AnnData:
    return AnnData(matrix)


def test_accepts_integer_counts_sparse_and_dense():
    counts = np.array([[0, 3, 1], [2, 0, 5]], dtype=np.float32)
    check_raw_counts(_adata(counts))
    check_raw_counts(_adata(sparse.csr_matrix(counts)))
    check_raw_counts(_adata(counts.astype(np.int64)))


@pytest.mark.parametrize("as_sparse", [False, True])
def test_rejects_non_integer_values_naming_the_layer(as_sparse):
    values = np.array([[0.5, 1.2], [1.0, 2.0]], dtype=np.float32)
    adata = _adata(np.zeros((2, 2), dtype=np.float32))
    adata.layers["lognorm"] = sparse.csr_matrix(values) if as_sparse else values
    with pytest.raises(ValueError, match="layer 'lognorm' holds non-integer values.*layer="):
        check_raw_counts(adata, "lognorm")


def test_rejects_negative_values():
    with pytest.raises(ValueError, match="layer 'X' holds negative values"):
        check_raw_counts(_adata(np.array([[1.0, -2.0], [0.0, 3.0]])))


def test_rejects_nan_and_inf():
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_raw_counts(_adata(np.array([[1.0, np.nan], [0.0, 3.0]])))
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_raw_counts(_adata(sparse.csr_matrix(np.array([[1.0, np.inf], [0.0, 3.0]]))))


def test_rejects_all_zero_and_missing_layer():
    with pytest.raises(ValueError, match="only zeros"):
        check_raw_counts(_adata(np.zeros((3, 2))))
    with pytest.raises(KeyError, match="layer 'counts' not found"):
        check_raw_counts(_adata(np.ones((3, 2))), "counts")


def test_setup_anndata_fails_before_registration_and_leaves_adata_unchanged(tiny_counts):
    adata = tiny_counts.copy()
    adata.layers["log"] = np.log1p(adata.X.toarray())
    uns_before = set(adata.uns)
    with pytest.raises(ValueError, match="layer 'log' holds non-integer values"):
        MaskedAE.setup_anndata(adata, layer="log")
    assert set(adata.uns) == uns_before
    np.testing.assert_array_equal(adata.layers["log"], np.log1p(tiny_counts.X.toarray()))


def test_setup_anndata_rejects_unknown_obs_keys(tiny_counts):
    with pytest.raises(KeyError, match="batch_key='donor' is not a column"):
        MaskedAE.setup_anndata(tiny_counts, batch_key="donor")
    with pytest.raises(KeyError, match="continuous_covariate_keys='nope'"):
        MaskedAE.setup_anndata(tiny_counts, continuous_covariate_keys=["nope"])

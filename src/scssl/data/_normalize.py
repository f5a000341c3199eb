"""Log-normalisation of count matrices (numpy / scipy), through the one formula in ``scssl.nn``."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

from scssl.nn import normalize_counts

from ._sparse_loading import csr_tensor


def log_normalize(matrix, target_sum: float = 1e4):
    """``log1p(counts / library * target_sum)`` per cell, for a numpy array or a scipy matrix.

    The computation is :func:`scssl.nn.normalize_counts`, the normalisation inside
    every scssl module, so a baseline or a preprocessing step sees the values a model
    sees. The dtype is kept; a sparse matrix comes back CSR with the same structure.
    Cells without counts stay 0.

    Examples
    --------
    >>> import numpy as np
    >>> log_normalize(np.array([[1.0, 3.0], [0.0, 0.0]]), target_sum=4.0).round(3)
    array([[0.693, 1.386],
           [0.   , 0.   ]])
    """
    if sparse.issparse(matrix):
        csr = sparse.csr_matrix(matrix)
        normalised = normalize_counts(csr_tensor(csr), target_sum)[0].values().numpy()
        return sparse.csr_matrix((normalised, csr.indices, csr.indptr), shape=csr.shape)
    dense = torch.from_numpy(np.ascontiguousarray(matrix))
    return normalize_counts(dense, target_sum)[0].numpy()

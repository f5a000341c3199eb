"""Evaluation metrics as pure functions of arrays."""

from ._knn import (
    KnnTransferResult,
    knn_cross_validation,
    knn_label_transfer,
    leave_one_batch_out,
)
from ._reconstruction import masked_reconstruction_error
from ._scib import ScibConfig, scib_scores

__all__ = [
    "KnnTransferResult",
    "knn_cross_validation",
    "knn_label_transfer",
    "leave_one_batch_out",
    "masked_reconstruction_error",
    "ScibConfig",
    "scib_scores",
]

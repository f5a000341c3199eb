"""Evaluation metrics as pure functions of arrays."""

from ._classification import (
    ClassificationReport,
    classification_report,
    confusion_table,
    macro_f1,
    per_class_f1,
)
from ._knn import (
    KnnTransferResult,
    knn_cross_validation,
    knn_label_transfer,
    leave_one_batch_out,
)
from ._neighbors import knn_vote, mutual_nearest_neighbors, nearest_neighbors
from ._reconstruction import masked_reconstruction_error
from ._scib import ScibConfig, scib_scores

__all__ = [
    "ClassificationReport",
    "classification_report",
    "confusion_table",
    "macro_f1",
    "per_class_f1",
    "KnnTransferResult",
    "knn_cross_validation",
    "knn_label_transfer",
    "leave_one_batch_out",
    "knn_vote",
    "mutual_nearest_neighbors",
    "nearest_neighbors",
    "masked_reconstruction_error",
    "ScibConfig",
    "scib_scores",
]

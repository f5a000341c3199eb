"""Scanpy-style functions: AnnData in, results written to ``.obsm`` / ``.obs`` / ``.uns``."""

from ._benchmark import benchmark
from ._benchmark_result import BenchmarkResult
from ._contrastive import contrastive, knn_pairs, mnn_pairs
from ._drug_response import drug_response_attributions
from ._masked_ae import masked_ae
from ._pca import pca_embedding
from ._pretrain import map_query, pretrain, read_reference
from ._programmes import programme_reconstruction, tf_prediction
from ._transfer import transfer_labels

__all__ = [
    "BenchmarkResult",
    "benchmark",
    "drug_response_attributions",
    "contrastive",
    "knn_pairs",
    "mnn_pairs",
    "programme_reconstruction",
    "tf_prediction",
    "masked_ae",
    "pca_embedding",
    "transfer_labels",
    "map_query",
    "pretrain",
    "read_reference",
]

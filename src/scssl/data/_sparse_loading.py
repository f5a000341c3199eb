"""scssl's data splitter: minibatches that stay sparse, drawn by a chosen sampling scheme."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.dataloaders import DataSplitter

from scssl._constants import SCSSL_REGISTRY_KEYS

from ._minibatch_sampling import MinibatchSampling, build_batch_sampler, unwrap_minibatch


def is_csr_matrix(matrix) -> bool:
    """Whether ``matrix`` is CSR, in memory (scipy) or on disk (a backed AnnData's dataset).

    scvi-tools' loader turns exactly these into ``torch.sparse_csr`` minibatches.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> is_csr_matrix(sparse.csr_matrix(np.eye(2))), is_csr_matrix(np.eye(2))
    (True, False)
    """
    if sparse.issparse(matrix):
        return matrix.format == "csr"
    return getattr(matrix, "format", None) == "csr"  # anndata's backed CSRDataset


def csr_tensor(matrix, index_dtype: torch.dtype | None = torch.int64) -> torch.Tensor:
    """A scipy sparse matrix as a float32 ``torch.sparse_csr`` tensor (no dense copy).

    ``index_dtype=torch.int32`` halves the index memory of a large matrix (up to
    2**31 - 1 stored entries); ``None`` takes int32 where the entries fit, else int64.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> csr_tensor(sparse.csr_matrix(np.eye(2))).to_dense()
    tensor([[1., 0.],
            [0., 1.]])
    """
    csr = sparse.csr_matrix(matrix)
    fits_int32 = csr.nnz <= np.iinfo(np.int32).max
    if index_dtype is None:
        index_dtype = torch.int32 if fits_int32 else torch.int64
    if index_dtype == torch.int32 and not fits_int32:
        raise ValueError(f"{csr.nnz} stored entries do not fit int32 indices")
    numpy_index = np.int32 if index_dtype == torch.int32 else np.int64
    return torch.sparse_csr_tensor(
        torch.from_numpy(csr.indptr.astype(numpy_index)),
        torch.from_numpy(csr.indices.astype(numpy_index)),
        torch.from_numpy(csr.data.astype(np.float32)),
        size=csr.shape,
    )


def _as_array(values) -> np.ndarray | None:
    """A registry entry (array or data frame) as a numpy array."""
    if values is None:
        return None
    return np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)


class SparseDataSplitter(DataSplitter):
    """scvi-tools' :class:`~scvi.dataloaders.DataSplitter` that leaves CSR minibatches sparse.

    With ``load_sparse_tensor=True`` scvi-tools' splitter loads CSR minibatches and
    then makes them dense on the device; this one hands them to the module as they
    are, for modules that read sparse input.

    ``minibatch_sampling`` (a :class:`~scssl.data.MinibatchSampling`) draws the
    training minibatches dataset-aware and/or with hard negatives; validation
    minibatches stay sequential.

    Examples
    --------
    >>> SparseDataSplitter.__mro__[1].__name__
    'DataSplitter'
    """

    def __init__(self, *args, minibatch_sampling: MinibatchSampling | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.minibatch_sampling = minibatch_sampling

    def train_dataloader(self):  # noqa: D102
        sampling = self.minibatch_sampling
        if sampling is None or sampling.is_random:
            return super().train_dataloader()
        registry = self.adata_manager.data_registry
        batch_codes = neighbours = None
        if REGISTRY_KEYS.BATCH_KEY in registry:
            batch_codes = self.adata_manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY)
        if SCSSL_REGISTRY_KEYS.KNN_PARTNERS_KEY in registry:
            neighbours = self.adata_manager.get_from_registry(SCSSL_REGISTRY_KEYS.KNN_PARTNERS_KEY)
        loader_kwargs = dict(self.data_loader_kwargs)
        batch_size = loader_kwargs.pop("batch_size", None) or 128
        sampler = build_batch_sampler(
            sampling,
            split_rows=self.train_idx,
            n_obs=self.adata_manager.adata.n_obs,
            batch_codes=_as_array(batch_codes),
            neighbours=_as_array(neighbours),
            batch_size=batch_size,
            drop_last=bool(self.drop_last),
        )
        # the sampler yields whole minibatches, which the dataset reads in one go
        return self.data_loader_cls(
            self.adata_manager,
            indices=self.train_idx,
            sampler=sampler,
            collate_fn=unwrap_minibatch,
            load_sparse_tensor=self.load_sparse_tensor,
            pin_memory=self.pin_memory,
            **loader_kwargs,
        )

    def on_after_batch_transfer(self, batch, dataloader_idx):  # noqa: D102
        return batch

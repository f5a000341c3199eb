"""Minibatches that stay sparse: which matrices qualify, and a splitter that keeps them so."""

from __future__ import annotations

from scipy import sparse
from scvi.dataloaders import DataSplitter


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


class SparseDataSplitter(DataSplitter):
    """scvi-tools' :class:`~scvi.dataloaders.DataSplitter` that leaves CSR minibatches sparse.

    With ``load_sparse_tensor=True`` scvi-tools' splitter loads CSR minibatches and
    then makes them dense on the device; this one hands them to the module as they
    are, for modules that read sparse input.

    Examples
    --------
    >>> SparseDataSplitter.__mro__[1].__name__
    'DataSplitter'
    """

    def on_after_batch_transfer(self, batch, dataloader_idx):  # noqa: D102
        return batch

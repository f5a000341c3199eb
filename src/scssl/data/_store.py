"""On-disk collections: several AnnData files read as one, never loaded whole.

:class:`AnnDataCollection` opens ``.h5ad`` files (HDF5) or ``.zarr`` stores backed:
only ``obs`` and ``var`` are read into memory; count rows are read from disk as CSR
blocks when a minibatch needs them. Every file is aligned to one gene list (the
user's, or the first file's): genes a file lacks are zeros in its cells and are
reported; genes outside the list are dropped. The batch and other covariates come
from each file's ``obs`` (:mod:`scssl.data._store_covariates`).

:class:`CollectionDataModule` (a Lightning datamodule, for scvi-tools'
``model.train(datamodule=...)``) draws minibatches with the block-shuffled sampler of
:mod:`scssl.data._samplers`.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS

from ._samplers import Block
from ._sparse_loading import csr_tensor
from ._store_covariates import StoreCovariates, category_codes, read_obs_column
from ._store_genes import GeneAlignment

logger = logging.getLogger("scssl")


def _open_store(path: Path):
    if path.suffix == ".zarr" or path.is_dir():
        import zarr

        return zarr.open_group(str(path), mode="r")
    return h5py.File(path, "r")


class AnnDataCollection:
    """Several ``.h5ad`` / ``.zarr`` files of raw counts read as one collection, backed.

    Parameters
    ----------
    paths
        The files, in order; their cells are concatenated.
    genes
        The gene list every file is aligned to; ``None`` takes the first file's genes.
    layer
        Layer holding the counts in every file; ``None`` reads ``X``. It must be CSR.
    batch_key
        Column of every file's ``obs`` with the batch; ``None``: no batch covariate.
    categorical_covariate_keys, continuous_covariate_keys
        Further ``obs`` columns every file has, passed to the model as scvi-tools'
        covariates; set the model up on :meth:`schema_anndata` with the same keys.
    min_gene_overlap
        Refuse a file that has fewer than this share of the gene list.

    Examples
    --------
    >>> import scssl
    >>> path = scssl.data.data_dir() / "scrna/baron_human_pancreas.h5ad"
    >>> collection = scssl.data.AnnDataCollection([path], batch_key="donor")
    >>> collection.n_obs, collection.n_vars, collection.batch_categories[:2]
    (2142, 20125, ['human1', 'human2'])
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        genes: Sequence[str] | None = None,
        layer: str | None = None,
        batch_key: str | None = None,
        categorical_covariate_keys: Sequence[str] | None = None,
        continuous_covariate_keys: Sequence[str] | None = None,
        min_gene_overlap: float = 0.5,
    ):
        if isinstance(paths, str | Path):
            paths = [paths]
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("no files given")
        for path in self.paths:
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist")
        self.layer = layer
        self.batch_key = batch_key
        self.min_gene_overlap = min_gene_overlap
        categorical, continuous = categorical_covariate_keys or (), continuous_covariate_keys or ()
        keys = [*([batch_key] if batch_key else []), *categorical, *continuous]
        if len(set(keys)) < len(keys):
            raise ValueError(f"an obs column is given twice among batch and covariate keys: {keys}")
        self._handles: dict[int, list] = {}
        # only the row counts, gene names, batch and covariates stay in memory: a million
        # cells' full obs would be the largest thing the collection holds
        n_rows, columns, self._file_var_names = [], [], []
        for path in self.paths:
            n, file_columns, var_names = self._read_metadata(path, categorical, continuous)
            n_rows.append(n)
            columns.append(file_columns)
            self._file_var_names.append(var_names)
        self.file_n_obs = np.array(n_rows, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.file_n_obs)])
        batches = [c[batch_key].astype(str).to_numpy() if batch_key else None for c in columns]
        self.batch_categories, self.batch_codes = self._batch_codes_from_labels(batches)
        self.covariates = StoreCovariates.from_columns(
            columns, categorical, continuous, self.paths, self.n_obs
        )
        self._set_genes(genes if genes is not None else self._file_var_names[0])

    # -- construction helpers ------------------------------------------------------------
    def _matrix_key(self) -> str:
        return "X" if self.layer is None else f"layers/{self.layer}"

    def _read_metadata(
        self, path: Path, categorical: Sequence[str], continuous: Sequence[str]
    ) -> tuple[int, dict[str, pd.Series], pd.Index]:
        """A file's number of cells, batch and covariate columns and gene names (CSR checked)."""
        store = _open_store(path)
        try:
            key = self._matrix_key()
            if key not in store:
                raise KeyError(f"{path} has no {key!r}; set layer= to the counts layer")
            encoding = store[key].attrs.get("encoding-type", "")
            if encoding != "csr_matrix":
                raise ValueError(
                    f"{path}:{key} is stored as {encoding or 'a dense array'}; the collection "
                    "reads CSR matrices (write the file with a scipy.sparse.csr_matrix)"
                )
            obs = store["obs"]
            n_obs = len(obs[obs.attrs["_index"]])
            roles = {
                **({self.batch_key: "batch_key"} if self.batch_key else {}),
                **dict.fromkeys(categorical, "categorical_covariate_keys"),
                **dict.fromkeys(continuous, "continuous_covariate_keys"),
            }
            columns = {key: read_obs_column(obs, key, path, role) for key, role in roles.items()}
            var_names = pd.Index(anndata.io.read_elem(store["var"]).index.astype(str))
            n_rows = int(store[key].attrs["shape"][0])
        finally:
            if isinstance(store, h5py.File):
                store.close()
        if n_rows != n_obs:
            raise ValueError(f"{path}: obs has {n_obs} rows but the counts have {n_rows}")
        return n_rows, columns, var_names

    def read_obs(self, file: int) -> pd.DataFrame:
        """The full ``obs`` of one file, read from disk (the collection keeps none in memory).

        Examples
        --------
        >>> collection.read_obs(0).columns  # doctest: +SKIP
        """
        store = _open_store(self.paths[file])
        try:
            return anndata.io.read_elem(store["obs"])
        finally:
            if isinstance(store, h5py.File):
                store.close()

    @property
    def obs(self) -> pd.DataFrame:
        """``obs`` of all files, read from disk on every access (prefer :meth:`read_obs`)."""
        return pd.concat([self.read_obs(i) for i in range(len(self.paths))])

    def _set_genes(self, genes: Sequence[str]) -> None:
        """Align every file to the gene list ``genes`` (checks overlap, reports missing)."""
        self.var_names = pd.Index(genes).astype(str)
        if self.var_names.has_duplicates:
            duplicated = self.var_names[self.var_names.duplicated()].unique()[:5].tolist()
            raise ValueError(f"the gene list has duplicated names, e.g. {duplicated}")
        self.alignments = [
            self._align(path, names, self.min_gene_overlap)
            for path, names in zip(self.paths, self._file_var_names, strict=True)
        ]
        self._gene_positions = [self.var_names.get_indexer(n) for n in self._file_var_names]

    def with_genes(self, genes: Sequence[str]) -> AnnDataCollection:
        """The same files aligned to another gene list (no file is read again)."""
        other = copy.copy(self)
        other._handles = {}
        other._set_genes(genes)
        return other

    def _align(self, path: Path, names: pd.Index, min_overlap: float) -> GeneAlignment:
        shared = self.var_names.isin(names)
        alignment = GeneAlignment(
            path=str(path),
            n_file_genes=len(names),
            n_shared=int(shared.sum()),
            missing=tuple(self.var_names[~shared]),
            n_dropped=int((~names.isin(self.var_names)).sum()),
        )
        if alignment.n_shared < min_overlap * len(self.var_names):
            raise ValueError(
                f"{path} has {alignment.n_shared} of the {len(self.var_names)} genes "
                f"(below min_gene_overlap={min_overlap}); check that it uses the same gene "
                "identifiers (symbols vs Ensembl ids)"
            )
        if alignment.missing:
            logger.warning(
                "%s lacks %d of %d genes (zeros in its cells), e.g. %s",
                path.name,
                len(alignment.missing),
                len(self.var_names),
                list(alignment.missing[:5]),
            )
        return alignment

    def _batch_codes_from_labels(self, batches: list[np.ndarray | None]):
        if self.batch_key is None:
            return ["0"], np.zeros(self.n_obs, dtype=np.int64)
        return category_codes(np.concatenate([b for b in batches if b is not None]))

    # -- size ----------------------------------------------------------------------------
    @property
    def n_obs(self) -> int:
        """Cells in all files."""
        return int(self.offsets[-1])

    @property
    def n_vars(self) -> int:
        """Genes of the collection's list."""
        return len(self.var_names)

    def __repr__(self) -> str:
        return (
            f"AnnDataCollection of {len(self.paths)} files: {self.n_obs} cells x "
            f"{self.n_vars} genes, batch_key={self.batch_key!r}"
            + (f", covariates {list(self.covariates.keys)}" if self.covariates.keys else "")
        )

    # -- reading -------------------------------------------------------------------------
    def _matrix(self, file: int):
        """The backed CSR matrix of ``file``, opened once per process (safe after fork)."""
        handles = self._handles.get(os.getpid())
        if handles is None:
            handles = [None] * len(self.paths)
            self._handles = {os.getpid(): handles}
        if handles[file] is None:
            store = _open_store(self.paths[file])
            handles[file] = anndata.io.sparse_dataset(store[self._matrix_key()])
        return handles[file]

    def read_block(self, block: Block) -> sparse.csr_matrix:
        """Rows ``block.start:block.stop`` of ``block.file``, aligned to the gene list."""
        rows = sparse.csr_matrix(self._matrix(block.file)[block.start : block.stop])
        positions = self._gene_positions[block.file][rows.indices]
        keep = positions >= 0
        # entries kept before each row start = the new row starts
        indptr = np.concatenate([[0], np.cumsum(keep)])[rows.indptr]
        return sparse.csr_matrix(
            (rows.data[keep].astype(np.float32), positions[keep], indptr),
            shape=(rows.shape[0], self.n_vars),
        )

    def global_rows(self, block: Block) -> np.ndarray:
        """Positions in the whole collection of a block's rows."""
        return self.offsets[block.file] + np.arange(block.start, block.stop)

    def read_blocks(self, blocks: Sequence[Block]) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Several blocks stacked, with the collection positions of their rows."""
        matrix = sparse.vstack([self.read_block(b) for b in blocks], format="csr")
        return matrix, np.concatenate([self.global_rows(b) for b in blocks])

    def file_of_rows(self) -> np.ndarray:
        """The file (path) each cell comes from, in collection order."""
        return np.repeat(np.array([str(p) for p in self.paths]), self.file_n_obs)

    def _cells_anndata(self, blocks: Sequence[Block]) -> AnnData:
        """In-memory AnnData of the cells of ``blocks``: collection genes, cell names, batch."""
        matrix, rows = self.read_blocks(blocks)
        obs = pd.DataFrame(index=pd.Index(self._obs_names(rows), dtype=str))
        if self.batch_key is not None:
            labels = np.asarray(self.batch_categories)[self.batch_codes[rows]]
            obs[self.batch_key] = pd.Categorical(labels, categories=self.batch_categories)
        for key, column in self.covariates.obs_columns(rows).items():
            obs[key] = column
        return AnnData(matrix, obs=obs, var=pd.DataFrame(index=self.var_names))

    def _obs_names(self, rows: np.ndarray) -> np.ndarray:
        """Cell names of global ``rows``, read file by file from disk."""
        names = np.empty(len(rows), dtype=object)
        files = np.searchsorted(self.offsets, rows, side="right") - 1
        for file in np.unique(files):
            store = _open_store(self.paths[file])
            try:
                obs = store["obs"]
                index = anndata.io.read_elem(obs[obs.attrs["_index"]])
            finally:
                if isinstance(store, h5py.File):
                    store.close()
            here = files == file
            names[here] = np.asarray(index)[rows[here] - self.offsets[file]].astype(str)
        return names

    def minibatch(self, matrix: sparse.csr_matrix, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """The tensors an scssl module reads, for CSR ``matrix`` holding collection ``rows``.

        ``REGISTRY_KEYS.INDICES_KEY`` holds the cells' positions in the collection.
        """
        x = csr_tensor(matrix)
        batch = torch.from_numpy(self.batch_codes[rows]).unsqueeze(1)
        tensors = {
            REGISTRY_KEYS.X_KEY: x,
            REGISTRY_KEYS.BATCH_KEY: batch,
            REGISTRY_KEYS.LABELS_KEY: torch.zeros_like(batch),
            REGISTRY_KEYS.INDICES_KEY: torch.from_numpy(np.asarray(rows, dtype=np.int64))[:, None],
        }
        if self.covariates.categorical_keys:
            tensors[REGISTRY_KEYS.CAT_COVS_KEY] = torch.from_numpy(self.covariates.codes[rows])
        if self.covariates.continuous_keys:
            tensors[REGISTRY_KEYS.CONT_COVS_KEY] = torch.from_numpy(self.covariates.values[rows])
        return tensors

    def iter_in_order(self, batch_size: int = 1024) -> Iterator[dict[str, torch.Tensor]]:
        """Every cell once, file by file, in minibatches (for embeddings)."""
        for file, n_rows in enumerate(self.file_n_obs):
            for start in range(0, int(n_rows), batch_size):
                block = Block(file, start, min(start + batch_size, int(n_rows)))
                yield self.minibatch(self.read_block(block), self.global_rows(block))

    def schema_anndata(self, n_cells_per_batch: int = 1) -> AnnData:
        """A small in-memory AnnData with the collection's genes and batch categories.

        A model is set up and built on it (its ``var_names`` and registry are the
        collection's), then trained with ``train(datamodule=...)``. It holds the first
        cells of every batch (real counts), so ``setup_anndata``'s checks run on them.
        """
        rows = []
        for code in range(len(self.batch_categories)):
            rows += list(np.flatnonzero(self.batch_codes == code)[:n_cells_per_batch])
        return self._cells_anndata([self._block_of(row) for row in np.sort(rows)])

    def sample_anndata(self, n_cells: int = 20_000, block_size: int = 64, seed: int = 0) -> AnnData:
        """An in-memory AnnData of about ``n_cells`` cells, read as random blocks of rows.

        For statistics over the collection that need a sample only (gene selection).
        """
        from ._samplers import make_blocks

        blocks = make_blocks(self.file_n_obs, block_size)
        order = np.random.default_rng(seed).permutation(len(blocks))
        chosen, total = [], 0
        for index in order:
            if total >= n_cells:
                break
            chosen.append(blocks[index])
            total += blocks[index].size
        return self._cells_anndata(chosen)

    def _block_of(self, row: int) -> Block:
        file = int(np.searchsorted(self.offsets, row, side="right") - 1)
        start = int(row - self.offsets[file])
        return Block(file, start, start + 1)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"] = {}  # file handles do not cross processes
        return state

"""A Lightning datamodule over an on-disk collection, for ``model.train(datamodule=...)``."""

from __future__ import annotations

from typing import Any

import numpy as np
from lightning.pytorch import LightningDataModule
from scipy import sparse
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ._samplers import BlockShuffleSampler, make_blocks
from ._store import AnnDataCollection


class CollectionMinibatches(IterableDataset):
    """Minibatches of one process of a training (or validation) epoch, read block-wise.

    The epoch counter is advanced by :class:`EpochDataLoader` each time an epoch starts,
    so every epoch draws a new block order. With ``dataset_aware`` every minibatch holds
    the cells of one batch (the collection's batch codes): a fetch's cells are cut into
    minibatches batch by batch, and each batch's remainder waits for the next fetch.
    """

    def __init__(
        self,
        collection: AnnDataCollection,
        sampler: BlockShuffleSampler,
        n_workers: int = 0,
        dataset_aware: bool = False,
    ):
        self.collection = collection
        self.sampler = sampler
        self.n_workers = max(n_workers, 1)
        self.dataset_aware = dataset_aware
        self.epoch = -1
        self.rank, self.world_size = 0, 1

    def _n_minibatches(self, epoch: int, worker: int, n_workers: int) -> int:
        """Minibatches of this process's worker (the same on every process with drop_last)."""
        if not self.dataset_aware:
            return self.sampler.n_minibatches(epoch, self.rank, self.world_size, worker, n_workers)
        batch_size = self.sampler.batch_size

        def count(rank: int) -> int:
            fetches = self.sampler.fetches(epoch, rank, self.world_size, worker, n_workers)
            blocks = [block for fetch in fetches for block in fetch]
            if not blocks:
                return 0
            rows = np.concatenate([self.collection.global_rows(block) for block in blocks])
            per_batch = np.bincount(self.collection.batch_codes[rows])
            if self.sampler.drop_last:
                return int((per_batch // batch_size).sum())
            return int((-(-per_batch // batch_size)).sum())

        if self.sampler.drop_last:
            return min(count(r) for r in range(self.world_size))
        return count(self.rank)

    def _parts(self, matrix: sparse.csr_matrix, rows: np.ndarray):
        """A fetch's cells batch by batch when dataset-aware, else all together."""
        if not self.dataset_aware:
            yield 0, matrix, rows
            return
        groups = self.collection.batch_codes[rows]
        for group in np.unique(groups):
            part = groups == group
            yield int(group), matrix[part], rows[part]

    def __iter__(self):
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        where = {"rank": self.rank, "world_size": self.world_size}
        where |= {"worker": worker, "n_workers": n_workers}
        epoch = max(self.epoch, 0)
        n_left = self._n_minibatches(epoch, worker, n_workers)
        fetches = self.sampler.fetches(epoch, **where)
        # cells of earlier fetches that did not fill a minibatch (per batch when dataset-aware)
        leftovers: dict[int, tuple[sparse.csr_matrix, np.ndarray]] = {}
        for index, fetch in enumerate(fetches):
            if n_left == 0:
                return
            matrix, rows = self.collection.read_blocks(fetch)
            fetch_id = (index * self.world_size + self.rank) * n_workers + worker
            order = self.sampler.cell_order(matrix.shape[0], epoch, fetch_id)
            matrix, rows = matrix[order], rows[order]
            for group, part_matrix, part_rows in self._parts(matrix, rows):
                if group in leftovers:
                    earlier_matrix, earlier_rows = leftovers.pop(group)
                    part_matrix = sparse.vstack([earlier_matrix, part_matrix], format="csr")
                    part_rows = np.concatenate([earlier_rows, part_rows])
                n_full = min(part_matrix.shape[0] // self.sampler.batch_size, n_left)
                for start in range(0, n_full * self.sampler.batch_size, self.sampler.batch_size):
                    stop = start + self.sampler.batch_size
                    yield self.collection.minibatch(part_matrix[start:stop], part_rows[start:stop])
                n_left -= n_full
                done = n_full * self.sampler.batch_size
                if done < part_matrix.shape[0]:
                    leftovers[group] = (part_matrix[done:], part_rows[done:])
        for matrix, rows in leftovers.values():  # the last, partial minibatches (no drop_last)
            if n_left == 0:
                return
            yield self.collection.minibatch(matrix, rows)
            n_left -= 1

    def __len__(self) -> int:
        epoch = max(self.epoch, 0)
        return sum(self._n_minibatches(epoch, w, self.n_workers) for w in range(self.n_workers))


class EpochDataLoader(DataLoader):
    """A DataLoader that tells its dataset a new epoch starts (before workers are made)."""

    def __iter__(self):
        self.dataset.epoch += 1
        return super().__iter__()


class CollectionDataModule(LightningDataModule):
    """Training (and validation) minibatches from an :class:`AnnDataCollection`, block-shuffled.

    Pass it to ``model.train(datamodule=...)`` of a model built on
    ``collection.schema_anndata()``. Minibatches are CSR tensors of the collection's
    genes with the batch codes of its ``batch_key``; memory holds at most one fetch
    (``fetch_factor * block_size`` cells) per data-loader worker, plus the
    ``prefetch_factor`` minibatches each worker reads ahead (torch's DataLoader, bounded).

    Under Lightning DDP every process reads a disjoint shard of the blocks each epoch
    and yields the same number of minibatches (``drop_last``). Validation blocks are
    held out once, from ``seed``; they are split across processes too, and Lightning
    averages the validation loss over processes (``sync_dist``), so early stopping on
    ``validation_loss`` sees one value on every process.

    Parameters
    ----------
    collection
        The cells.
    batch_size
        Cells per minibatch.
    block_size
        Contiguous rows read as one block.
    fetch_factor
        Blocks read together and shuffled together.
    validation_fraction
        Share of the blocks held out for the validation loss (0: no validation).
    num_workers, prefetch_factor
        Worker processes of the DataLoader and minibatches each reads ahead.
    seed
        Seed of the validation split and of the shuffles.
    dataset_aware
        Every training minibatch from one batch of the collection's ``batch_key``
        (CONCORD's dataset-aware sampling, as :class:`~scssl.data.MinibatchSampling`
        does in memory); for a :class:`~scssl.model.Contrastive` built with
        ``dataset_aware=True``.

    Examples
    --------
    >>> import scssl
    >>> path = scssl.data.data_dir() / "scrna/baron_human_pancreas.h5ad"
    >>> collection = scssl.data.AnnDataCollection([path], batch_key="donor")
    >>> datamodule = scssl.data.CollectionDataModule(collection, batch_size=256)
    >>> adata = collection.schema_anndata()
    >>> scssl.model.MaskedAE.setup_anndata(adata, batch_key="donor")
    >>> model = scssl.model.MaskedAE(adata)
    >>> model.train(datamodule=datamodule, max_epochs=1)
    """

    def __init__(
        self,
        collection: AnnDataCollection,
        batch_size: int = 128,
        block_size: int = 64,
        fetch_factor: int = 16,
        validation_fraction: float = 0.0,
        num_workers: int = 0,
        prefetch_factor: int = 2,
        seed: int = 0,
        dataset_aware: bool = False,
    ):
        super().__init__()
        if not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction}")
        if dataset_aware and collection.batch_key is None:
            raise ValueError(
                "dataset_aware=True draws each minibatch from one batch: build the "
                "AnnDataCollection with batch_key=..."
            )
        self.dataset_aware = dataset_aware
        self.collection = collection
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.prefetch_factor = int(prefetch_factor)
        blocks = make_blocks(collection.file_n_obs, block_size)
        n_val = int(round(validation_fraction * len(blocks)))
        held_out = set(np.random.default_rng(seed).permutation(len(blocks))[:n_val].tolist())
        train_blocks = [b for i, b in enumerate(blocks) if i not in held_out]
        val_blocks = [b for i, b in enumerate(blocks) if i in held_out]
        common: dict[str, Any] = {
            "batch_size": self.batch_size,
            "fetch_factor": fetch_factor,
            "seed": seed,
        }
        self.train_sampler = BlockShuffleSampler(train_blocks, shuffle=True, **common)
        self.val_sampler = BlockShuffleSampler(val_blocks, shuffle=False, drop_last=False, **common)
        if self.train_sampler.n_cells < self.batch_size:
            raise ValueError(
                f"{self.train_sampler.n_cells} training cells cannot fill one minibatch of "
                f"batch_size={self.batch_size}; lower batch_size"
            )
        self._train = CollectionMinibatches(
            collection, self.train_sampler, self.num_workers, dataset_aware=dataset_aware
        )
        self._val = CollectionMinibatches(collection, self.val_sampler, self.num_workers)

    # what scvi-tools' train() and TrainRunner read from a datamodule
    @property
    def n_obs(self) -> int:  # noqa: D102
        return self.collection.n_obs

    @property
    def n_vars(self) -> int:  # noqa: D102
        return self.collection.n_vars

    @property
    def n_batch(self) -> int:  # noqa: D102
        return len(self.collection.batch_categories)

    @property
    def n_train(self) -> int:  # noqa: D102
        return self.train_sampler.n_cells

    @property
    def n_val(self) -> int:  # noqa: D102
        return self.val_sampler.n_cells

    def setup(self, stage: str | None = None) -> None:
        """Learn this process's rank and the number of processes from the trainer."""
        trainer = getattr(self, "trainer", None)
        rank, world = (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)
        for dataset in (self._train, self._val):
            dataset.rank, dataset.world_size = rank, world

    def _loader(self, dataset: CollectionMinibatches) -> EpochDataLoader:
        extra: dict[str, Any] = {}
        if self.num_workers > 0:
            extra["prefetch_factor"] = self.prefetch_factor
        return EpochDataLoader(dataset, batch_size=None, num_workers=self.num_workers, **extra)

    def train_dataloader(self):  # noqa: D102
        return self._loader(self._train)

    def val_dataloader(self):  # noqa: D102
        if not self.val_sampler.blocks:
            return []
        return self._loader(self._val)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):  # noqa: D102
        return {key: value.to(device) for key, value in batch.items()}

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
    so every epoch draws a new block order.
    """

    def __init__(
        self, collection: AnnDataCollection, sampler: BlockShuffleSampler, n_workers: int = 0
    ):
        self.collection = collection
        self.sampler = sampler
        self.n_workers = max(n_workers, 1)
        self.epoch = -1
        self.rank, self.world_size = 0, 1

    def __iter__(self):
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        where = {"rank": self.rank, "world_size": self.world_size}
        where |= {"worker": worker, "n_workers": n_workers}
        epoch = max(self.epoch, 0)
        n_left = self.sampler.n_minibatches(epoch, **where)
        batch_size = self.sampler.batch_size
        # cells of earlier fetches that did not fill a minibatch, carried into the next
        leftover = None
        for index, fetch in enumerate(self.sampler.fetches(epoch, **where)):
            if n_left == 0:
                return
            matrix, rows = self.collection.read_blocks(fetch)
            fetch_id = (index * self.world_size + self.rank) * n_workers + worker
            order = self.sampler.cell_order(matrix.shape[0], epoch, fetch_id)
            matrix, rows = matrix[order], rows[order]
            if leftover is not None:
                matrix = sparse.vstack([leftover[0], matrix], format="csr")
                rows = np.concatenate([leftover[1], rows])
            n_full = min(matrix.shape[0] // batch_size, n_left)
            for start in range(0, n_full * batch_size, batch_size):
                stop = start + batch_size
                yield self.collection.minibatch(matrix[start:stop], rows[start:stop])
            n_left -= n_full
            done = n_full * batch_size
            leftover = (matrix[done:], rows[done:]) if done < matrix.shape[0] else None
        if n_left > 0 and leftover is not None:  # the last, partial minibatch (no drop_last)
            yield self.collection.minibatch(*leftover)

    def __len__(self) -> int:
        epoch = max(self.epoch, 0)
        return sum(
            self.sampler.n_minibatches(epoch, self.rank, self.world_size, w, self.n_workers)
            for w in range(self.n_workers)
        )


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

    Examples
    --------
    >>> import scssl
    >>> path = scssl.data.data_dir() / "scrna/baron_human_pancreas.h5ad"
    >>> collection = scssl.data.AnnDataCollection([path], batch_key="donor")
    >>> datamodule = scssl.data.CollectionDataModule(collection, batch_size=256)
    >>> adata = collection.schema_anndata()
    >>> scssl.model.MaskedAE.setup_anndata(adata, batch_key="donor")
    >>> model = scssl.model.MaskedAE(adata)
    >>> model.train(datamodule=datamodule, max_epochs=1)  # doctest: +SKIP
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
    ):
        super().__init__()
        if not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction}")
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
        self._train = CollectionMinibatches(collection, self.train_sampler, self.num_workers)
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

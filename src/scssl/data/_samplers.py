"""Block-shuffled sampling over on-disk collections (the scheme of scDataset).

Reading random single rows from disk is slow; reading contiguous rows is fast. The
sampler therefore shuffles *blocks* of ``block_size`` contiguous rows, reads
``fetch_factor`` blocks at a time (one fetch), shuffles the cells of a fetch and cuts
minibatches from them. Under Lightning DDP every process yields the same number of
minibatches, as DDP requires: every process takes every ``world_size``-th block of
the shuffled order (disjoint shards that together cover the epoch, differing by at
most one block), and the cells that do not fill a last minibatch on the smallest
shard are dropped on all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Block:
    """Rows ``start:stop`` of file ``file`` of a collection."""

    file: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Number of rows."""
        return self.stop - self.start


def make_blocks(file_n_obs, block_size: int) -> list[Block]:
    """Cut every file's rows into contiguous blocks of ``block_size`` (the last may be shorter).

    Examples
    --------
    >>> [(b.file, b.start, b.stop) for b in make_blocks([5, 2], 3)]
    [(0, 0, 3), (0, 3, 5), (1, 0, 2)]
    """
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}")
    return [
        Block(file, start, min(start + block_size, int(n)))
        for file, n in enumerate(file_n_obs)
        for start in range(0, int(n), block_size)
    ]


class BlockShuffleSampler:
    """Which blocks each process (and data-loader worker) reads in an epoch, and in what order.

    Parameters
    ----------
    blocks
        The blocks to sample from (for example the training blocks of a split).
    batch_size
        Cells per minibatch.
    fetch_factor
        Blocks read together; their cells are shuffled together.
    shuffle
        Shuffle blocks (per epoch, from ``seed``) and cells within a fetch.
    drop_last
        Drop the cells that do not fill a last minibatch, and make every process yield
        the same number of minibatches (training under DDP needs this).
    seed
        Seed of the shuffles; epoch ``e`` uses ``seed + e``.

    Examples
    --------
    >>> sampler = BlockShuffleSampler(make_blocks([100], 10), batch_size=16, fetch_factor=2)
    >>> fetches = sampler.fetches(epoch=0, rank=0, world_size=2)
    >>> sum(b.size for fetch in fetches for b in fetch)  # half of the 100 cells
    50
    """

    def __init__(
        self,
        blocks: list[Block],
        batch_size: int,
        fetch_factor: int = 16,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
    ):
        if batch_size < 1 or fetch_factor < 1:
            raise ValueError("batch_size and fetch_factor must be at least 1")
        self.blocks = list(blocks)
        self.batch_size = int(batch_size)
        self.fetch_factor = int(fetch_factor)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = int(seed)

    @property
    def n_cells(self) -> int:
        """Cells in all blocks."""
        return sum(block.size for block in self.blocks)

    def fetches(
        self, epoch: int, rank: int = 0, world_size: int = 1, worker: int = 0, n_workers: int = 1
    ) -> list[list[Block]]:
        """The fetches of one process's one worker.

        Blocks are dealt round-robin (every ``world_size``-th block to a process, then
        every ``n_workers``-th to a worker), so shards differ by at most one block.
        """
        order = np.arange(len(self.blocks))
        if self.shuffle:
            order = np.random.default_rng(self.seed + epoch).permutation(order)
        mine = [self.blocks[i] for i in order[rank::world_size][worker::n_workers]]
        return [mine[i : i + self.fetch_factor] for i in range(0, len(mine), self.fetch_factor)]

    def n_minibatches(
        self, epoch: int, rank: int = 0, world_size: int = 1, worker: int = 0, n_workers: int = 1
    ) -> int:
        """Minibatches the worker yields; with ``drop_last`` the same on every process."""

        def cells(r: int) -> int:
            fetches = self.fetches(epoch, r, world_size, worker, n_workers)
            return sum(block.size for fetch in fetches for block in fetch)

        if self.drop_last:
            return min(cells(r) for r in range(world_size)) // self.batch_size
        return -(-cells(rank) // self.batch_size)

    def cell_order(self, n_cells: int, epoch: int, fetch_index: int) -> np.ndarray:
        """Order of the cells within a fetch."""
        if not self.shuffle:
            return np.arange(n_cells)
        rng = np.random.default_rng([self.seed, epoch, fetch_index])
        return rng.permutation(n_cells)

"""What goes into a training minibatch: dataset-aware and hard-negative sampling (CONCORD).

A contrastive objective contrasts a cell with the other cells of its minibatch. With
random minibatches the easiest way to tell cells apart is often their batch
(donor, chemistry), and the embedding keeps it. Two samplers change the minibatch
instead of the model:

* **dataset-aware**: every minibatch holds the cells of one batch only, so the batch
  never separates a cell from its negatives; batches take minibatches in
  proportion to their sizes;
* **hard-negative**: a fraction of every minibatch is one neighbourhood (a random
  seed cell and the cells reached from it through the nearest-neighbour graph,
  for example :func:`scssl.tl.knn_pairs`), so negatives include similar cells.

:class:`MinibatchSampling` is the setting a model keeps; :class:`GroupedBatchSampler`
is the torch sampler it builds over the training cells of one split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Sampler, default_convert


@dataclass(frozen=True)
class MinibatchSampling:
    """How training minibatches are drawn.

    Parameters
    ----------
    dataset_aware
        Each minibatch from one batch (needs the batch codes of the cells).
    hard_negative_fraction
        Fraction of each minibatch taken from one nearest-neighbour neighbourhood
        (needs each cell's neighbours); 0 turns hard negatives off.
    seed
        Seed of the draws; epoch ``e`` draws from ``seed + e``.

    Examples
    --------
    >>> MinibatchSampling(dataset_aware=True).is_random
    False
    """

    dataset_aware: bool = False
    hard_negative_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if not 0.0 <= self.hard_negative_fraction <= 1.0:
            raise ValueError(
                f"hard_negative_fraction must lie in [0, 1], got {self.hard_negative_fraction}"
            )

    @property
    def is_random(self) -> bool:
        """Whether this is plain random minibatching (nothing to build)."""
        return not self.dataset_aware and self.hard_negative_fraction == 0.0


def _positions_in(rows: np.ndarray, n_obs: int) -> np.ndarray:
    """Map AnnData rows to their position in ``rows`` (``-1`` for rows not there)."""
    position = np.full(n_obs, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return position


class GroupedBatchSampler(Sampler):
    """Minibatches of row positions into ``groups``, dataset-aware and/or hard-negative.

    Parameters
    ----------
    groups
        Batch code of each cell of the split (all zeros: one group).
    batch_size
        Cells per minibatch (a group smaller than this gives smaller minibatches).
    neighbours
        Cells x k nearest neighbours, as positions in the split (``-1``: none); needed
        when ``hard_negative_fraction > 0``.
    hard_negative_fraction
        Fraction of each minibatch grown from a random seed cell through
        ``neighbours`` (breadth first, within the minibatch's group); the rest is random.
    drop_last
        Drop the last minibatch of a group when it is not full (kept if it is the
        group's only one, so that no group goes unseen).
    seed
        Seed; every pass over the sampler (an epoch) draws anew.

    Examples
    --------
    >>> import numpy as np
    >>> sampler = GroupedBatchSampler(np.array([0, 0, 0, 1, 1, 1]), batch_size=3)
    >>> sorted(sorted(set(np.array([0, 0, 0, 1, 1, 1])[b].tolist())) for b in sampler)
    [[0], [1]]
    """

    def __init__(
        self,
        groups: np.ndarray,
        batch_size: int,
        neighbours: np.ndarray | None = None,
        hard_negative_fraction: float = 0.0,
        drop_last: bool = False,
        seed: int = 0,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if hard_negative_fraction > 0 and neighbours is None:
            raise ValueError("hard negatives need each cell's nearest neighbours")
        self.groups = np.asarray(groups)
        self.batch_size = int(batch_size)
        self.neighbours = None if neighbours is None else np.asarray(neighbours, dtype=np.int64)
        self.n_hard = int(round(hard_negative_fraction * self.batch_size))
        self.drop_last = drop_last
        self.seed = int(seed)
        self.epoch = 0
        self._members = [np.flatnonzero(self.groups == g) for g in np.unique(self.groups)]

    def _group_batch_count(self, n: int) -> int:
        full, rest = divmod(n, self.batch_size)
        return max(full + (rest > 0 and not self.drop_last), 1)

    def __len__(self) -> int:
        return sum(self._group_batch_count(len(members)) for members in self._members)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        batches = []
        for members in self._members:
            n_batches = self._group_batch_count(len(members))
            if self.n_hard == 0:
                order = rng.permutation(members)
                size = self.batch_size
                batches += [order[i * size : (i + 1) * size] for i in range(n_batches)]
            else:
                batches += [self._hard_negative_batch(members, rng) for _ in range(n_batches)]
        for index in rng.permutation(len(batches)):  # groups interleaved, in proportion
            batch = batches[index]
            if len(batch):
                yield batch.tolist()

    def _hard_negative_batch(self, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One seed cell's neighbourhood (breadth first, in its group), topped up at random."""
        assert self.neighbours is not None
        size = min(self.batch_size, len(members))
        n_hard = min(self.n_hard, size)
        seed_cell = int(rng.choice(members))
        group = self.groups[seed_cell]
        chosen, seen = [seed_cell], {seed_cell}
        frontier = 0
        while len(chosen) < n_hard and frontier < len(chosen):
            for neighbour in self.neighbours[chosen[frontier]].tolist():
                if neighbour >= 0 and neighbour not in seen and self.groups[neighbour] == group:
                    seen.add(neighbour)
                    chosen.append(neighbour)
                    if len(chosen) == n_hard:
                        break
            frontier += 1
        # top up with random cells of the group that are not in the neighbourhood yet
        candidates = rng.choice(members, size=min(len(members), size + len(chosen)), replace=False)
        rest = [int(c) for c in candidates if int(c) not in seen][: size - len(chosen)]
        return np.asarray(chosen + rest, dtype=np.int64)


def check_datamodule_sampling(datamodule, sampling: MinibatchSampling) -> None:
    """A datamodule draws the minibatches itself: it must draw them as the model asks."""
    if sampling.hard_negative_fraction > 0:
        raise ValueError(
            "hard-negative minibatches are drawn in memory only; build the model with "
            "hard_negative_fraction=0 to train from a datamodule"
        )
    if sampling.dataset_aware and not getattr(datamodule, "dataset_aware", False):
        raise ValueError(
            "this model trains on dataset-aware minibatches: build the datamodule with "
            "dataset_aware=True (scssl.data.CollectionDataModule(..., dataset_aware=True))"
        )


def unwrap_minibatch(items: list) -> dict:
    """Collate for a sampler that yields whole minibatches: the dataset already stacked them."""
    return default_convert(items[0])


def build_batch_sampler(
    sampling: MinibatchSampling,
    *,
    split_rows: np.ndarray,
    n_obs: int,
    batch_codes: np.ndarray | None,
    neighbours: np.ndarray | None,
    batch_size: int,
    drop_last: bool,
) -> GroupedBatchSampler:
    """The sampler of one split: AnnData rows ``split_rows``, with the AnnData's codes and kNN.

    ``batch_codes`` and ``neighbours`` are per AnnData row (neighbours as row positions);
    neighbours outside the split are dropped.
    """
    if sampling.dataset_aware and batch_codes is None:
        raise ValueError("dataset-aware sampling needs a batch: register batch_key in setup")
    if sampling.hard_negative_fraction > 0 and neighbours is None:
        raise ValueError(
            "hard-negative sampling needs nearest neighbours: compute them with "
            "scssl.tl.knn_pairs(adata) and pass knn_key=... to setup_anndata"
        )
    split_rows = np.asarray(split_rows, dtype=np.int64)
    groups = (
        np.asarray(batch_codes).ravel()[split_rows]
        if sampling.dataset_aware
        else np.zeros(len(split_rows), dtype=np.int64)
    )
    split_neighbours = None
    if sampling.hard_negative_fraction > 0:
        assert neighbours is not None
        position = _positions_in(split_rows, n_obs)
        rows = np.asarray(neighbours, dtype=np.int64)[split_rows]
        split_neighbours = np.where(rows >= 0, position[np.maximum(rows, 0)], -1)
    return GroupedBatchSampler(
        groups,
        batch_size,
        neighbours=split_neighbours,
        hard_negative_fraction=sampling.hard_negative_fraction,
        drop_last=drop_last,
        seed=sampling.seed,
    )

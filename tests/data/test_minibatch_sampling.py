"""Dataset-aware and hard-negative minibatches: their sampling properties, alone and in a model."""

from __future__ import annotations

import numpy as np
import pytest
from scvi import REGISTRY_KEYS

import scssl
from scssl.data import GroupedBatchSampler, MinibatchSampling, SparseDataSplitter
from scssl.data._minibatch_sampling import build_batch_sampler
from scssl.model import Contrastive

SMALL = {"n_hidden": 32, "n_latent": 8, "projector_hidden": 32, "projector_output": 16}


def _epoch(sampler) -> list[np.ndarray]:
    return [np.asarray(batch) for batch in sampler]


def test_dataset_aware_minibatches_hold_one_group_and_cover_every_cell_once():
    groups = np.repeat([0, 1, 2], [250, 120, 30])
    sampler = GroupedBatchSampler(groups, batch_size=64, seed=3)
    batches = _epoch(sampler)
    assert all(len(set(groups[b])) == 1 for b in batches)
    cells = np.concatenate(batches)
    assert np.array_equal(np.sort(cells), np.arange(len(groups)))  # each cell once
    assert len(batches) == len(sampler) == 4 + 2 + 1
    # groups take minibatches in proportion to their size, interleaved (not one after another)
    order = [groups[b[0]] for b in batches]
    assert order.count(0) == 4 and order != sorted(order)
    # a new epoch draws anew; the same seed draws the same epochs
    second = _epoch(sampler)
    assert any(not np.array_equal(a, b) for a, b in zip(batches, second, strict=False))
    again = GroupedBatchSampler(groups, batch_size=64, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(batches, _epoch(again), strict=True))


def test_drop_last_drops_partial_minibatches_but_never_a_whole_group():
    groups = np.repeat([0, 1], [150, 20])
    batches = _epoch(GroupedBatchSampler(groups, batch_size=64, drop_last=True))
    sizes = sorted(len(b) for b in batches)
    assert sizes == [20, 64, 64]


def _chain_neighbours(n: int, k: int = 3) -> np.ndarray:
    """Cells on a line: each cell's neighbours are the next k cells (wrapping)."""
    return (np.arange(n)[:, None] + np.arange(1, k + 1)[None, :]) % n


def test_hard_negative_minibatches_are_a_neighbourhood_topped_up_at_random():
    n = 400
    neighbours = _chain_neighbours(n)
    sampler = GroupedBatchSampler(
        np.zeros(n, dtype=int), batch_size=40, neighbours=neighbours, hard_negative_fraction=0.5
    )
    batches = _epoch(sampler)
    assert len(batches) == 10
    for batch in batches:
        assert len(batch) == 40 and len(set(batch.tolist())) == 40
        seed, hood = batch[0], batch[:20]
        # breadth first along the chain: the 20 cells after the seed cell
        assert np.array_equal(np.sort((hood - seed) % n), np.arange(20))
        # the random rest is spread over the data, not another neighbourhood
        assert np.ptp(np.sort((batch[20:] - seed) % n)) > 100


def test_hard_negatives_stay_within_the_group_when_dataset_aware():
    n = 300
    groups = np.arange(n) % 2  # every neighbour on the chain alternates groups
    sampler = GroupedBatchSampler(
        groups, batch_size=30, neighbours=_chain_neighbours(n, k=4), hard_negative_fraction=0.5
    )
    for batch in _epoch(sampler):
        assert len(set(groups[batch])) == 1


def test_split_sampler_maps_rows_and_drops_neighbours_outside_the_split():
    n_obs = 10
    neighbours = _chain_neighbours(n_obs, k=2)  # row r -> r+1, r+2
    split_rows = np.array([0, 1, 2, 5, 6])
    sampler = build_batch_sampler(
        MinibatchSampling(hard_negative_fraction=0.5),
        split_rows=split_rows,
        n_obs=n_obs,
        batch_codes=None,
        neighbours=neighbours,
        batch_size=2,
        drop_last=False,
    )
    assert sampler.neighbours is not None
    # row 0 -> rows 1, 2 -> positions 1, 2; row 2 -> rows 3, 4 (not in the split) -> -1
    assert sampler.neighbours[0].tolist() == [1, 2]
    assert sampler.neighbours[2].tolist() == [-1, -1]
    assert sampler.neighbours[3].tolist() == [4, -1]
    with pytest.raises(ValueError, match="batch_key"):
        build_batch_sampler(
            MinibatchSampling(dataset_aware=True),
            split_rows=split_rows,
            n_obs=n_obs,
            batch_codes=None,
            neighbours=None,
            batch_size=2,
            drop_last=False,
        )
    with pytest.raises(ValueError, match="hard_negative_fraction"):
        MinibatchSampling(hard_negative_fraction=1.5)


@pytest.fixture
def baron(baron_small):
    adata = baron_small.copy()
    scssl.tl.knn_pairs(adata, k=5)
    return adata


def test_model_training_minibatches_come_from_one_donor(baron):
    Contrastive.setup_anndata(baron, batch_key="donor", knn_key="scssl_knn_partners")
    model = Contrastive(
        baron, method="simclr", dataset_aware=True, hard_negative_fraction=0.25, **SMALL
    )
    splitter = SparseDataSplitter(
        model.adata_manager,
        train_size=0.9,
        batch_size=64,
        minibatch_sampling=model.minibatch_sampling,
    )
    splitter.setup()
    n_cells = 0
    for minibatch in splitter.train_dataloader():
        batch_codes = minibatch[REGISTRY_KEYS.BATCH_KEY]
        assert batch_codes.ndim == 2 and batch_codes.shape[1] == 1  # stacked, not wrapped
        assert batch_codes.unique().numel() == 1
        n_cells += batch_codes.shape[0]
    assert n_cells >= 0.8 * len(splitter.train_idx)
    model.train(max_epochs=2, batch_size=64, enable_progress_bar=False)
    assert np.isfinite(model.get_latent_representation()).all()
    assert model.history["train_loss"].notna().all().all()


def test_sampling_settings_are_checked_and_saved(baron, tmp_path):
    Contrastive.setup_anndata(baron)
    with pytest.raises(ValueError, match="batch_key"):
        Contrastive(baron, dataset_aware=True)
    with pytest.raises(ValueError, match="knn_pairs"):
        Contrastive(baron, hard_negative_fraction=0.5)
    Contrastive.setup_anndata(baron, batch_key="donor")
    model = Contrastive(baron, method="simclr", dataset_aware=True, **SMALL)
    model.train(max_epochs=1, batch_size=64, enable_progress_bar=False)
    model.save(tmp_path / "model", overwrite=True)
    loaded = Contrastive.load(str(tmp_path / "model"), adata=baron)
    assert loaded.minibatch_sampling == MinibatchSampling(dataset_aware=True)
    collection = scssl.data.AnnDataCollection(
        [scssl.data.data_dir() / "scrna/baron_human_pancreas.h5ad"], batch_key="donor"
    )
    with pytest.raises(ValueError, match="datamodule"):
        model.train(datamodule=scssl.data.CollectionDataModule(collection), max_epochs=1)

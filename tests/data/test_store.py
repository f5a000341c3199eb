"""On-disk collections, the block-shuffled sampler, training from a datamodule, pretrain/map."""

from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest
import torch
import zarr
from anndata import AnnData
from lightning.pytorch.callbacks import Callback
from scipy import sparse
from scvi import REGISTRY_KEYS

import scssl
from scssl import cli
from scssl.data import (
    AnnDataCollection,
    BlockShuffleSampler,
    CollectionDataModule,
    make_blocks,
)
from scssl.model import Contrastive


def _counts_adata(n_cells: int, genes: list[str], batch: str, seed: int) -> AnnData:
    rng = np.random.default_rng(seed)
    rates = rng.gamma(1.0, 1.0, size=(1, len(genes))) * rng.uniform(0.5, 2.0, size=(n_cells, 1))
    counts = rng.poisson(rates).astype(np.float32)
    counts[:, 0] += 1
    adata = AnnData(sparse.csr_matrix(counts), var=pd.DataFrame(index=genes))
    adata.obs_names = [f"{batch}_{i}" for i in range(n_cells)]
    adata.obs["donor"] = batch
    adata.obs["cell_type"] = np.where(np.arange(n_cells) % 2, "x", "y")
    return adata


@pytest.fixture
def two_files(tmp_path):
    """Two h5ad files; the second has its genes reversed and lacks two of them."""
    genes = [f"g{i}" for i in range(30)]
    first = _counts_adata(70, genes, "d1", 0)
    second = _counts_adata(50, genes[::-1][2:], "d2", 1)  # no g29, g28
    paths = [tmp_path / "a.h5ad", tmp_path / "b.h5ad"]
    first.write_h5ad(paths[0])
    second.write_h5ad(paths[1])
    return paths, genes, first, second


# -- collection ---------------------------------------------------------------------------
def test_collection_aligns_genes_and_reads_the_same_counts(two_files):
    paths, genes, first, second = two_files
    collection = AnnDataCollection(paths, batch_key="donor")
    assert collection.n_obs == 120 and collection.var_names.tolist() == genes
    assert collection.batch_categories == ["d1", "d2"]
    assert collection.alignments[1].missing == ("g28", "g29")
    block = scssl.data.Block(1, 10, 20)
    read = collection.read_block(block).toarray()
    expected = second[10:20].to_df().reindex(columns=genes, fill_value=0.0).to_numpy()
    np.testing.assert_array_equal(read, expected)
    np.testing.assert_array_equal(
        collection.read_block(scssl.data.Block(0, 0, 5)).toarray(), first.X[:5].toarray()
    )
    schema = collection.schema_anndata()
    assert schema.var_names.tolist() == genes
    assert schema.obs["donor"].cat.categories.tolist() == ["d1", "d2"]
    # cells keep their names; the obs of the files is read from disk, never held
    assert schema.obs_names.tolist() == [first.obs_names[0], second.obs_names[0]]
    assert not any(isinstance(v, pd.DataFrame) for v in vars(collection).values())
    pd.testing.assert_frame_equal(collection.read_obs(1), second.obs)


def test_collection_refuses_bad_input_before_reading(two_files, tmp_path):
    paths, genes, first, _ = two_files
    with pytest.raises(KeyError, match="batch_key='study'"):
        AnnDataCollection(paths, batch_key="study")
    with pytest.raises(ValueError, match="duplicated"):
        AnnDataCollection(paths, genes=genes + ["g0"])
    with pytest.raises(ValueError, match="min_gene_overlap"):
        AnnDataCollection(paths, genes=genes + [f"other{i}" for i in range(40)])
    dense = first.copy()
    dense.X = dense.X.toarray()
    dense.write_h5ad(tmp_path / "dense.h5ad")
    with pytest.raises(ValueError, match="CSR"):
        AnnDataCollection([tmp_path / "dense.h5ad"])
    with pytest.raises(FileNotFoundError):
        AnnDataCollection([tmp_path / "missing.h5ad"])
    genes_file = tmp_path / "genes.txt"
    genes_file.write_text("\n".join(genes[:20]) + "\n")
    assert AnnDataCollection(paths, genes=scssl.data.read_gene_list(genes_file)).n_vars == 20


# -- sampler --------------------------------------------------------------------------------
def _rows(blocks) -> list[int]:
    return [r for b in blocks for r in range(b.start + 1000 * b.file, b.stop + 1000 * b.file)]


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_block_sampler_shards_are_disjoint_cover_the_data_and_have_equal_lengths(world_size):
    blocks = make_blocks([203, 97], block_size=8)
    sampler = BlockShuffleSampler(blocks, batch_size=16, fetch_factor=3, seed=4)
    for epoch in (0, 1):
        shards = [
            _rows(b for fetch in sampler.fetches(epoch, rank, world_size) for b in fetch)
            for rank in range(world_size)
        ]
        everything = sorted(r for shard in shards for r in shard)
        assert everything == sorted(_rows(blocks))  # disjoint and covering
        counts = {sampler.n_minibatches(epoch, rank, world_size) for rank in range(world_size)}
        assert len(counts) == 1  # DDP needs the same number of steps on every process
        assert counts.pop() * 16 * world_size <= 300
    first, second = (sampler.fetches(e) for e in (0, 1))
    assert first != second  # a new block order every epoch
    assert all(b.stop - b.start <= 8 for b in blocks)


def test_datamodule_epoch_visits_each_cell_once_in_shuffled_blocks(two_files):
    paths, *_ = two_files
    collection = AnnDataCollection(paths, batch_key="donor")
    datamodule = CollectionDataModule(collection, batch_size=16, block_size=10, fetch_factor=2)
    datamodule.setup()
    loader = datamodule.train_dataloader()
    epochs = []
    for _ in range(2):
        seen = []
        for batch in loader:
            assert batch[REGISTRY_KEYS.X_KEY].layout == torch.sparse_csr
            assert batch[REGISTRY_KEYS.X_KEY].shape == (16, 30)
            seen += batch[REGISTRY_KEYS.INDICES_KEY].ravel().tolist()
        assert len(seen) == len(set(seen)) == (120 // 16) * 16
        epochs.append(seen)
    assert epochs[0] != epochs[1]
    assert epochs[0] != sorted(epochs[0])  # shuffled, not in file order


@pytest.mark.parametrize("world_size", [1, 2])
def test_dataset_aware_datamodule_minibatches_hold_one_batch(two_files, world_size):
    paths, *_ = two_files
    collection = AnnDataCollection(paths, batch_key="donor")
    datamodule = CollectionDataModule(
        collection, batch_size=16, block_size=10, fetch_factor=3, dataset_aware=True
    )
    lengths, seen = [], []
    for rank in range(world_size):
        dataset = datamodule._train
        dataset.rank, dataset.world_size, dataset.epoch = rank, world_size, 0
        batches = list(dataset)
        assert len(batches) == len(dataset)
        lengths.append(len(batches))
        for batch in batches:
            assert batch[REGISTRY_KEYS.BATCH_KEY].unique().numel() == 1
            assert batch[REGISTRY_KEYS.X_KEY].shape[0] == 16
            seen += batch[REGISTRY_KEYS.INDICES_KEY].ravel().tolist()
    assert len(set(lengths)) == 1  # every process the same number of minibatches (DDP)
    assert len(seen) == len(set(seen))
    if world_size == 1:  # each donor's cells, less what does not fill a last minibatch
        assert len(seen) == (70 // 16 + 50 // 16) * 16
    with pytest.raises(ValueError, match="batch_key"):
        CollectionDataModule(AnnDataCollection(paths), dataset_aware=True)


def test_contrastive_dataset_aware_trains_from_a_dataset_aware_datamodule(two_files):
    paths, *_ = two_files
    collection = AnnDataCollection(paths, batch_key="donor")
    adata = collection.schema_anndata()
    Contrastive.setup_anndata(adata, batch_key="donor")
    model = Contrastive(adata, method="simclr", dataset_aware=True, n_hidden=16, n_latent=4)
    with pytest.raises(ValueError, match="dataset_aware=True"):
        model.train(datamodule=CollectionDataModule(collection, batch_size=16), max_epochs=1)
    datamodule = CollectionDataModule(collection, batch_size=16, dataset_aware=True)
    model.train(datamodule=datamodule, max_epochs=2, enable_progress_bar=False)
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()


# -- training from disk, embedding, save/load, reference mapping ------------------------------
def test_masked_ae_trains_from_a_datamodule_and_serves_as_reference(two_files, tmp_path):
    paths, genes, first, second = two_files
    collection = AnnDataCollection(paths, batch_key="donor")
    schema = collection.schema_anndata()
    scssl.model.MaskedAE.setup_anndata(schema, batch_key="donor")
    model = scssl.model.MaskedAE(schema, n_latent=4, n_hidden=16, encode_covariates=True)
    datamodule = CollectionDataModule(collection, batch_size=16, validation_fraction=0.2)
    model.train(datamodule=datamodule, max_epochs=2, check_val_every_n_epoch=1)
    assert np.isfinite(model.history["validation_loss"].to_numpy(dtype=float)).all()

    # streamed embedding == in-memory embedding of the same cells
    streamed = model.get_latent_representation(collection, batch_size=32)
    in_memory = AnnData(
        sparse.vstack(
            [
                collection.read_block(scssl.data.Block(i, 0, n))
                for i, n in enumerate(collection.file_n_obs)
            ],
            format="csr",
        ),
        obs=collection.obs[["donor"]]
        .reset_index(drop=True)
        .set_axis([str(i) for i in range(collection.n_obs)]),
        var=pd.DataFrame(index=genes),
    )
    scssl.model.MaskedAE.setup_anndata(in_memory, batch_key="donor")
    np.testing.assert_allclose(streamed, model.get_latent_representation(in_memory), atol=1e-5)
    on_disk = model.get_latent_representation(collection, out=str(tmp_path / "z.zarr"))
    np.testing.assert_allclose(np.asarray(zarr.open_array(str(tmp_path / "z.zarr"))), streamed)
    assert on_disk.shape == (120, 4)

    # save / load, then scArches mapping of a new study (scvi-tools issue #3684)
    model.save(str(tmp_path / "ref"))
    loaded = scssl.model.MaskedAE.load(str(tmp_path / "ref"), adata=schema)
    np.testing.assert_allclose(loaded.get_latent_representation(collection), streamed, atol=1e-6)
    query = _counts_adata(40, genes, "d3", 7)
    scssl.model.MaskedAE.prepare_query_anndata(query, str(tmp_path / "ref"))
    query_model = scssl.model.MaskedAE.load_query_data(query, str(tmp_path / "ref"))
    query_model.train(max_epochs=2)
    assert query_model.get_latent_representation().shape == (40, 4)


def test_pretrain_and_map_from_the_command_line(two_files, tmp_path, capsys):
    paths, genes, *_ = two_files
    reference = tmp_path / "ref"
    argv = ["pretrain", "--input", *map(str, paths), "--batch-key", "donor"]
    argv += ["--output", str(reference), "--max-epochs", "2", "--checkpoint-every", "3"]
    assert cli.main(argv) == 2  # 120 cells cannot fill a minibatch of the default 128
    argv += ["--batch-size", "16", "--overwrite"]
    assert cli.main(argv) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["n_cells"] == 120 and manifest["train_cells_per_second"] > 0
    assert sorted(p.name for p in (reference / "checkpoints").iterdir())[0].endswith(".ckpt")
    assert zarr.open_array(str(reference / "reference_embedding.zarr")).shape[0] == 120
    query = _counts_adata(30, genes, "d3", 9)
    query.write_h5ad(tmp_path / "query.h5ad")
    out = tmp_path / "mapped.h5ad"
    argv = ["map", "--reference", str(reference), "--query", str(tmp_path / "query.h5ad")]
    assert cli.main(argv + ["--labels-key", "cell_type", "--output", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_cells"] == 30 and 0.0 <= summary["mean_uncertainty"] <= 1.0
    mapped = anndata.read_h5ad(out)
    assert mapped.obsm["X_scssl"].shape[0] == 30
    assert set(mapped.obs["cell_type_transferred"].astype(str)) <= {"x", "y"}
    # the query file is never overwritten; a wrong labels key fails before training
    same = ["map", "--reference", str(reference), "--query", str(out), "--output", str(out)]
    assert cli.main(same) == 2
    wrong = argv + ["--labels-key", "nope", "--output", str(tmp_path / "x.h5ad")]
    assert cli.main(wrong) == 2


class RecordRows(Callback):
    """Write the collection rows each process trains on, per epoch (picklable for ddp_spawn)."""

    def __init__(self, folder):
        self.folder = str(folder)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        rows = batch[REGISTRY_KEYS.INDICES_KEY].ravel().cpu().numpy()
        name = f"{self.folder}/rank{trainer.global_rank}_epoch{trainer.current_epoch}"
        with open(f"{name}.txt", "a") as handle:
            handle.write(" ".join(map(str, rows)) + "\n")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_ddp_two_processes_read_disjoint_shards_and_match_one_process(two_files, tmp_path):
    paths, *_ = two_files
    losses = {}
    for devices in (1, 2):
        collection = AnnDataCollection(paths, batch_key="donor")
        schema = collection.schema_anndata()
        scssl.model.MaskedAE.setup_anndata(schema, batch_key="donor")
        model = scssl.model.MaskedAE(schema, n_latent=4, n_hidden=16)
        folder = tmp_path / f"rows{devices}"
        folder.mkdir()
        model.train(
            datamodule=CollectionDataModule(collection, batch_size=8, block_size=5),
            max_epochs=3,
            accelerator="cpu",
            devices=devices,
            strategy="ddp_spawn" if devices == 2 else "auto",
            callbacks=[RecordRows(folder)],
            enable_progress_bar=False,
        )
        losses[devices] = float(model.history["train_loss"].to_numpy(dtype=float).ravel()[-1])
        if devices == 2:
            for epoch in range(3):
                shards = [
                    (folder / f"rank{r}_epoch{epoch}.txt").read_text().split() for r in (0, 1)
                ]
                assert not set(shards[0]) & set(shards[1])  # disjoint
                assert len(shards[0]) == len(shards[1])  # same number of steps
                # covering: at most one block (5) and one partial minibatch (8) per process left out
                assert len(set(shards[0]) | set(shards[1])) >= 120 - 2 * (5 + 8)
    assert np.isfinite(model.get_latent_representation(collection)).all()
    # same data, same epochs: the final training loss agrees within 25%
    assert abs(losses[2] - losses[1]) / losses[1] < 0.25


def test_pretrain_selects_highly_variable_genes_from_a_sample(two_files, tmp_path):
    paths, genes, *_ = two_files
    model = scssl.tl.pretrain(
        paths, tmp_path / "ref", n_top_genes=12, batch_key="donor", max_epochs=1, batch_size=16
    )
    manifest = scssl.tl.read_reference(tmp_path / "ref")
    assert manifest["n_genes"] == 12 and "highly variable" in manifest["gene_selection"]
    assert model.adata.n_vars == 12 and set(model.adata.var_names) <= set(genes)
    with pytest.raises(FileExistsError):
        scssl.tl.pretrain(paths, tmp_path / "ref", max_epochs=1, batch_size=16)


_KILLED_RUN = """
import sys, time
import scssl
from scssl.train import ThroughputProgress

original = ThroughputProgress.on_train_batch_end

def slow(self, *args, **kwargs):  # slow steps, so the run is interrupted mid-way
    time.sleep(0.05)
    return original(self, *args, **kwargs)

ThroughputProgress.on_train_batch_end = slow
paths, output = sys.argv[1:3], sys.argv[3]
scssl.tl.pretrain(paths, output, batch_key="donor", n_top_genes=None, max_epochs=20,
                  batch_size=16, checkpoint_every_n_steps=5, seed=0)
"""


def test_a_killed_pretraining_run_resumes_from_its_last_checkpoint(two_files, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    paths, *_ = two_files
    output = tmp_path / "ref"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, *map(str, paths), str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list(output.glob("checkpoints/step1[05].ckpt")):
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (output / "scssl_reference.json").exists()  # it was interrupted
    checkpoints = sorted(output.glob("checkpoints/step*.ckpt"), key=lambda p: int(p.stem[4:]))
    assert checkpoints, "the run wrote no checkpoint before it was killed"
    resumed_at = int(checkpoints[-1].stem[4:])

    scssl.tl.pretrain(
        paths,
        output,
        batch_key="donor",
        n_top_genes=None,
        max_epochs=20,
        batch_size=16,
        checkpoint_every_n_steps=5,
        seed=0,
        resume_from="latest",
    )
    manifest = scssl.tl.read_reference(output)
    assert manifest["n_cells"] == 120
    model = scssl.model.MaskedAE.load(
        str(output / "model"), adata=AnnDataCollection(paths, batch_key="donor").schema_anndata()
    )
    assert resumed_at < 20 * (120 // 16)  # killed before the end
    # the history is the whole run's: epochs before the kill come from the checkpoint
    history = model.history["train_loss"]
    assert history.index.tolist() == list(range(20))
    assert history["train_loss"].astype(float).notna().all()

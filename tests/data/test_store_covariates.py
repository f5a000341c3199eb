"""Batch and other covariates of on-disk collections: read from each file's obs, passed on."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS

from scssl.data import AnnDataCollection, Block, CollectionDataModule
from scssl.model import MaskedAE

GENES = [f"g{i}" for i in range(25)]
COVARIATES = {"categorical_covariate_keys": ["site"], "continuous_covariate_keys": ["depth"]}


def _file(path, n_cells: int, donor: str, sites: list[str], seed: int) -> AnnData:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.gamma(1.0, 1.0, size=(n_cells, len(GENES)))).astype(np.float32)
    counts[:, 0] += 1
    adata = AnnData(sparse.csr_matrix(counts), var=pd.DataFrame(index=GENES))
    adata.obs_names = [f"{donor}_{i}" for i in range(n_cells)]
    adata.obs["donor"] = donor
    adata.obs["site"] = [sites[i % len(sites)] for i in range(n_cells)]
    adata.obs["depth"] = rng.normal(size=n_cells).astype(np.float32)
    adata.write_h5ad(path)
    return adata


@pytest.fixture
def files(tmp_path):
    """Two files; the second knows only one of the three sites."""
    first = _file(tmp_path / "a.h5ad", 48, "d1", ["s_b", "s_a", "s_c"], 0)
    second = _file(tmp_path / "b.h5ad", 32, "d2", ["s_c"], 1)
    return [tmp_path / "a.h5ad", tmp_path / "b.h5ad"], [first, second]


def test_minibatches_and_schema_carry_the_covariates_of_every_file(files):
    paths, adatas = files
    collection = AnnDataCollection(paths, batch_key="donor", **COVARIATES)
    assert collection.covariates.categories == {"site": ["s_a", "s_b", "s_c"]}
    rows = np.array([0, 1, 2, 47, 48, 79])
    both = pd.concat([a.obs for a in adatas])
    tensors = collection.minibatch(sparse.csr_matrix((len(rows), len(GENES))), rows)
    sites = np.array(["s_a", "s_b", "s_c"])[tensors[REGISTRY_KEYS.CAT_COVS_KEY][:, 0].numpy()]
    assert sites.tolist() == both["site"].to_numpy()[rows].tolist()
    np.testing.assert_allclose(
        tensors[REGISTRY_KEYS.CONT_COVS_KEY][:, 0].numpy(), both["depth"].to_numpy()[rows]
    )
    schema = collection.schema_anndata()
    assert list(schema.obs["site"].cat.categories) == ["s_a", "s_b", "s_c"]
    assert schema.obs["depth"].dtype == np.float32
    assert "covariates ['site', 'depth']" in repr(collection)


def test_model_trains_from_disk_with_covariates_and_embeds_like_in_memory(files):
    paths, _ = files
    collection = AnnDataCollection(paths, batch_key="donor", **COVARIATES)
    schema = collection.schema_anndata()
    MaskedAE.setup_anndata(schema, batch_key="donor", **COVARIATES)
    model = MaskedAE(schema, n_latent=4, n_hidden=16, encode_covariates=True)
    model.train(datamodule=CollectionDataModule(collection, batch_size=16), max_epochs=2)
    streamed = model.get_latent_representation(collection, batch_size=16)
    in_memory = collection._cells_anndata([Block(0, 0, 48), Block(1, 0, 32)])
    MaskedAE.setup_anndata(in_memory, batch_key="donor", **COVARIATES)
    np.testing.assert_allclose(streamed, model.get_latent_representation(in_memory), atol=1e-5)
    # the covariates reach the encoder: other sites give other embeddings
    shuffled = in_memory.copy()
    shuffled.obs["site"] = pd.Categorical(
        np.roll(in_memory.obs["site"].to_numpy(), 1), categories=["s_a", "s_b", "s_c"]
    )
    assert not np.allclose(model.get_latent_representation(shuffled), streamed, atol=1e-4)

    # a collection of the second file alone has one site (code 0 there, 2 in the model)
    second = AnnDataCollection(paths[1:], batch_key="donor", **COVARIATES)
    assert second.covariates.categories == {"site": ["s_c"]}
    np.testing.assert_allclose(model.get_latent_representation(second), streamed[48:], atol=1e-5)
    # ... but training on it would pass its codes unmapped: refused
    with pytest.raises(ValueError, match="schema_anndata"):
        model.train(datamodule=CollectionDataModule(second, batch_size=16), max_epochs=1)


def test_covariates_must_match_the_model(files):
    paths, _ = files
    collection = AnnDataCollection(paths, batch_key="donor", **COVARIATES)
    plain = AnnDataCollection(paths, batch_key="donor")
    schema = plain.schema_anndata()
    MaskedAE.setup_anndata(schema, batch_key="donor")
    model = MaskedAE(schema, n_latent=4, n_hidden=16)
    with pytest.raises(ValueError, match="schema_anndata"):
        model.train(datamodule=CollectionDataModule(collection, batch_size=16), max_epochs=1)
    with pytest.raises(ValueError, match="categorical_covariate_keys="):
        model.get_latent_representation(collection)


def test_bad_covariate_columns_are_refused_before_reading(files, tmp_path):
    paths, adatas = files
    with pytest.raises(KeyError, match="categorical_covariate_keys='tissue'"):
        AnnDataCollection(paths, categorical_covariate_keys=["tissue"])
    with pytest.raises(TypeError, match="not numeric"):
        AnnDataCollection(paths, continuous_covariate_keys=["site"])
    with pytest.raises(ValueError, match="given twice"):
        AnnDataCollection(paths, batch_key="donor", categorical_covariate_keys=["donor"])
    broken = adatas[1].copy()
    broken.obs["depth"] = broken.obs["depth"].astype(float)
    broken.obs.iloc[3, broken.obs.columns.get_loc("depth")] = np.nan
    broken.write_h5ad(tmp_path / "nan.h5ad")
    with pytest.raises(ValueError, match="missing values"):
        AnnDataCollection([paths[0], tmp_path / "nan.h5ad"], continuous_covariate_keys=["depth"])


def test_pretrain_with_covariates_from_the_command_line_then_map(files, tmp_path, capsys):
    import json

    from scssl import cli

    paths, _ = files
    reference = tmp_path / "ref"
    argv = ["pretrain", "--input", *map(str, paths), "--batch-key", "donor", "--output"]
    argv += [str(reference), "--max-epochs", "1", "--batch-size", "16", "--n-top-genes", "0"]
    argv += ["--categorical-covariate-keys", "site", "--continuous-covariate-keys", "depth"]
    assert cli.main(argv + ["--precision", "bf16-mixed"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["precision"] == "bf16-mixed"
    assert manifest["categorical_covariate_keys"] == ["site"]
    assert manifest["continuous_covariate_keys"] == ["depth"]
    _file(tmp_path / "query.h5ad", 20, "d3", ["s_a", "s_new"], 5)
    argv = ["map", "--reference", str(reference), "--query", str(tmp_path / "query.h5ad")]
    assert cli.main(argv + ["--output", str(tmp_path / "mapped.h5ad")]) == 0
    mapped = anndata.read_h5ad(tmp_path / "mapped.h5ad")
    assert mapped.n_obs == 20 and np.isfinite(mapped.obsm["X_scssl"]).all()

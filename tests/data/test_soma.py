"""TileDB-SOMA through scvi-tools' TileDBDataModule: train an scssl model, stream its embedding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

import scssl

pytest.importorskip("tiledbsoma")
pytest.importorskip("tiledbsoma_ml")
import tiledbsoma  # noqa: E402
import tiledbsoma.io  # noqa: E402
from scvi.dataloaders import TileDBDataModule  # noqa: E402


def test_masked_ae_trains_from_a_soma_store_and_embeds_like_in_memory(tmp_path, baron_small):
    adata = baron_small.copy()
    adata.X = sparse.csr_matrix(adata.X, dtype=np.float32)
    adata.obs = adata.obs[["donor"]].astype(str)
    uri = str(tmp_path / "baron.soma")
    tiledbsoma.io.from_anndata(uri, adata, measurement_name="RNA")
    with tiledbsoma.Experiment.open(uri) as experiment:
        query = experiment.axis_query("RNA")
        train = TileDBDataModule(
            query, layer_name="data", batch_size=64, shuffle=True, batch_column_names=["donor"]
        )
        schema = scssl.data.soma_schema_anndata(train)
        assert schema.var_names.tolist() == adata.var_names.tolist()
        assert schema.obs["donor"].cat.categories.tolist() == sorted(adata.obs.donor.unique())
        scssl.model.MaskedAE.setup_anndata(schema, batch_key="donor")
        model = scssl.model.MaskedAE(schema, n_latent=4, n_hidden=16, encode_covariates=True)
        model.train(datamodule=train, max_epochs=2)
        assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()
        ordered = TileDBDataModule(
            query, layer_name="data", batch_size=64, shuffle=False, batch_column_names=["donor"]
        )
        ordered.setup()
        streamed = model.get_latent_representation(dataloader=ordered.inference_dataloader())
    scssl.model.MaskedAE.setup_anndata(adata, batch_key="donor")
    np.testing.assert_allclose(streamed, model.get_latent_representation(adata), atol=1e-4)

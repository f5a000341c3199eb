"""Model files that cannot run code: the safe format, the refusal of pickles, the hash."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scvi.model.base import BaseModelClass

from scssl.model import MaskedAE, UnsafeModelFileError


class _Payload:
    """Unpickling this creates the file ``path``: what a malicious model.pt could do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def trained(tiny_counts_module):
    adata = tiny_counts_module
    MaskedAE.setup_anndata(adata, batch_key="batch")
    model = MaskedAE(adata, n_latent=3, n_hidden=16)
    model.train(max_epochs=1)
    return model, adata


@pytest.fixture(scope="module")
def tiny_counts_module():
    from anndata import AnnData

    rng = np.random.default_rng(0)
    adata = AnnData(rng.poisson(2.0, size=(80, 30)).astype(np.float32))
    adata.obs["batch"] = np.tile(["a", "b"], 40)
    adata.var_names = [f"g{i}" for i in range(30)]
    return adata


def _malicious_folder(folder, marker, var_names):
    folder.mkdir()
    torch.save(
        {"model_state_dict": {}, "var_names": np.asarray(var_names), "attr_dict": _Payload(marker)},
        folder / "model.pt",
    )


def test_a_pickled_model_file_is_refused_and_runs_nothing(trained, tmp_path):
    model, adata = trained
    marker = tmp_path / "payload_ran"
    folder = tmp_path / "evil"
    _malicious_folder(folder, marker, adata.var_names)
    with pytest.raises(UnsafeModelFileError, match="trust_file=True"):
        MaskedAE.load(str(folder), adata=adata)
    query = adata[:10].copy()
    with pytest.raises(UnsafeModelFileError):
        MaskedAE.prepare_query_anndata(query, str(folder))
    with pytest.raises(UnsafeModelFileError):
        MaskedAE.load_query_data(query, str(folder))
    with pytest.raises(UnsafeModelFileError):
        MaskedAE.load(str(folder))  # no AnnData given: the folder's own would be read
    assert not marker.exists()  # nothing was unpickled


def test_scssl_files_are_tensors_and_json_and_load_equal(trained, tmp_path):
    model, adata = trained
    model.save(str(tmp_path / "m"))
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["model_tensors.pt", "scssl_model.json"]
    torch.load(tmp_path / "m" / "model_tensors.pt", weights_only=True)  # tensors only
    manifest = json.loads((tmp_path / "m" / "scssl_model.json").read_text())
    assert manifest["format"] == "scssl-model-1" and len(manifest["sha256"]) == 64
    loaded = MaskedAE.load(str(tmp_path / "m"), adata=adata)
    np.testing.assert_allclose(
        loaded.get_latent_representation(), model.get_latent_representation(), atol=1e-6
    )
    assert loaded.history["train_loss"].equals(model.history["train_loss"])
    np.testing.assert_array_equal(loaded.validation_indices, model.validation_indices)


def test_changed_files_fail_the_hash(trained, tmp_path):
    model, adata = trained
    model.save(str(tmp_path / "m"))
    path = tmp_path / "m" / "scssl_model.json"
    manifest = json.loads(path.read_text())
    manifest["attributes"]["is_trained_"] = False
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="SHA-256"):
        MaskedAE.load(str(tmp_path / "m"), adata=adata)


def test_a_trusted_scvi_format_file_still_loads_with_trust_file(trained, tmp_path):
    model, adata = trained
    BaseModelClass.save(model, str(tmp_path / "scvi_format"))  # scvi-tools' own pickle
    with pytest.raises(UnsafeModelFileError):
        MaskedAE.load(str(tmp_path / "scvi_format"), adata=adata)
    loaded = MaskedAE.load(str(tmp_path / "scvi_format"), adata=adata, trust_file=True)
    np.testing.assert_allclose(
        loaded.get_latent_representation(), model.get_latent_representation(), atol=1e-6
    )
    # saved again by scssl, the same model is a safe file, and the pickle is gone
    loaded.save(str(tmp_path / "scvi_format"), overwrite=True)
    assert not (tmp_path / "scvi_format" / "model.pt").exists()
    MaskedAE.load(str(tmp_path / "scvi_format"), adata=adata)

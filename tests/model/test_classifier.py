from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scvi
import torch
from scvi import REGISTRY_KEYS

import scssl
from scssl.model import CellTypeClassifier, MaskedAE
from scssl.model._pretrained import balanced_class_weights
from scssl.train import FineTuningPlan

TINY = {"n_latent": 8, "n_hidden": 32, "n_layers": 1}
QUIET = {"enable_progress_bar": False}


@pytest.fixture(scope="module")
def pretrained(baron_small):
    scvi.settings.seed = 0  # module fixtures run before the autouse per-test seed
    adata = baron_small.copy()
    MaskedAE.setup_anndata(adata, batch_key="donor")
    model = MaskedAE(adata, **TINY)
    model.train(max_epochs=2, batch_size=64, **QUIET)
    return model, adata


def scarce(adata, donor="human1"):
    adata = adata.copy()
    adata.obs["label"] = adata.obs.cell_type1.astype(str).where(adata.obs.donor == donor, "Unknown")
    return adata


def encoder_state(module) -> dict:
    return {k: v.detach().clone() for k, v in module.z_encoder.state_dict().items()}


def test_linear_probe_keeps_encoder(pretrained):
    ssl, adata = pretrained
    adata = scarce(adata)
    clf = CellTypeClassifier.from_pretrained(ssl, adata, labels_key="label", freeze_encoder=True)
    for key, value in encoder_state(ssl.module).items():
        assert torch.equal(clf.module.z_encoder.state_dict()[key], value)
    head_before = clf.module.head[-1].layers[-1].weight.detach().clone()
    before = encoder_state(clf.module)
    clf.train(max_epochs=3, **QUIET)
    assert all(not p.requires_grad for p in clf.module.z_encoder.parameters())
    for key, value in encoder_state(clf.module).items():
        assert torch.equal(value, before[key])
    assert not torch.equal(clf.module.head[-1].layers[-1].weight, head_before)
    # only labelled cells were used for training or validation
    labelled = set(np.flatnonzero(adata.obs["label"] != "Unknown"))
    assert set(clf.train_indices) | set(clf.validation_indices) <= labelled
    assert "accuracy_train" in clf.history


def test_finetuning_moves_encoder_at_smaller_rate(pretrained):
    ssl, adata = pretrained
    clf = CellTypeClassifier.from_pretrained(ssl, scarce(adata), labels_key="label")
    before = encoder_state(clf.module)
    clf.train(max_epochs=2, encoder_lr_ratio=0.1, **QUIET)
    assert any(not torch.equal(v, before[k]) for k, v in encoder_state(clf.module).items())
    plan = FineTuningPlan(clf.module, lr=1e-2, encoder_lr_ratio=0.1)
    groups = plan.configure_optimizers()["optimizer"].param_groups
    assert [g["lr"] for g in groups] == pytest.approx([1e-2, 1e-3])
    n_encoder = sum(p.numel() for p in clf.module.z_encoder.parameters())
    assert sum(p.numel() for p in groups[1]["params"]) == n_encoder


def test_scratch_has_same_architecture_other_weights(pretrained):
    ssl, adata = pretrained
    clf = CellTypeClassifier.from_pretrained(
        ssl, scarce(adata), labels_key="label", load_weights=False
    )
    ours, theirs = clf.module.z_encoder.state_dict(), ssl.module.z_encoder.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(ours[k].shape == theirs[k].shape for k in ours)
    assert not torch.equal(ours["output.weight"], theirs["output.weight"])
    assert clf.pretrained_from_ is None


def test_unlabelled_cells_do_not_enter_the_loss(pretrained):
    ssl, adata = pretrained
    clf = CellTypeClassifier.from_pretrained(ssl, scarce(adata), labels_key="label")
    module = clf.module.eval()
    tensors = next(iter(clf._make_data_loader(adata=clf.adata, batch_size=200)))
    labels = tensors[REGISTRY_KEYS.LABELS_KEY]
    labelled = labels.view(-1) < module.n_labels
    assert 0 < labelled.sum() < len(labelled)
    with torch.no_grad():
        _, _, full = module(tensors)
        only = {k: (v[labelled] if v is not None else v) for k, v in tensors.items()}
        _, _, reduced = module(only)
    assert full.loss.item() == pytest.approx(reduced.loss.item(), rel=1e-5)


def test_class_weights_balanced(pretrained):
    ssl, adata = pretrained
    adata = scarce(adata)
    clf = CellTypeClassifier.from_pretrained(ssl, adata, labels_key="label")
    counts = adata.obs["label"][adata.obs["label"] != "Unknown"].value_counts()
    weights = dict(zip(clf.classes_, clf.module.class_weights.tolist()))
    rarest, commonest = counts.index[-1], counts.index[0]
    assert weights[rarest] > weights[commonest]
    expected = counts.sum() / (len(counts) * counts.iloc[0])
    assert weights[commonest] == pytest.approx(expected, rel=1e-5)
    assert balanced_class_weights(np.array([30, 10, 0])) == [0.666667, 2.0, 0.0]
    plain = CellTypeClassifier.from_pretrained(ssl, adata, labels_key="label", class_weight=None)
    assert torch.all(plain.module.class_weights == 1)


def test_predict_save_load_and_real_signal(pretrained, tmp_path):
    ssl, adata = pretrained
    adata = adata.copy()
    held_out = (adata.obs.donor == "human4").to_numpy()
    adata.obs["label"] = adata.obs.cell_type1.astype(str).where(~held_out, "Unknown")
    clf = CellTypeClassifier.from_pretrained(ssl, adata, labels_key="label", freeze_encoder=False)
    clf.train(max_epochs=40, **QUIET)
    hard = clf.predict()
    soft = clf.predict(soft=True)
    assert hard.shape == (adata.n_obs,)
    assert set(hard) <= set(clf.classes_)
    assert "Unknown" not in clf.classes_
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)
    assert (soft.idxmax(axis=1).to_numpy() == hard).all()
    truth = adata.obs.cell_type1.astype(str).to_numpy()
    report = scssl.metrics.classification_report(truth[held_out], hard[held_out])
    # a donor never seen with labels: clearly better than always calling its commonest type
    majority = pd.Series(truth[held_out]).value_counts(normalize=True).iloc[0]
    assert report.accuracy > majority + 0.1

    clf.save(str(tmp_path / "clf"), overwrite=True)
    loaded = CellTypeClassifier.load(str(tmp_path / "clf"), adata=adata)
    np.testing.assert_allclose(loaded.predict(soft=True).to_numpy(), soft.to_numpy(), atol=1e-6)
    assert list(loaded.classes_) == list(clf.classes_)


def test_from_pretrained_input_errors(pretrained):
    ssl, adata = pretrained
    bad = scarce(adata)
    bad.obs.loc[bad.obs_names[0], "label"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        CellTypeClassifier.from_pretrained(ssl, bad, labels_key="label")
    one = adata.copy()
    one.obs["label"] = np.where(np.arange(one.n_obs) < 10, "beta", "Unknown")
    with pytest.raises(ValueError, match="at least two"):
        CellTypeClassifier.from_pretrained(ssl, one, labels_key="label")
    with pytest.raises(ValueError, match="genes differ"):
        CellTypeClassifier.from_pretrained(ssl, scarce(adata)[:, ::-1].copy(), labels_key="label")
    with pytest.raises(KeyError, match="labels_key"):
        CellTypeClassifier.from_pretrained(ssl, adata.copy(), labels_key="nope")
    with pytest.raises(TypeError, match="DeterministicEncoder"):
        CellTypeClassifier.from_pretrained(object(), adata.copy(), labels_key="cell_type1")


def test_batch_categories_must_match_encoder(baron_small):
    adata = baron_small.copy()
    MaskedAE.setup_anndata(adata, batch_key="donor")
    ssl = MaskedAE(adata, encode_covariates=True, **TINY)
    ssl.train(max_epochs=1, **QUIET)
    other = scarce(adata)
    reversed_categories = list(other.obs.donor.cat.categories)[::-1]
    other.obs["donor"] = pd.Categorical(other.obs.donor.astype(str), reversed_categories)
    with pytest.raises(ValueError, match="categories"):
        CellTypeClassifier.from_pretrained(ssl, other, labels_key="label")
    ok = CellTypeClassifier.from_pretrained(ssl, scarce(adata), labels_key="label")
    assert ok.module.encode_covariates

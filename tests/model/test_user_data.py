"""Nothing the user gave is changed beyond the documented keys (issue 15, item 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from scssl.model import CellTypeClassifier, Contrastive, MaskedAE

#: what scvi-tools' registration adds (documented in docs/guide/bad_inputs.md)
SCVI_OBS = {"_scvi_batch", "_scvi_labels"}
SCVI_UNS = {"_scvi_uuid", "_scvi_manager_uuid"}
SCVI_OBSM = {"_scvi_extra_continuous_covs", "_scvi_extra_categorical_covs"}


def _snapshot(adata: AnnData) -> dict:
    return {
        "X": adata.X.copy(),
        "layers": {k: v.copy() for k, v in adata.layers.items()},
        "obs": adata.obs.copy(),
        "var": adata.var.copy(),
        "obsm": set(adata.obsm),
        "uns": set(adata.uns),
        "names": (adata.obs_names.copy(), adata.var_names.copy()),
    }


def _assert_unchanged(adata: AnnData, before: dict, *, registered: bool) -> None:
    assert (adata.X != before["X"]).nnz == 0
    assert adata.X.dtype == before["X"].dtype
    assert set(adata.layers) == set(before["layers"])
    assert adata.obs_names.equals(before["names"][0]) and adata.var_names.equals(before["names"][1])
    added_obs = set(adata.obs.columns) - set(before["obs"].columns)
    assert added_obs <= (SCVI_OBS if registered else set())
    pd.testing.assert_frame_equal(adata.obs[before["obs"].columns], before["obs"])
    pd.testing.assert_frame_equal(adata.var, before["var"])
    assert set(adata.obsm) - before["obsm"] <= (SCVI_OBSM if registered else set())
    assert set(adata.uns) - before["uns"] <= (SCVI_UNS if registered else set())


def test_setup_train_embed_predict_change_only_registration_keys(tiny_counts):
    adata = tiny_counts.copy()
    before = _snapshot(adata)
    MaskedAE.setup_anndata(adata, batch_key="batch", continuous_covariate_keys=["age"])
    model = MaskedAE(adata, n_latent=3, n_hidden=8)
    model.train(max_epochs=1)
    model.get_latent_representation()
    model.get_normalized_expression()
    model.get_masked_reconstruction()
    _assert_unchanged(adata, before, registered=True)

    clf_data = tiny_counts.copy()
    clf_before = _snapshot(clf_data)
    clf = CellTypeClassifier.from_pretrained(model, clf_data, labels_key="label")
    clf.train(max_epochs=1)
    clf.predict()
    _assert_unchanged(clf_data, clf_before, registered=True)


def test_a_failed_setup_or_contrastive_training_leaves_no_trace(tiny_counts):
    adata = tiny_counts.copy()
    adata.obs.loc[adata.obs_names[0], "age"] = np.nan
    before = _snapshot(adata)
    try:
        Contrastive.setup_anndata(adata, continuous_covariate_keys=["age"])
    except ValueError:
        pass
    _assert_unchanged(adata, before, registered=False)
    adata = tiny_counts.copy()
    before = _snapshot(adata)
    Contrastive.setup_anndata(adata, batch_key="batch")
    model = Contrastive(adata, n_latent=3, n_hidden=8)
    model.train(max_epochs=1)
    model.get_latent_representation()
    _assert_unchanged(adata, before, registered=True)

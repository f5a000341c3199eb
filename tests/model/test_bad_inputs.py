"""Bad inputs answered before any training by an error naming the object and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import sparse

from scssl.model import Contrastive, MaskedAE


def _nan_covariate(a):
    a.obs.loc[a.obs_names[3], "age"] = np.nan
    return {"continuous_covariate_keys": ["age"]}


def _nan_batch(a):
    a.obs["batch"] = a.obs["batch"].astype(object)
    a.obs.loc[a.obs_names[0], "batch"] = None
    return {"batch_key": "batch"}


def _float_batch(a):
    a.obs["depth"] = np.random.default_rng(0).normal(size=a.n_obs)
    return {"batch_key": "depth"}


def _string_for_list(a):
    return {"categorical_covariate_keys": "batch"}


def _duplicated_genes(a):
    a.var_names = ["g0"] * 2 + list(a.var_names[2:])
    return {}


def _duplicated_cells(a):
    a.obs_names = ["c0"] * 2 + list(a.obs_names[2:])
    return {}


def _all_zero_sparse(a):
    a.X = sparse.csr_matrix(a.shape, dtype=np.float32)
    return {}


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (_nan_covariate, ValueError, r"obs\['age'\].*NaN or infinite"),
        (_nan_batch, ValueError, r"obs\['batch'\] \(batch_key\) has 1 missing values \(NaN\)"),
        (_float_batch, ValueError, r"float column with 60 distinct values"),
        (_string_for_list, TypeError, r"categorical_covariate_keys takes a list.*\['batch'\]"),
        (_duplicated_genes, ValueError, r"duplicated gene names.*var_names_make_unique"),
        (_duplicated_cells, ValueError, r"duplicated cell names.*obs_names_make_unique"),
        (_all_zero_sparse, ValueError, r"holds only zeros"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_setup_refuses(tiny_counts, make, error, match):
    adata = tiny_counts.copy()
    setup = make(adata)
    with pytest.raises(error, match=match):
        MaskedAE.setup_anndata(adata, **setup)


@pytest.mark.parametrize("argument", ["n_latent", "n_hidden", "n_layers"])
def test_zero_sizes_are_refused(tiny_counts, argument):
    MaskedAE.setup_anndata(tiny_counts)
    with pytest.raises(ValueError, match=f"{argument} must be at least 1"):
        MaskedAE(tiny_counts, **{argument: 0})


@pytest.mark.parametrize(("argument", "value"), [("batch_size", 0), ("max_epochs", 0)])
def test_train_refuses_empty_budgets(tiny_counts, argument, value):
    MaskedAE.setup_anndata(tiny_counts)
    model = MaskedAE(tiny_counts, n_latent=3, n_hidden=8)
    with pytest.raises(ValueError, match=f"{argument} must be at least 1"):
        model.train(**{argument: value})
    assert not model.is_trained


def test_genes_in_another_order_or_renamed_are_refused(tiny_counts):
    MaskedAE.setup_anndata(tiny_counts)
    model = MaskedAE(tiny_counts, n_latent=3, n_hidden=8)
    model.train(max_epochs=1)
    reordered = tiny_counts[:, tiny_counts.var_names[::-1]].copy()
    with pytest.raises(ValueError, match="another order"):
        model.get_latent_representation(reordered)
    renamed = tiny_counts.copy()
    renamed.var_names = [f"x{i}" for i in range(renamed.n_vars)]
    with pytest.raises(ValueError, match="prepare_query_anndata"):
        model.get_normalized_expression(renamed)
    # the genes in the model's order are fine
    fixed = reordered[:, model.adata.var_names].copy()
    np.testing.assert_allclose(
        model.get_latent_representation(fixed), model.get_latent_representation(), atol=1e-6
    )


def _dropout_modes(module) -> list[bool]:
    """Record whether each dropout layer is in training mode at every forward call."""
    modes: list[bool] = []
    for layer in module.modules():
        if isinstance(layer, torch.nn.Dropout) and layer.p > 0:
            layer.register_forward_pre_hook(lambda m, _: modes.append(m.training))
    return modes


@pytest.mark.parametrize("model_cls", [MaskedAE, Contrastive])
def test_every_train_call_trains_with_dropout_on(tiny_counts, model_cls, tmp_path):
    model_cls.setup_anndata(tiny_counts)
    model = model_cls(tiny_counts, n_latent=3, n_hidden=8)
    model.train(max_epochs=1, train_size=1.0)
    modes = _dropout_modes(model.module)
    model.train(max_epochs=1, train_size=1.0)  # a second call
    assert modes and all(modes)
    model.save(str(tmp_path / "m"))
    loaded = model_cls.load(str(tmp_path / "m"), adata=tiny_counts)
    modes = _dropout_modes(loaded.module)
    loaded.train(max_epochs=1, train_size=1.0)  # training after load
    assert modes and all(modes)


def test_training_is_quiet_unless_verbose(tiny_counts, caplog):
    import logging

    MaskedAE.setup_anndata(tiny_counts)
    model = MaskedAE(tiny_counts, n_latent=3, n_hidden=8)
    caplog.set_level(logging.INFO, logger="lightning.pytorch")
    model.train(max_epochs=1)
    assert not [r for r in caplog.records if r.name.startswith("lightning")]
    model.train(max_epochs=1, verbose=True)
    assert any("GPU available" in r.getMessage() for r in caplog.records)
    assert logging.getLogger("lightning.pytorch").level == logging.INFO  # restored


def test_more_inputs_refused_with_a_reason(tiny_counts, tmp_path):
    import gzip

    import anndata
    import pandas as pd

    import scssl

    # a backed AnnData's counts are checked chunk by chunk, not called "non-numeric"
    tiny_counts.write_h5ad(tmp_path / "c.h5ad")
    backed = anndata.read_h5ad(tmp_path / "c.h5ad", backed="r")
    scssl.data.check_raw_counts(backed)
    # a gzip-compressed GMT without .gz
    gmt = tmp_path / "sets.gmt"
    gmt.write_bytes(gzip.compress(b"A\tdesc\tG1\tG2\n"))
    with pytest.raises(ValueError, match="gzip-compressed"):
        scssl.data.read_gmt(gmt)
    # mnn_pairs with a NaN batch
    adata = tiny_counts.copy()
    adata.obs["batch"] = adata.obs["batch"].astype(object)
    adata.obs.loc[adata.obs_names[0], "batch"] = None
    with pytest.raises(ValueError, match="missing values"):
        scssl.tl.mnn_pairs(adata, batch_key="batch")
    # raw counts given to the drug-response model, which expects scaled values
    counts = anndata.AnnData(
        tiny_counts.X.toarray(),
        obs=pd.DataFrame(
            {
                "domain": ["bulk"] * 30 + ["sc"] * 30,
                "response": [0.0, 1.0] * 15 + [np.nan] * 30,
            },
            index=tiny_counts.obs_names,
        ),
    )
    with pytest.raises(ValueError, match="holds raw counts"):
        scssl.model.DrugResponseTransfer.setup_anndata(counts)


@pytest.mark.parametrize(
    ("model_cls", "kwargs", "match"),
    [
        (MaskedAE, {"mask_ratio": 1.5}, "mask_ratio"),
        (MaskedAE, {"programme_fraction": 2.0}, "programme_fraction"),
        (MaskedAE, {"decoder_gene_fraction": 0.0}, "decoder_gene_fraction"),
        (MaskedAE, {"dropout_rate": 1.2}, "dropout"),
        (Contrastive, {"temperature": 0.0}, "temperature"),
        (Contrastive, {"thinning_prob": -1.0}, "thinning_prob"),
        (Contrastive, {"mask_fraction": 1.5}, "mask_fraction"),
        (Contrastive, {"noise_std": -1.0}, "std"),
        (Contrastive, {"base_momentum": 1.5}, "base_momentum"),
        (Contrastive, {"knn_prob": 1.5}, "knn_prob"),
        (Contrastive, {"mnn_prob": -0.1}, "mnn_prob"),
        (Contrastive, {"hard_negative_fraction": 1.5}, "hard_negative_fraction"),
    ],
)
def test_out_of_range_hyperparameters_are_refused_by_name(tiny_counts, model_cls, kwargs, match):
    adata = tiny_counts.copy()
    n = adata.n_obs
    adata.obs["batch"] = np.where(np.arange(n) % 2 == 0, "a", "b")
    # partners for the pairing arguments, so that only the value itself is wrong
    adata.obsm["knn"] = np.stack([(np.arange(n) + 2) % n, (np.arange(n) + 4) % n], axis=1)
    adata.obs["mnn"] = (np.arange(n) + 1) % n  # the next cell: always the other batch
    setup = {"batch_key": "batch"}
    if model_cls is Contrastive:
        setup |= {"knn_key": "knn", "mnn_key": "mnn"}
    model_cls.setup_anndata(adata, **setup)
    with pytest.raises(ValueError, match=match):
        model_cls(adata, **kwargs)

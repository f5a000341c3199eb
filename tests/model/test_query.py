"""scArches-style reference mapping for every scssl model with QueryMappingMixin.

In the spirit of scvi-tools' ``test_scvi_online_update``: after query training
the reference weights are unchanged and get zero gradients, the query model
saves and loads, and the reference cells' embedding is unchanged.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from scvi import REGISTRY_KEYS

import scssl
from scssl.model import QueryMappingMixin

MODELS = [
    obj
    for name in scssl.model.__all__
    if isinstance(obj := getattr(scssl.model, name), type)
    and issubclass(obj, QueryMappingMixin)
    and obj is not QueryMappingMixin
    # needs protein counts: its RNA-only query mapping is tested in test_multimodal.py
    and obj is not scssl.model.MultimodalMAE
]
TINY = {"n_latent": 8, "n_hidden": 32, "n_layers": 1, "encode_covariates": True}
# every mixin model with its defaults, plus BYOL, whose momentum network must stay frozen too
CASES = [(cls, {}) for cls in MODELS] + [(scssl.model.Contrastive, {"method": "byol"})]


def tiny_kwargs(model_cls) -> dict:
    accepted = inspect.signature(model_cls.__init__).parameters
    return {k: v for k, v in TINY.items() if k in accepted}


def split(adata):
    ref = adata[adata.obs.donor != "human4"].copy()
    query = adata[adata.obs.donor == "human4"].copy()
    return ref, query


@pytest.fixture(
    scope="module",
    params=CASES,
    ids=lambda case: "-".join([case[0].__name__, *map(str, case[1].values())]),
)
def reference(request, baron_small):
    model_cls, extra = request.param
    ref, query = split(baron_small)
    model_cls.setup_anndata(ref, batch_key="donor", labels_key="cell_type1")
    model = model_cls(ref, **tiny_kwargs(model_cls), **extra)
    model.train(max_epochs=1, batch_size=64, enable_progress_bar=False)
    return model_cls, model, ref, query


def test_discovers_models():
    assert {scssl.model.MaskedAE, scssl.model.Contrastive, scssl.model.MaskedContrastive} <= set(
        MODELS
    )


def test_online_update(reference, tmp_path):
    model_cls, ref_model, ref, query = reference
    query = query.copy()
    query.obs["cell_type1"] = "Unknown"  # labels of the query are not needed
    z_ref = ref_model.get_latent_representation(ref)
    ref_state = {k: v.detach().clone() for k, v in ref_model.module.state_dict().items()}
    ref_model.save(str(tmp_path / "ref"), overwrite=True)

    # shuffled genes and 10 missing ones: reordered and zero-filled
    dropped = query.var_names[:10]
    query = query[:, query.var_names[10:][::-1]].copy()
    model_cls.prepare_query_anndata(query, tmp_path / "ref")  # a Path works
    assert query.var_names.equals(ref.var_names)
    assert query[:, dropped].X.sum() == 0
    assert query.uns["scssl_query_genes"]["n_shared"] == ref.n_vars - 10

    query_model = model_cls.load_query_data(query, ref_model)
    assert query_model.query_mapping_["new_batches"] == ["human4"]
    assert query_model.query_mapping_["n_missing_genes"] == 10
    assert query_model.summary_stats.n_batch == 4
    z_query_before = query_model.get_latent_representation()
    initial = {k: v.detach().clone() for k, v in query_model.module.state_dict().items()}
    query_model.train(max_epochs=2, batch_size=64, enable_progress_bar=False)

    # reference weights unchanged: only the new batch columns may move
    changed_new = False
    for name, value in query_model.module.state_dict().items():
        old = ref_state[name]
        part = value[tuple(slice(0, n) for n in old.shape)]
        assert torch.equal(part, old), f"reference weights changed in {name}"
        if value.shape != old.shape:
            changed_new |= not torch.equal(value, initial[name])
    assert changed_new, "query training changed no covariate parameter"

    # gradients of reference weights are zero on a query minibatch
    module = query_model.module
    module.zero_grad(set_to_none=True)
    tensors = next(iter(query_model._make_data_loader(adata=query, batch_size=64)))
    _, _, loss_output = module(tensors)
    loss_output.loss.backward()
    for name, parameter in module.named_parameters():
        # a gene-major first layer stores weight_t, its state-dict entry is weight.T
        old = (
            ref_state[name.removesuffix("_t")].T if name.endswith(".weight_t") else ref_state[name]
        )
        if parameter.grad is None:
            assert not parameter.requires_grad or parameter.shape == old.shape
            continue
        part = parameter.grad[tuple(slice(0, n) for n in old.shape)]
        assert torch.count_nonzero(part) == 0, f"reference weights get gradient in {name}"

    # reference cells embed as before; query cells have moved
    z_ref_after = query_model.get_latent_representation(ref)
    np.testing.assert_allclose(z_ref_after, z_ref, atol=1e-5)
    z_query = query_model.get_latent_representation()
    assert not np.allclose(z_query, z_query_before)

    # save / load round trip
    query_model.save(str(tmp_path / "query"), overwrite=True)
    loaded = model_cls.load(str(tmp_path / "query"), adata=query)
    np.testing.assert_allclose(loaded.get_latent_representation(), z_query, atol=1e-6)
    assert loaded.query_mapping_["new_batches"] == ["human4"]


def test_unfrozen_trains_everything(reference):
    model_cls, ref_model, _, query = reference
    query = query.copy()
    query_model = model_cls.load_query_data(query, ref_model, unfrozen=True)
    assert all(p.requires_grad for p in query_model.module.parameters())
    assert query_model.query_mapping_["frozen"] is False


def test_gene_overlap_warning_and_floor(reference):
    model_cls, ref_model, ref, query = reference
    n = ref.n_vars
    low = query[:, query.var_names[: int(0.7 * n)]].copy()
    with pytest.warns(UserWarning, match="70% of the reference genes"):
        model_cls.prepare_query_anndata(low, ref_model)
    assert low.n_vars == n
    too_low = query[:, query.var_names[: int(0.3 * n)]].copy()
    with pytest.raises(ValueError, match="too few reference genes"):
        model_cls.prepare_query_anndata(too_low, ref_model)
    with pytest.raises(ValueError, match="too few"):
        model_cls.prepare_query_anndata(
            query[:, query.var_names[:-10]].copy(), ref_model, min_gene_overlap=0.99
        )
    names = model_cls.prepare_query_anndata(query, ref_model, return_reference_var_names=True)
    assert names.equals(ref.var_names)


def test_load_query_data_checks_inputs(reference):
    model_cls, ref_model, _, query = reference
    shuffled = query[:, query.var_names[::-1]].copy()
    with pytest.raises(ValueError, match="prepare_query_anndata"):
        model_cls.load_query_data(shuffled, ref_model)
    no_batch = query.copy()
    del no_batch.obs["donor"]
    with pytest.raises(ValueError, match="donor"):
        model_cls.load_query_data(no_batch, ref_model)
    with pytest.raises(TypeError, match="reference_model"):
        model_cls.load_query_data(query.copy(), 42)


def test_reference_batches_keep_codes(reference):
    model_cls, ref_model, ref, query = reference
    query_model = model_cls.load_query_data(query.copy(), ref_model)
    mapping = list(
        query_model.adata_manager.get_state_registry(REGISTRY_KEYS.BATCH_KEY)["categorical_mapping"]
    )
    assert mapping[:3] == list(ref.obs.donor.cat.categories)
    assert mapping[3] == "human4"


@pytest.mark.parametrize("path_type", [str, Path])
def test_prepare_accepts_paths(reference, tmp_path, path_type):
    model_cls, ref_model, ref, query = reference
    ref_model.save(str(tmp_path / "ref"), overwrite=True)
    out = model_cls.prepare_query_anndata(query, path_type(tmp_path / "ref"), inplace=False)
    assert out.var_names.equals(ref.var_names)


def test_query_of_a_knn_positive_reference(baron_small):
    """A reference trained with kNN positive views maps a query with its own neighbours."""
    ref, query = split(baron_small)
    scssl.tl.knn_pairs(ref, k=5)
    scssl.model.Contrastive.setup_anndata(ref, batch_key="donor", knn_key="scssl_knn_partners")
    model = scssl.model.Contrastive(ref, knn_prob=0.5, **tiny_kwargs(scssl.model.Contrastive))
    model.train(max_epochs=1, batch_size=64, enable_progress_bar=False)
    with pytest.raises(ValueError, match="knn_pairs"):
        scssl.model.Contrastive.load_query_data(query.copy(), model)
    query = query.copy()
    scssl.tl.knn_pairs(query, k=5)
    query_model = scssl.model.Contrastive.load_query_data(query, model)
    # the query's own counts are what its neighbour positions index
    assert query_model.module.partner_counts.shape == query.shape
    query_model.train(max_epochs=1, batch_size=64, enable_progress_bar=False)
    assert np.isfinite(query_model.get_latent_representation()).all()

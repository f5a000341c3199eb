"""The sparse fast path: CSR minibatches agree with the dense path and never densify."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.nn import FCLayers

import scssl
from scssl.module import MaskedAEModule
from scssl.nn import (
    DeterministicEncoder,
    NeighbourView,
    SharedRandomMasking,
    csr_columns_dense,
    csr_index_rows,
    csr_keep,
    fc_layers_forward,
    normalize_counts,
    sparse_linear,
)


def _counts(n_cells=24, n_genes=50, density=0.15, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((n_cells, n_genes), 4.0), generator=generator)
    keep = torch.rand(n_cells, n_genes, generator=generator) < density
    counts = counts * keep
    counts[:, 0] += 1  # no empty cell
    return counts


def _tensors(x: torch.Tensor, n_batch: int = 1) -> dict:
    n = x.shape[0]
    return {
        REGISTRY_KEYS.X_KEY: x,
        REGISTRY_KEYS.BATCH_KEY: (torch.arange(n) % max(n_batch, 1)).unsqueeze(1),
    }


# -- building blocks -----------------------------------------------------------------------
def test_sparse_normalisation_linear_and_column_block_match_dense():
    x = _counts()
    xs = x.to_sparse_csr()
    dense_norm, dense_lib = normalize_counts(x)
    sparse_norm, sparse_lib = normalize_counts(xs)
    assert sparse_norm.layout == torch.sparse_csr
    assert torch.allclose(sparse_norm.to_dense(), dense_norm, atol=1e-6)
    assert torch.allclose(sparse_lib, dense_lib)
    weight = torch.randn(7, x.shape[1])
    assert torch.allclose(sparse_linear(xs, weight), x @ weight.T, atol=1e-4)
    columns = torch.tensor([5, 0, 49, 13])
    assert torch.equal(csr_columns_dense(xs, columns), x[:, columns])
    keep = torch.rand(xs.values().shape) < 0.5
    kept = csr_keep(xs, keep).to_dense()
    dropped = x.clone()
    dropped[xs.to_dense() > 0] = 0  # every stored entry ...
    stored = x.nonzero(as_tuple=True)
    dropped[stored[0][keep], stored[1][keep]] = x[stored][keep]  # ... back where kept
    assert torch.equal(kept, dropped)


def test_sparse_linear_gradients_match_the_dense_product():
    torch.manual_seed(0)
    x = _counts()
    x[:, 7] = 0.0  # a gene no cell expresses: its gradient row is zero, not left out
    weight = torch.randn(6, x.shape[1] + 2, requires_grad=True)  # 2 covariate columns
    grad_out = torch.randn(x.shape[0], 6)
    (x @ weight[:, : x.shape[1]].T).backward(grad_out)
    dense_grad = weight.grad.clone()
    weight.grad = None
    sparse_linear(x.to_sparse_csr(), weight).backward(grad_out)
    assert torch.allclose(weight.grad, dense_grad, atol=1e-5)
    assert torch.equal(weight.grad[:, x.shape[1] :], torch.zeros(6, 2))
    # values that need a gradient too (the generic embedding-bag): both gradients
    xs = x.to_sparse_csr()
    values = xs.values().clone().requires_grad_()
    with_values = torch.sparse_csr_tensor(xs.crow_indices(), xs.col_indices(), values, xs.shape)
    weight.grad = None
    sparse_linear(with_values, weight).backward(grad_out)
    assert torch.allclose(weight.grad, dense_grad, atol=1e-5)
    dense_x = x.clone().requires_grad_()
    (dense_x @ weight[:, : x.shape[1]].T).backward(grad_out)
    assert torch.allclose(values.grad, dense_x.grad[x != 0], atol=1e-5)


@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
def test_csr_index_rows_matches_dense_row_indexing(index_dtype):
    x = _counts(n_cells=12)
    x[3] = 0  # an empty row
    csr = x.to_sparse_csr()
    csr = torch.sparse_csr_tensor(
        csr.crow_indices().to(index_dtype),
        csr.col_indices().to(index_dtype),
        csr.values(),
        size=csr.shape,
    )
    rows = torch.tensor([3, 0, 11, 0, 5, 3])  # repeats and the empty row
    picked = csr_index_rows(csr, rows)
    assert picked.layout == torch.sparse_csr and torch.equal(picked.to_dense(), x[rows])
    assert csr_index_rows(csr, torch.tensor([], dtype=torch.int64)).shape == (0, x.shape[1])


def test_neighbour_view_of_csr_counts_is_the_dense_view():
    own, partner = _counts(seed=1), _counts(seed=2)
    has_partner = torch.arange(own.shape[0]) % 3 != 0
    view = NeighbourView(p=0.5).train()
    torch.manual_seed(0)
    dense = view(own, partner, has_partner)
    torch.manual_seed(0)
    from_sparse = view(own.to_sparse_csr(), partner.to_sparse_csr(), has_partner)
    assert from_sparse.layout == torch.sparse_csr
    assert torch.equal(from_sparse.to_dense(), dense)
    assert not torch.equal(dense, own) and not torch.equal(dense, partner)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_fc_layers_on_csr_match_the_dense_forward_with_covariates(n_layers):
    torch.manual_seed(0)
    fc = FCLayers(50 + 2, 16, n_cat_list=[3, 4], n_layers=n_layers, n_hidden=16).eval()
    x = _counts()
    cont = torch.randn(x.shape[0], 2)
    cats = (torch.randint(0, 3, (x.shape[0], 1)), torch.randint(0, 4, (x.shape[0], 1)))
    dense = fc(torch.cat([x, cont], -1), *cats)
    from_sparse = fc_layers_forward(fc, x.to_sparse_csr(), *cats, dense_tail=cont)
    assert torch.allclose(from_sparse, dense, atol=1e-4)
    # a dense input gives FCLayers' own result exactly, with and without covariates
    assert torch.equal(fc_layers_forward(fc, x, *cats, dense_tail=cont), dense)
    plain = FCLayers(50, 16, n_layers=n_layers, n_hidden=16).eval()
    assert torch.equal(fc_layers_forward(plain, x), plain(x))


def test_encoder_gives_the_same_embedding_and_gradients_for_csr_input():
    torch.manual_seed(0)
    encoder = DeterministicEncoder(50, 8, n_cat_list=[3], n_hidden=32, dropout_rate=0.0)
    x, cat = _counts(), torch.randint(0, 3, (24, 1))
    dense = encoder(x, cat)
    dense.square().sum().backward()
    dense_grad = encoder.encoder.fc_layers[0][0].weight_t.grad.clone()
    encoder.zero_grad()
    from_sparse = encoder(x.to_sparse_csr(), cat)
    from_sparse.square().sum().backward()
    assert torch.allclose(from_sparse, dense, atol=1e-4)
    assert torch.allclose(encoder.encoder.fc_layers[0][0].weight_t.grad, dense_grad, atol=1e-3)


def test_gene_major_linear_is_nn_linear_with_its_weight_stored_transposed():
    import pickle

    from scssl.nn import GeneMajorLinear

    torch.manual_seed(0)
    dense = torch.nn.Linear(30, 5)
    rng_before = torch.get_rng_state()
    layer = GeneMajorLinear.from_linear(dense)
    assert torch.equal(torch.get_rng_state(), rng_before)  # later layers initialise as before
    assert layer.weight_t.shape == (30, 5) and layer.weight_t.is_contiguous()
    x = torch.randn(7, 30)
    assert torch.allclose(layer(x), dense(x), atol=1e-6)
    layer(x).square().sum().backward()
    dense(x).square().sum().backward()
    assert torch.allclose(layer.weight_t.grad, dense.weight.grad.T, atol=1e-5)
    # the state dict is nn.Linear's, both ways
    state = layer.state_dict()
    assert set(state) == {"weight", "bias"} and state["weight"].shape == (5, 30)
    fresh = torch.nn.Linear(30, 5)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.weight, dense.weight)
    other = GeneMajorLinear(30, 5)
    other.load_state_dict(dense.state_dict())
    assert torch.equal(other.weight_t, dense.weight.T)
    assert torch.equal(pickle.loads(pickle.dumps(layer)).weight_t, layer.weight_t)


def test_encoder_reads_csr_through_its_gene_major_weight_without_a_copy():
    from scssl.nn import GeneMajorLinear

    encoder = DeterministicEncoder(50, 8, n_cat_list=[3], n_hidden=16)
    first = encoder.encoder.fc_layers[0][0]
    assert isinstance(first, GeneMajorLinear)
    # the embedding table of the sparse first layer is the parameter itself
    assert first.weight.T.contiguous().data_ptr() == first.weight_t.data_ptr()
    encoder(_counts().to_sparse_csr(), torch.zeros(24, 1, dtype=torch.long)).sum().backward()
    assert first.weight_t.grad.is_contiguous()


# -- MaskedAE module ---------------------------------------------------------------------
def _module(**kwargs) -> MaskedAEModule:
    torch.manual_seed(0)
    return MaskedAEModule(n_input=50, n_latent=6, n_hidden=32, **kwargs)


def _loss(module, tensors, **inference_kwargs):
    inputs = module._get_inference_input(tensors)
    inference = module.inference(**inputs, **inference_kwargs)
    generative = module.generative(**module._get_generative_input(tensors, inference))
    return inference, generative, module.loss(tensors, inference, generative)


@pytest.mark.parametrize("loss_on", ["masked", "all"])
def test_identical_loss_when_every_gene_is_requested(loss_on):
    """Same weights, same imposed mask: the sparse and the dense loss are equal."""
    module = _module(loss_on=loss_on, n_batch=2).eval()
    x = _counts()
    hidden = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) < 0.5
    _, _, dense = _loss(module, _tensors(x, 2), hidden=hidden)
    inference, _, from_sparse = _loss(module, _tensors(x.to_sparse_csr(), 2), hidden=hidden)
    assert inference["x_norm"].layout == torch.sparse_csr  # never densified
    assert torch.allclose(from_sparse.loss, dense.loss, rtol=1e-5)
    per_cell = from_sparse.reconstruction_loss["reconstruction_loss"]
    assert torch.allclose(per_cell, dense.reconstruction_loss["reconstruction_loss"], rtol=1e-4)


def test_identical_embedding_and_reconstruction_for_the_same_weights():
    module = _module().eval()
    x = _counts()
    dense_in, dense_gen, _ = _loss(module, _tensors(x), apply_mask=False)
    sparse_in, sparse_gen, _ = _loss(module, _tensors(x.to_sparse_csr()), apply_mask=False)
    assert torch.allclose(sparse_in["z"], dense_in["z"], atol=1e-5)
    assert torch.allclose(sparse_gen["x_hat"], dense_gen["x_hat"], atol=1e-5)


@pytest.mark.parametrize("fraction", [1.0, 0.25])
def test_sparse_training_loss_equals_the_dense_loss_in_expectation(fraction):
    """Random masks (and a random quarter of the genes): the mean over draws matches."""
    module = _module(decoder_gene_fraction=fraction)
    module.z_encoder.eval()  # dropout off: only the masks are random
    x = _counts(n_cells=64, density=0.3)
    torch.manual_seed(0)
    dense = torch.stack([_loss(module, _tensors(x))[2].loss for _ in range(300)])
    sparse_draws = []
    for _ in range(300):
        inference, generative, loss = _loss(module, _tensors(x.to_sparse_csr()))
        assert generative["x_hat"].shape == (64, round(fraction * 50))  # only those genes
        sparse_draws.append(loss.loss)
    sparse_draws = torch.stack(sparse_draws)
    standard_error = (dense.var() / 300 + sparse_draws.var() / 300).sqrt()
    assert abs(sparse_draws.mean() - dense.mean()) < 4 * standard_error
    assert abs(sparse_draws.mean() - dense.mean()) / dense.mean() < 0.02


def test_validation_uses_every_gene_and_nb_or_programmes_densify():
    module = _module().eval()
    x = _counts().to_sparse_csr()
    _, generative, _ = _loss(module, _tensors(x))
    assert generative["x_hat"].shape == (24, 50)
    nb = _module(reconstruction="nb")
    inference, _, loss = _loss(nb, _tensors(x))
    assert inference["x_norm"].layout == torch.strided and torch.isfinite(loss.loss)


def test_decoder_gene_fraction_is_checked():
    with pytest.raises(ValueError, match="decoder_gene_fraction"):
        _module(decoder_gene_fraction=0.0)


def _seeded_loss(module, x, seed):
    torch.manual_seed(seed)  # the same seed draws the same shared mask, dense or sparse
    return _loss(module, _tensors(x))


def test_shared_mask_decodes_only_the_hidden_genes_with_the_dense_loss():
    """Same seed, same shared mask: the sparse loss on the hidden genes equals the dense loss."""
    module = _module(masking=SharedRandomMasking(0.5), dropout_rate=0.0)
    x = _counts(n_cells=32)
    dense_in, dense_gen, dense = _seeded_loss(module, x, seed=7)
    sparse_in, sparse_gen, from_sparse = _seeded_loss(module, x.to_sparse_csr(), seed=7)
    genes = sparse_in["mask"].genes
    assert sparse_in["x_norm"].layout == torch.sparse_csr  # never densified
    assert sparse_gen["x_hat"].shape == (32, 25)  # the hidden genes only
    assert torch.equal(dense_in["mask"].hidden[0].nonzero().squeeze(1), genes)
    assert torch.allclose(sparse_gen["x_hat"], dense_gen["x_hat"][:, genes], atol=1e-5)
    assert torch.allclose(from_sparse.loss, dense.loss, rtol=1e-5)
    per_cell = from_sparse.reconstruction_loss["reconstruction_loss"]
    assert torch.allclose(per_cell, dense.reconstruction_loss["reconstruction_loss"], rtol=1e-4)
    assert from_sparse.extra_metrics["masked_fraction"] == pytest.approx(0.5)


def test_shared_mask_with_loss_on_all_still_decodes_every_gene():
    module = _module(masking=SharedRandomMasking(0.5), loss_on="all")
    _, generative, loss = _seeded_loss(module, _counts(n_cells=32).to_sparse_csr(), seed=0)
    assert generative["x_hat"].shape == (32, 50) and torch.isfinite(loss.loss)


def test_decoder_gene_fraction_is_refused_with_shared_masking():
    with pytest.raises(ValueError, match="random_shared"):
        _module(masking=SharedRandomMasking(0.5), decoder_gene_fraction=0.5)


# -- models ----------------------------------------------------------------------------------
def _adata(x: np.ndarray) -> AnnData:
    adata = AnnData(sparse.csr_matrix(x))
    adata.obs["batch"] = np.tile(["a", "b"], x.shape[0] // 2)
    return adata


@contextmanager
def layouts_seen(module, method: str):
    """Record the layout of the first argument of every ``module.<method>`` call."""
    seen, original = [], getattr(module, method)

    def spy(x, *args, **kwargs):
        seen.append(x.layout)
        return original(x, *args, **kwargs)

    setattr(module, method, spy)
    try:
        yield seen
    finally:
        setattr(module, method, original)


def test_masked_ae_trains_on_sparse_minibatches_and_embeds_like_dense(tmp_path):
    counts = _counts(n_cells=60, n_genes=40).numpy()
    adata = _adata(counts)
    scssl.model.MaskedAE.setup_anndata(adata, batch_key="batch")
    model = scssl.model.MaskedAE(adata, n_latent=4, n_hidden=16)
    assert model._sparse_minibatches()
    with layouts_seen(model.module, "inference") as seen:
        model.train(max_epochs=2, batch_size=16, check_val_every_n_epoch=1)
    assert set(seen) == {torch.sparse_csr}
    assert np.isfinite(model.history["validation_loss"].to_numpy(dtype=float)).all()
    z_sparse = model.get_latent_representation()
    dense = AnnData(counts, obs=adata.obs.copy())
    scssl.model.MaskedAE.setup_anndata(dense, batch_key="batch")
    z_dense = model.get_latent_representation(dense)
    np.testing.assert_allclose(z_sparse, z_dense, atol=1e-5)
    model.save(str(tmp_path / "m"))
    loaded = scssl.model.MaskedAE.load(str(tmp_path / "m"), adata=adata)
    np.testing.assert_allclose(loaded.get_latent_representation(), z_sparse, atol=1e-6)


def test_contrastive_trains_from_sparse_minibatches_and_embeds_like_dense():
    counts = _counts(n_cells=60, n_genes=40).numpy()
    adata = _adata(counts)
    scssl.model.Contrastive.setup_anndata(adata)
    model = scssl.model.Contrastive(adata, method="simclr", n_latent=4, n_hidden=16)
    assert model._sparse_minibatches()
    model.train(max_epochs=2, batch_size=16)
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()
    dense = AnnData(counts)
    scssl.model.Contrastive.setup_anndata(dense)
    np.testing.assert_allclose(
        model.get_latent_representation(), model.get_latent_representation(dense), atol=1e-5
    )


# -- augmentations on stored entries ---------------------------------------------------------
def _augment_both(aug, x, seed=0):
    aug.train()
    torch.manual_seed(seed)
    dense = aug(x)
    torch.manual_seed(seed)
    from_sparse = aug(x.to_sparse_csr())
    return dense, from_sparse


def test_sparse_augmentations_keep_zeros_and_structure():
    from scssl.nn import BinomialThinning, GaussianNoise, NegativeBinomialNoise, RandomGeneMasking

    x = _counts(n_cells=200, density=0.3)
    for aug in [
        BinomialThinning(min_keep=0.5, p=1.0),
        NegativeBinomialNoise(p=1.0),
        RandomGeneMasking(0.5, p=1.0),
        GaussianNoise(std=0.5, p=1.0, nonzero_only=True),
    ]:
        assert aug.reads_sparse
        _, out = _augment_both(aug, x)
        assert out.layout == torch.sparse_csr
        dense_out = out.to_dense()
        assert torch.equal(dense_out[x == 0], torch.zeros(int((x == 0).sum())))
        assert not torch.equal(dense_out, x)  # it did augment
    assert not GaussianNoise(std=0.5).reads_sparse
    assert not RandomGeneMasking(0.5, mask_value=-1.0).reads_sparse


def test_sparse_augmentations_have_the_dense_distribution():
    """Thinning and masking on stored entries: same mean and spread as on the dense matrix."""
    from scssl.nn import BinomialThinning, RandomGeneMasking

    x = _counts(n_cells=2000, n_genes=20, density=0.5)
    nonzero = x > 0
    for aug in [BinomialThinning(min_keep=0.3, p=0.7), RandomGeneMasking(0.4, p=0.8)]:
        dense, from_sparse = _augment_both(aug, x, seed=3)
        dense, from_sparse = dense[nonzero], from_sparse.to_dense()[nonzero]
        assert abs(dense.mean() - from_sparse.mean()) < 0.03 * dense.mean()
        assert abs(dense.std() - from_sparse.std()) < 0.03 * dense.std()


def test_pipeline_densifies_only_when_an_augmentation_needs_every_gene():
    from scssl.nn import AugmentationPipeline, build_augmentations

    x = _counts().to_sparse_csr()
    sparse_pipe = AugmentationPipeline(
        build_augmentations(noise_nonzero_only=True), normalize_counts
    )
    dense_pipe = AugmentationPipeline(build_augmentations(), normalize_counts)
    assert sparse_pipe.reads_sparse and not dense_pipe.reads_sparse
    assert sparse_pipe.train()(x).layout == torch.sparse_csr
    assert dense_pipe.train()(x).layout == torch.strided


def test_default_pipeline_densifies_at_the_noise_not_before():
    """Thinning and masking act on the stored entries; only noise on every gene sees dense."""
    from scssl.nn import AugmentationPipeline, GaussianNoise, build_augmentations

    pipe = AugmentationPipeline(build_augmentations(), normalize_counts).train()
    torch.manual_seed(0)
    seen = {}
    for aug in [*pipe.count_augmentations, *pipe.normalized_augmentations]:
        with layouts_seen(aug, "augment_cells") as layouts:
            seen[type(aug).__name__] = layouts
            pipe(_counts(n_cells=200).to_sparse_csr())
    assert seen.pop("GaussianNoise") == [torch.strided]
    assert seen and all(layouts == [torch.sparse_csr] for layouts in seen.values())
    assert any(isinstance(aug, GaussianNoise) for aug in pipe.normalized_augmentations)


def test_noise_and_thinning_leave_unchosen_cells_unchanged():
    from scssl.nn import BinomialThinning, GaussianNoise

    torch.manual_seed(0)
    x = _counts(n_cells=400, n_genes=300, density=0.3)
    x_norm = torch.log1p(x)
    noise = GaussianNoise(std=0.5, p=0.5).train()
    noisy = noise(x_norm)
    changed = (noisy != x_norm).any(dim=1)
    assert 0.35 < changed.float().mean() < 0.65  # about p of the cells
    assert torch.equal(noisy[~changed], x_norm[~changed])
    # a chosen cell gets noise on every gene (zeros included), with the set sd
    delta = noisy[changed] - x_norm[changed]
    assert (delta != 0).all()
    assert abs(delta.std() - 0.5) < 0.02
    thinning = BinomialThinning(min_keep=0.2, max_keep=0.5, p=0.5).train()
    thinned = thinning(x.to_sparse_csr()).to_dense()
    changed = (thinned != x).any(dim=1)
    assert 0.35 < changed.float().mean() < 0.65
    assert torch.equal(thinned[~changed], x[~changed])
    assert (thinned <= x).all() and (thinned[changed].sum(1) < x[changed].sum(1)).all()


def test_contrastive_with_nonzero_noise_never_densifies_a_minibatch():
    counts = _counts(n_cells=60, n_genes=40).numpy()
    adata = _adata(counts)
    scssl.model.Contrastive.setup_anndata(adata)
    model = scssl.model.Contrastive(
        adata, method="simclr", n_latent=4, n_hidden=16, noise_nonzero_only=True
    )
    with layouts_seen(model.module, "encode") as seen:
        model.train(max_epochs=2, batch_size=16)
    assert seen and set(seen) == {torch.sparse_csr}
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()


@pytest.mark.parametrize("method", ["byol", "vicreg"])
def test_every_method_trains_on_sparse_views(method):
    """BYOL's target network reads the views as the online encoder does (CSR stays CSR)."""
    counts = _counts(n_cells=60, n_genes=40).numpy()
    adata = _adata(counts)
    scssl.model.Contrastive.setup_anndata(adata)
    model = scssl.model.Contrastive(
        adata, method=method, n_latent=4, n_hidden=16, noise_nonzero_only=True
    )
    with layouts_seen(model.module, "encode") as seen:
        model.train(max_epochs=2, batch_size=16)
    assert seen and set(seen) == {torch.sparse_csr}
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()


def test_contrastive_knn_partners_stay_sparse_from_reference_to_encoder():
    counts = _counts(n_cells=60, n_genes=40).numpy()
    adata = _adata(counts)
    scssl.tl.knn_pairs(adata, n_comps=5, k=4)
    scssl.model.Contrastive.setup_anndata(adata, knn_key="scssl_knn_partners")
    model = scssl.model.Contrastive(
        adata, method="simclr", n_latent=4, n_hidden=16, noise_nonzero_only=True
    )
    reference = model.module.partner_counts
    assert model.module.knn_pair.p > 0
    # the reference holds the stored entries only, never a cells x genes copy
    assert reference.layout == torch.sparse_csr and reference.values().numel() == adata.X.nnz
    assert reference.col_indices().dtype == torch.int32  # the smallest index type that fits
    assert torch.equal(reference.to_dense(), torch.as_tensor(counts, dtype=torch.float32))
    with layouts_seen(model.module, "encode") as seen:
        model.train(max_epochs=2, batch_size=16)
    assert seen and set(seen) == {torch.sparse_csr}
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()


def test_classifier_trains_on_sparse_minibatches_and_predicts_like_dense():
    counts = _counts(n_cells=60, n_genes=40).numpy()
    adata = _adata(counts)
    adata.obs["label"] = np.where(counts[:, 0] > np.median(counts[:, 0]), "high", "low")
    scssl.model.MaskedAE.setup_anndata(adata, batch_key="batch")
    ssl = scssl.model.MaskedAE(adata, n_latent=4, n_hidden=16)
    ssl.train(max_epochs=1, batch_size=16)
    clf = scssl.model.CellTypeClassifier.from_pretrained(ssl, adata, labels_key="label")
    assert clf._sparse_minibatches()
    with layouts_seen(clf.module, "inference") as seen:
        clf.train(max_epochs=2, batch_size=16)
    assert set(seen) == {torch.sparse_csr}  # training and validation steps stayed sparse
    dense = AnnData(counts, obs=adata.obs.copy())
    scssl.model.CellTypeClassifier.setup_anndata(dense, labels_key="label", batch_key="batch")
    np.testing.assert_allclose(
        clf.predict(soft=True).to_numpy(), clf.predict(dense, soft=True).to_numpy(), atol=1e-5
    )

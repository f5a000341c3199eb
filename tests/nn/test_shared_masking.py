"""SharedRandomMasking: one random gene set per minibatch, and the decoder on those genes only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS

import scssl
from scssl.module import MaskedAEModule
from scssl.nn import MASKING_STRATEGIES, SharedRandomMasking


def _counts(n_cells=32, n_genes=40, density=0.3, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((n_cells, n_genes), 3.0), generator=generator)
    counts = counts * (torch.rand(n_cells, n_genes, generator=generator) < density)
    counts[:, 0] += 1  # no empty cell
    return counts


def _tensors(x: torch.Tensor) -> dict:
    return {REGISTRY_KEYS.X_KEY: x, REGISTRY_KEYS.BATCH_KEY: torch.zeros(x.shape[0], 1)}


def _module(**kwargs) -> MaskedAEModule:
    torch.manual_seed(0)
    masking = SharedRandomMasking(kwargs.pop("mask_ratio", 0.5))
    return MaskedAEModule(n_input=40, n_latent=6, n_hidden=16, masking=masking, **kwargs)


def _step(module, x, seed):
    torch.manual_seed(seed)
    tensors = _tensors(x)
    inference = module.inference(**module._get_inference_input(tensors))
    generative = module.generative(**module._get_generative_input(tensors, inference))
    return inference, generative, module.loss(tensors, inference, generative)


def test_every_cell_hides_the_same_genes_and_each_gene_at_the_mask_ratio():
    strategy = SharedRandomMasking(0.25)
    x = torch.ones(5, 40)
    torch.manual_seed(0)
    draws = torch.stack([strategy.draw(x).hidden for _ in range(2000)])
    assert bool((draws == draws[:, :1]).all())  # one gene set per minibatch
    assert set(draws[:, 0].sum(dim=1).tolist()) == {10}  # round(0.25 * 40) each step
    per_gene = draws[:, 0].float().mean(dim=0)
    assert torch.allclose(per_gene, torch.full((40,), 0.25), atol=0.04)
    assert not torch.equal(draws[0], draws[1])  # drawn afresh


def test_sparse_draw_flags_exactly_the_stored_entries_of_the_hidden_genes():
    x = _counts().to_sparse_csr()
    torch.manual_seed(3)
    draw = SharedRandomMasking(0.5).draw_stored(x)
    hidden_gene = torch.zeros(40, dtype=torch.bool)
    hidden_gene[draw.genes] = True
    assert torch.equal(draw.stored, hidden_gene[x.col_indices()])
    assert draw.genes.numel() == 20 and torch.equal(draw.genes, draw.genes.sort().values)


def test_at_least_one_gene_hidden_and_one_visible():
    torch.manual_seed(0)
    assert SharedRandomMasking(0.01).draw(torch.ones(2, 3)).hidden[0].sum() == 1
    assert SharedRandomMasking(0.99).draw(torch.ones(2, 3)).hidden[0].sum() == 2
    with pytest.raises(ValueError, match="at least 2 genes"):
        SharedRandomMasking(0.5).draw(torch.ones(2, 1))


def test_sparse_step_decodes_only_the_hidden_genes_with_the_dense_loss():
    """Same seed, same mask: the sparse loss on the hidden genes equals the dense loss."""
    module = _module(dropout_rate=0.0)
    x = _counts()
    dense_in, dense_gen, dense = _step(module, x, seed=7)
    sparse_in, sparse_gen, from_sparse = _step(module, x.to_sparse_csr(), seed=7)
    genes = sparse_in["mask"].genes
    assert sparse_in["x_norm"].layout == torch.sparse_csr  # never densified
    assert sparse_gen["x_hat"].shape == (32, 20)  # the hidden genes only
    assert torch.equal(dense_in["mask"].hidden[0].nonzero().squeeze(1), genes)
    assert torch.allclose(sparse_gen["x_hat"], dense_gen["x_hat"][:, genes], atol=1e-5)
    assert torch.allclose(from_sparse.loss, dense.loss, rtol=1e-5)
    per_cell = from_sparse.reconstruction_loss["reconstruction_loss"]
    assert torch.allclose(per_cell, dense.reconstruction_loss["reconstruction_loss"], rtol=1e-4)
    assert from_sparse.extra_metrics["masked_fraction"] == pytest.approx(0.5)


def test_loss_on_all_still_decodes_every_gene():
    module = _module(loss_on="all")
    _, generative, loss = _step(module, _counts().to_sparse_csr(), seed=0)
    assert generative["x_hat"].shape == (32, 40) and torch.isfinite(loss.loss)


def test_decoder_gene_fraction_is_refused_with_shared_masking():
    with pytest.raises(ValueError, match="random_shared"):
        _module(decoder_gene_fraction=0.5)


def test_masked_ae_trains_saves_and_loads_with_shared_masking(tmp_path):
    assert MASKING_STRATEGIES["random_shared"] is SharedRandomMasking
    adata = AnnData(sparse.csr_matrix(_counts(n_cells=64).numpy()))
    scssl.model.MaskedAE.setup_anndata(adata)
    model = scssl.model.MaskedAE(adata, masking="random_shared", n_hidden=16, n_latent=4)
    assert isinstance(model.module.masking, SharedRandomMasking)
    model.train(max_epochs=2, batch_size=16, enable_progress_bar=False)
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()
    assert model.history["masked_fraction_train"].iloc[-1, 0] == pytest.approx(0.5)
    model.save(tmp_path / "model")
    loaded = scssl.model.MaskedAE.load(str(tmp_path / "model"), adata=adata)
    assert isinstance(loaded.module.masking, SharedRandomMasking)
    assert np.allclose(loaded.get_latent_representation(), model.get_latent_representation())
    with pytest.raises(ValueError, match="does not use them"):
        scssl.model.MaskedAE(adata, masking="random_shared", programmes={"p": ["0", "1"]})


def test_tl_masked_ae_selects_genes_for_shared_masking_and_refuses_unknown_kinds(baron_small):
    adata = baron_small.copy()
    scssl.tl.masked_ae(adata, masking="random_shared", max_epochs=1)
    # the gene selection of the random strategies (all 600 genes: fewer than the default)
    params = adata.uns["scssl_mae"]["params"]
    assert params["n_top_genes"] == scssl.data.DEFAULT_N_TOP_GENES
    assert params["masking"] == "random_shared" and params["n_genes_used"] == 600
    with pytest.raises(ValueError, match="masking"):
        scssl.tl.masked_ae(adata, masking="shared")
    assert set(adata.uns) == {"scssl_mae"}  # the refused call wrote nothing

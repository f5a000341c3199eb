"""SharedRandomMasking: one random gene set per minibatch (its MaskedAE loss: test_sparse.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from anndata import AnnData
from scipy import sparse

import scssl
from scssl.nn import MASKING_STRATEGIES, SharedRandomMasking


def _csr(n_cells=32, n_genes=40, seed=0) -> torch.Tensor:
    """A random 0/1 matrix in CSR layout: only its structure matters here."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n_cells, n_genes, generator=generator) < 0.3).float().to_sparse_csr()


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
    x = _csr()
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


def test_masked_ae_trains_saves_and_loads_with_shared_masking(tmp_path):
    assert MASKING_STRATEGIES["random_shared"] is SharedRandomMasking
    counts = np.random.default_rng(0).poisson(1.0, (64, 40)).astype(np.float32)
    counts[:, 0] += 1  # no empty cell
    adata = AnnData(sparse.csr_matrix(counts))
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

from __future__ import annotations

import numpy as np
import pytest
import torch

from scssl.metrics import mutual_nearest_neighbors
from scssl.nn import (
    AugmentationPipeline,
    BinomialThinning,
    Crossover,
    GaussianNoise,
    GeneSwap,
    NegativeBinomialNoise,
    NeighbourView,
    RandomGeneMasking,
    build_augmentations,
    draw_partner,
    normalize_counts,
)


@pytest.fixture
def counts() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    rates = torch.rand(1, 300, generator=g) * 5
    x = torch.poisson(rates.expand(400, 300), generator=g)
    x[:, :20] = 0  # some genes never expressed
    return x


def test_masking_fraction_is_the_dropped_fraction(counts):
    torch.manual_seed(0)
    x = counts + 1.0  # no zeros, so every zero after masking was dropped
    for fraction in (0.1, 0.5, 0.8):
        out = RandomGeneMasking(drop_fraction=fraction, p=1.0)(x)
        assert (out == 0).float().mean().item() == pytest.approx(fraction, abs=0.01)
        kept = out != 0
        assert torch.equal(out[kept], x[kept])


def test_per_cell_probability(counts):
    torch.manual_seed(1)
    x = counts + 1.0
    out = RandomGeneMasking(drop_fraction=0.5, p=0.3)(x)
    touched = (out != x).any(dim=1).float().mean().item()
    assert touched == pytest.approx(0.3, abs=0.07)
    assert torch.equal(RandomGeneMasking(p=0.0)(x), x)


def test_identity_in_eval_mode(counts):
    for aug in (
        RandomGeneMasking(p=1.0),
        GaussianNoise(p=1.0),
        BinomialThinning(p=1.0),
        NegativeBinomialNoise(p=1.0),
        GeneSwap(p=1.0),
        Crossover(p=1.0),
    ):
        aug.eval()
        assert torch.equal(aug(counts), counts), type(aug).__name__


def test_thinning_never_increases_and_keeps_zeros(counts):
    torch.manual_seed(2)
    out = BinomialThinning(min_keep=0.2, max_keep=0.6, p=1.0)(counts)
    assert (out <= counts).all()
    assert (out[counts == 0] == 0).all()
    assert torch.equal(out, out.round())
    ratio = out.sum() / counts.sum()
    assert 0.3 < ratio.item() < 0.5  # mean keep rate 0.4
    with pytest.raises(ValueError, match="min_keep"):
        BinomialThinning(min_keep=0.0)


def test_nb_noise_mean_preserved_zeros_kept(counts):
    torch.manual_seed(3)
    out = NegativeBinomialNoise(theta=5.0, p=1.0)(counts)
    assert (out[counts == 0] == 0).all()
    assert torch.equal(out, out.round()) and (out >= 0).all()
    assert (out.sum() / counts.sum()).item() == pytest.approx(1.0, abs=0.02)
    # extra variance beyond Poisson: x + x^2 / theta for a constant input
    x = torch.full((20000, 1), 20.0)
    var = NegativeBinomialNoise(theta=5.0, p=1.0)(x).var().item()
    assert var == pytest.approx(20 + 400 / 5, rel=0.1)


def test_gaussian_noise_std():
    torch.manual_seed(4)
    x = torch.zeros(1000, 50)
    assert GaussianNoise(std=0.3, p=1.0)(x).std().item() == pytest.approx(0.3, abs=0.01)


def test_gene_swap_is_a_within_cell_permutation():
    torch.manual_seed(5)
    x = torch.rand(50, 40)
    out = GeneSwap(swap_fraction=0.5, p=1.0)(x)
    assert torch.equal(out.sort(dim=1).values, x.sort(dim=1).values)
    assert ((out != x).sum(dim=1) == 20).all()  # 10 pairs swapped per cell


def test_crossover_mixes_only_cells_of_the_minibatch():
    torch.manual_seed(6)
    x = torch.arange(8.0)[:, None].repeat(1, 200)  # cell i holds i everywhere
    out = Crossover(fraction=0.4, p=1.0)(x)
    for i in range(8):
        values = out[i].unique()
        assert i in values.tolist()
        others = [v for v in values.tolist() if v != i]
        assert len(others) == 1  # exactly one partner cell, a different one
        share = (out[i] != i).float().mean().item()
        assert share == pytest.approx(0.4, abs=0.12)
    partners = Crossover.partners(10, "cpu")
    assert (partners != torch.arange(10)).all() and sorted(partners.tolist()) == list(range(10))


def test_one_cell_minibatch_is_safe():
    x = torch.rand(1, 30)
    for aug in (Crossover(p=1.0), GeneSwap(p=1.0), RandomGeneMasking(p=1.0), GaussianNoise(p=1.0)):
        assert aug(x).shape == (1, 30)
    assert torch.equal(Crossover(p=1.0)(x), x)
    assert Crossover.partners(1, "cpu").tolist() == [0]


def test_pipeline_order_and_shapes(counts):
    torch.manual_seed(7)
    pipe = AugmentationPipeline(
        [RandomGeneMasking(0.5, p=1.0), BinomialThinning(p=1.0)], normalize_counts
    )
    assert [type(a).__name__ for a in pipe.count_augmentations] == ["BinomialThinning"]
    out = pipe(counts)
    assert out.shape == counts.shape and torch.isfinite(out).all()
    pipe.eval()
    assert torch.allclose(pipe(counts), normalize_counts(counts)[0])
    with pytest.raises(TypeError):
        AugmentationPipeline([torch.nn.Identity()], normalize_counts)


def test_build_augmentations_probability_zero_is_off():
    augs = build_augmentations(
        mask_prob=0.0, noise_prob=0.0, thinning_prob=0.0, crossover_prob=0.0, swap_prob=0.5
    )
    assert [type(a).__name__ for a in augs] == ["GeneSwap"]


def test_mnn_positive_pair_and_index():
    own, other = torch.zeros(4, 3), torch.ones(4, 3)
    has = torch.tensor([True, False, True, False])
    pair = NeighbourView(p=1.0)
    assert pair(own, other, has)[:, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    pair.eval()
    assert torch.equal(pair(own, other, has), own)
    rng = np.random.default_rng(0)
    centres = np.repeat([[0.0, 0.0], [20.0, 0.0]], 30, axis=0)
    emb = np.concatenate([centres + rng.normal(size=(60, 2)), centres + rng.normal(size=(60, 2))])
    batches = np.repeat(["a", "b"], 60)
    partner = mutual_nearest_neighbors(emb, batches, k=5)
    matched = partner >= 0
    assert matched.mean() > 0.5
    # partners lie in the other batch and in the same cluster
    assert (batches[partner[matched]] != batches[matched]).all()
    cluster = np.tile(np.repeat([0, 1], 30), 2)
    assert (cluster[partner[matched]] == cluster[matched]).all()
    with pytest.raises(ValueError, match="two batches"):
        mutual_nearest_neighbors(emb, np.repeat("a", 120))


def test_draw_partner_is_uniform_over_valid_candidates():
    torch.manual_seed(0)
    candidates = torch.tensor([[3, -1, 5, 7], [-1, -1, -1, -1], [2, -1, -1, -1]]).repeat(2000, 1)
    position, has = draw_partner(candidates)
    assert has.tolist() == [True, False, True] * 2000
    first = position[0::3]
    assert set(first.tolist()) == {3, 5, 7}  # never the -1 padding
    counts = torch.bincount(first, minlength=8)[[3, 5, 7]].float() / 2000
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.04)
    assert (position[2::3] == 2).all()
    one_column, has_one = draw_partner(torch.tensor([4, -1]))  # a 1-D column (MNN)
    assert one_column.tolist() == [4, 0] and has_one.tolist() == [True, False]

"""Property-based tests (hypothesis) of masking, augmentations, the GMT reader and losses."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scssl.data import read_gmt
from scssl.nn import (
    BinomialThinning,
    GaussianNoise,
    RandomGeneMasking,
    RandomMasking,
    masked_mean,
    nt_xent_loss,
    vicreg_loss,
)

FAST = settings(max_examples=30, deadline=None)
shapes = st.tuples(st.integers(1, 12), st.integers(1, 30))


def _counts(shape, seed, rate=2.0):
    generator = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full(shape, rate), generator=generator)


@FAST
@given(shape=shapes, ratio=st.floats(0.05, 0.95), seed=st.integers(0, 10_000))
def test_random_mask_hides_and_scores_the_same_entries(shape, ratio, seed):
    torch.manual_seed(seed)
    draw = RandomMasking(ratio).draw(torch.ones(shape))
    assert draw.hidden.shape == shape and draw.hidden.dtype == torch.bool
    assert torch.equal(draw.hidden, draw.loss)
    sparse = RandomMasking(ratio).draw_stored(torch.ones(shape).to_sparse_csr())
    assert sparse.stored.shape == (shape[0] * shape[1],) and sparse.zero_ratio == ratio


@FAST
@given(shape=shapes, keep=st.floats(0.01, 1.0), seed=st.integers(0, 10_000))
def test_thinning_gives_fewer_integer_counts_and_keeps_zeros(shape, keep, seed):
    x = _counts(shape, seed)
    aug = BinomialThinning(min_keep=keep, p=1.0).train()
    out = aug(x)
    assert torch.all(out <= x) and torch.all(out >= 0)
    assert torch.equal(out, out.round()) and torch.all(out[x == 0] == 0)


@FAST
@given(shape=shapes, fraction=st.floats(0.0, 1.0), seed=st.integers(0, 10_000))
def test_gene_masking_only_sets_entries_to_zero(shape, fraction, seed):
    x = _counts(shape, seed) + 1.0
    out = RandomGeneMasking(drop_fraction=max(fraction, 1e-3) if fraction < 1 else 0.999, p=1.0)(x)
    assert torch.all((out == x) | (out == 0))


@FAST
@given(shape=shapes, std=st.floats(0.0, 2.0), seed=st.integers(0, 10_000))
def test_noise_on_detected_genes_keeps_zeros_and_sparse_matches_dense(shape, std, seed):
    x = _counts(shape, seed, rate=0.7)
    aug = GaussianNoise(std=std, p=1.0, nonzero_only=True).train()
    torch.manual_seed(seed)
    out = aug(x)
    assert torch.all(out[x == 0] == 0)
    torch.manual_seed(seed)
    from_sparse = aug(x.to_sparse_csr())
    assert from_sparse.layout == torch.sparse_csr
    assert torch.all(from_sparse.to_dense()[x == 0] == 0)


names = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8)


@FAST
@given(
    sets=st.dictionaries(names, st.lists(names, min_size=1, max_size=6), min_size=1, max_size=5),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_gmt_reader_round_trips_sets_with_unique_genes_in_order(sets, newline):
    text = newline.join(f"{name}\tdescription\t" + "\t".join(genes) for name, genes in sets.items())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sets.gmt"
        path.write_bytes(text.encode())
        read = read_gmt(path)
    assert list(read) == list(sets)
    for name, genes in sets.items():
        assert read[name] == list(dict.fromkeys(genes))


@FAST
@given(n=st.integers(2, 16), d=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_nt_xent_is_symmetric_and_positive(n, d, seed):
    generator = torch.Generator().manual_seed(seed)
    z1, z2 = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    loss = nt_xent_loss(z1, z2)
    assert torch.isfinite(loss) and loss >= 0
    torch.testing.assert_close(loss, nt_xent_loss(z2, z1))


@FAST
@given(n=st.integers(2, 16), d=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_vicreg_terms_are_finite_and_invariance_is_zero_for_equal_views(n, d, seed):
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    parts = vicreg_loss(z, z.clone())
    assert all(torch.isfinite(v) for v in parts.values())
    assert parts["invariance"] == 0


@FAST
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_masked_mean_with_every_position_is_the_mean(shape, seed):
    values = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(
        masked_mean(values, torch.ones(shape, dtype=torch.bool)), values.mean(dim=-1)
    )

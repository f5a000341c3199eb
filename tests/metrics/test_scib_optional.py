"""scib_scores without labels or without batches computes the metrics it can."""

from __future__ import annotations

import numpy as np
import pytest

import scssl


def test_scib_scores_skip_what_needs_missing_labels_or_batches():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b"], 60)
    batches = np.tile(["x", "y"], 60)
    emb = rng.normal(size=(120, 4)) + 4 * (labels == "b")[:, None]
    config = scssl.metrics.ScibConfig(n_neighbors=20)
    no_labels = scssl.metrics.scib_scores(emb, None, batches, config)
    assert set(no_labels) == {"ilisi", "batch_correction", "total"}
    one_batch = scssl.metrics.scib_scores(emb, labels, np.repeat("x", 120), config)
    assert "batch_correction" not in one_batch and one_batch["bio_conservation"] > 0.5
    assert one_batch["total"] == one_batch["bio_conservation"]
    with pytest.raises(ValueError, match="needs labels"):
        scssl.metrics.scib_scores(emb, None, None, config)

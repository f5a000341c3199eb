"""Train every model family briefly with given seeds; print a hash of each result as JSON.

Run as a script by ``tests/test_same_seed.py`` in separate processes: the same seed
must give the same bytes in another process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import warnings

import numpy as np


def _digest(values) -> str:
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float32).tobytes()).hexdigest()


def _data():
    import pandas as pd
    from anndata import AnnData
    from scipy import sparse

    rng = np.random.default_rng(0)
    rates = rng.gamma(2.0, 2.0, size=(1, 40)) * rng.uniform(0.5, 2.0, size=(80, 1))
    counts = AnnData(sparse.csr_matrix(rng.poisson(rates).astype(np.float32)))
    counts.obs["batch"] = np.repeat(["a", "b"], 40)
    counts.obs["label"] = np.tile(["x", "y"], 40)
    counts.var_names = [f"g{i}" for i in range(40)]
    two_domains = AnnData(
        rng.normal(size=(80, 20)).astype(np.float32),
        obs=pd.DataFrame(
            {
                "domain": ["bulk"] * 40 + ["sc"] * 40,
                "response": list(rng.integers(0, 2, 40).astype(float)) + [np.nan] * 40,
            }
        ),
    )
    return counts, two_domains


def fingerprints(seed: int) -> dict[str, str]:
    """Hashes of each family's output after one short training with ``seed``."""
    import scvi
    import torch

    import scssl

    torch.set_num_threads(1)
    counts, two_domains = _data()
    fit = {"max_epochs": 2, "enable_progress_bar": False, "batch_size": 32}
    programmes = {"p1": [f"g{i}" for i in range(8)], "p2": [f"g{i}" for i in range(8, 16)]}
    families = [
        ("MaskedAE", scssl.model.MaskedAE, {"n_hidden": 16}),
        (
            "MaskedAE gene_programme",
            scssl.model.MaskedAE,
            {"n_hidden": 16, "masking": "gene_programme", "programmes": programmes},
        ),
        ("SimCLR", scssl.model.Contrastive, {"method": "simclr", "n_hidden": 16}),
        ("BYOL", scssl.model.Contrastive, {"method": "byol", "n_hidden": 16}),
        ("Barlow Twins", scssl.model.Contrastive, {"method": "barlow_twins", "n_hidden": 16}),
        ("VICReg", scssl.model.Contrastive, {"method": "vicreg", "n_hidden": 16}),
        ("MaskedContrastive", scssl.model.MaskedContrastive, {"n_hidden": 16}),
    ]
    out = {}
    for name, cls, kwargs in families:
        scvi.settings.seed = seed
        adata = counts.copy()
        cls.setup_anndata(adata, batch_key="batch")
        model = cls(adata, **kwargs)
        model.train(**fit)
        out[name] = _digest(model.get_latent_representation())
        if name == "MaskedAE":
            pretrained, registered = model, adata
    scvi.settings.seed = seed
    classifier = scssl.model.CellTypeClassifier.from_pretrained(
        pretrained, registered, labels_key="label", n_hidden_head=8
    )
    classifier.train(**fit)
    out["CellTypeClassifier"] = _digest(classifier.predict(soft=True).to_numpy())
    scvi.settings.seed = seed
    scssl.model.DrugResponseTransfer.setup_anndata(two_domains)
    drug = scssl.model.DrugResponseTransfer(two_domains, n_hidden_predictor=8)
    drug.train(max_epochs=3, enable_progress_bar=False)
    out["DrugResponseTransfer"] = _digest(drug.predict_proba())
    scvi.settings.seed = seed
    cite = counts.copy()
    cite.obsm["protein"] = np.random.default_rng(1).poisson(5, (cite.n_obs, 6)).astype(np.float32)
    scssl.model.MultimodalMAE.setup_anndata(
        cite, protein_expression_obsm_key="protein", batch_key="batch"
    )
    multimodal = scssl.model.MultimodalMAE(cite, n_hidden=16, contrastive_weight=0.1)
    multimodal.train(**fit)
    out["MultimodalMAE"] = _digest(multimodal.predict_modality(target="protein").to_numpy())
    return out


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    seeds = [int(s) for s in sys.argv[1:]]
    print(json.dumps({str(seed): fingerprints(seed) for seed in seeds}))

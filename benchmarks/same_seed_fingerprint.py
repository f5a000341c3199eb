"""Same seed, two commits: do the models and baselines compute the same numbers?

For a refactor that must not change behaviour (issue 14), this trains every scssl
model briefly with a fixed seed, computes the PCA baseline, the leave-one-batch-out
kNN metric, the two-domain drug-response matrix and reference mapping, and prints a
fingerprint of each result (sum of absolute values and of squares, at float32
precision). Run it at the commit before and after a change and compare:

    ../.venv/bin/python same_seed_fingerprint.py --rev 7e64c0b --rev HEAD

Each ``--rev`` is checked out into a temporary git worktree and the script runs with
that worktree's ``src`` first on the path. Writes ``results/same_seed_fingerprint.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _fingerprint(values) -> list:
    v = np.asarray(values, dtype=np.float64)
    return [round(float(np.abs(v).sum()), 3), round(float((v**2).sum()), 3), list(v.shape)]


def measure() -> dict:
    """Fingerprints of every result, computed with the scssl on ``sys.path``."""
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import anndata
    import pandas as pd
    import scvi
    import torch

    import scssl

    torch.set_num_threads(1)
    adata = scssl.data.pbmc68k_counts()
    fit = {"max_epochs": 2, "enable_progress_bar": False}
    out = {}

    def model(cls, **kwargs):
        scvi.settings.seed = 0
        a = adata.copy()
        cls.setup_anndata(a, layer="counts", batch_key="phase")
        m = cls(a, **kwargs)
        m.train(**fit)
        return a, m

    for name, cls, kwargs in [
        ("MaskedAE", scssl.model.MaskedAE, {}),
        ("MaskedAE nb", scssl.model.MaskedAE, {"reconstruction": "nb"}),
        ("SimCLR", scssl.model.Contrastive, {"method": "simclr", "nb_prob": 0.3}),
        ("BYOL", scssl.model.Contrastive, {"method": "byol", "crossover_prob": 0.3}),
        ("Barlow Twins", scssl.model.Contrastive, {"method": "barlow_twins"}),
        ("VICReg", scssl.model.Contrastive, {"method": "vicreg", "swap_prob": 0.3}),
        ("MaskedContrastive", scssl.model.MaskedContrastive, {}),
    ]:
        _, m = model(cls, **kwargs)
        out[name] = _fingerprint(m.get_latent_representation())

    a, ssl = model(scssl.model.MaskedAE, encode_covariates=True)
    scvi.settings.seed = 0
    clf = scssl.model.CellTypeClassifier.from_pretrained(
        ssl, a, labels_key="bulk_labels", n_hidden_head=16
    )
    clf.train(max_epochs=3, enable_progress_bar=False)
    out["CellTypeClassifier"] = _fingerprint(clf.predict(soft=True).to_numpy() ** 2)
    query = a[a.obs["phase"] == "G1"].copy()
    query.obs["phase"] = "query"
    scvi.settings.seed = 0
    q = scssl.model.MaskedAE.load_query_data(query, ssl)
    q.train(**fit)
    out["query mapping"] = _fingerprint(q.get_latent_representation())

    rng = np.random.default_rng(0)
    obs = pd.DataFrame(
        {
            "domain": ["bulk"] * 150 + ["sc"] * 150,
            "response": list(rng.integers(0, 2, 150).astype(float)) + [np.nan] * 150,
        }
    )
    two = anndata.AnnData(rng.normal(size=(300, 40)).astype(np.float32), obs=obs)
    scvi.settings.seed = 0
    scssl.model.DrugResponseTransfer.setup_anndata(two)
    drug = scssl.model.DrugResponseTransfer(two, n_hidden_predictor=8, mmd_weight=1.0)
    drug.train(max_epochs=5, enable_progress_bar=False)
    out["DrugResponseTransfer"] = _fingerprint(
        np.c_[drug.get_latent_representation(), drug.predict_proba()]
    )
    built = scssl.data.build_drug_response_adata(
        scssl.data.gdsc_bulk_expression(),
        scssl.data.gdsc_ln_ic50("Erlotinib"),
        scssl.data.pc9_erlotinib(),
        threshold=scssl.data.ln_ic50_threshold("Erlotinib"),
        smoothing_k=5,
    )
    out["build_drug_response_adata (GDSC -> PC9)"] = _fingerprint(built.X)

    baron = scssl.data.baron_pancreas()
    pca = scssl.tl.pca_embedding(baron, n_comps=50)
    out["PCA baseline (Baron)"] = _fingerprint(pca)
    table = scssl.metrics.leave_one_batch_out(
        pca, baron.obs["cell_type1"].to_numpy(), baron.obs["donor"].to_numpy()
    )
    out["LOBO kNN on PCA (Baron): macro-F1, accuracy"] = [
        round(float(table.loc["mean", "macro_f1"]), 6),
        round(float(table.loc["mean", "accuracy"]), 6),
    ]
    return out


def _data_dir() -> Path:
    sys.path.insert(0, str(ROOT / "src"))
    import scssl

    return Path(scssl.data.data_dir()).resolve()


def _run_at(rev: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev],
            check=True,
        )
        try:
            code = (
                f"import sys, json; sys.path.insert(0, {str(tree / 'src')!r}); "
                f"sys.path.insert(1, {str(HERE)!r}); import same_seed_fingerprint as s; "
                "print(json.dumps(s.measure()))"
            )
            # the data folder as this checkout sees it (the default is relative to src/)
            env = {**os.environ, "SCSSL_DATA_DIR": str(_data_dir())}
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env
            )
            if done.returncode != 0:
                raise RuntimeError(f"{rev} failed:\n{done.stderr[-3000:]}")
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True
            )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rev", action="append", required=True, help="git revision (twice)")
    args = parser.parse_args()
    revs = [
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", r],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for r in args.rev
    ]
    results = {rev: _run_at(rev) for rev in revs}
    names = list(results[revs[0]])
    lines = [
        "# Same-seed fingerprints before and after a refactor",
        "",
        f"`benchmarks/same_seed_fingerprint.py --rev {' --rev '.join(revs)}`: every model trained",
        "briefly with seed 0 (pbmc68k, batch `phase`), the drug-response matrix, the PCA",
        "baseline and its leave-one-donor-out kNN score on Baron. A fingerprint is",
        "`[sum |x|, sum x^2, shape]`; `same` means equal to the printed precision.",
        "",
        "| result | " + " | ".join(revs) + " | same |",
        "|---|" + "---|" * len(revs) + "---|",
    ]
    for name in names:
        values = [results[r].get(name) for r in revs]
        same = "yes" if all(v == values[0] for v in values) else "**no**"
        lines.append(f"| {name} | " + " | ".join(f"`{v}`" for v in values) + f" | {same} |")
    text = "\n".join(lines) + "\n"
    (HERE / "results" / "same_seed_fingerprint.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

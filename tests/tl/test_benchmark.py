"""scssl.benchmark: methods scored alike on real cells; failures, skips, budget, figures, CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import scssl
from scssl.cli import main
from scssl.train import EpochTimeBudget

QUICK = {"pca": None, "masked_ae": {"max_epochs": 2}, "simclr": {"max_epochs": 1}}


@pytest.fixture(scope="module")
def baron_result(baron_small):
    adata = baron_small.copy()
    result = scssl.benchmark(
        adata,
        batch_key="donor",
        labels_key="cell_type1",
        methods=QUICK,
        seeds=[0, 1],
        n_top_genes=300,
        write_embeddings=True,
        progress_bar=False,
    )
    return adata, result


def test_benchmark_scores_every_method_and_seed_in_a_tidy_table(baron_result, baron_small):
    adata, result = baron_result
    assert list(result.scores.columns) == ["method", "seed", "metric", "value"]
    assert set(result.scores.method) == set(QUICK)
    assert set(result.scores.seed) == {0, 1}
    per_run = result.scores.groupby(["method", "seed"]).metric.apply(set)
    for metrics in per_run:
        assert {"knn_macro_f1", "knn_accuracy", "bio_conservation", "batch_correction"} <= metrics
        assert {"total", "ilisi", "train_seconds"} <= metrics
    # only the masked autoencoder reconstructs; only trained methods have a throughput
    assert set(result.scores.loc[result.scores.metric == "masked_mse", "method"]) == {"masked_ae"}
    assert "pca" not in set(result.scores.loc[result.scores.metric == "cells_per_second", "method"])
    assert (result.runs.status == "ok").all() and result.failures.empty
    assert result.runs.set_index("method").loc["masked_ae", "epochs"].tolist() == [2, 2]
    # the LOBO score is the one of scssl.metrics on the written embedding
    embedding = adata.obsm["X_scssl_benchmark_pca_0"]
    expected = scssl.metrics.leave_one_batch_out(
        embedding, adata.obs["cell_type1"].to_numpy(), adata.obs["donor"].to_numpy()
    ).loc["mean", "macro_f1"]
    got = result.scores.query("method == 'pca' and seed == 0 and metric == 'knn_macro_f1'")
    assert got.value.item() == pytest.approx(expected)
    assert result.settings["n_genes"] == 300 and result.settings["versions"]["scssl"]


def test_benchmark_summary_ranks_by_the_aggregate_and_leaves_the_data_alone(
    baron_result, baron_small
):
    adata, result = baron_result
    summary = result.summary()
    assert result.aggregate == "total"
    assert summary["total"].is_monotonic_decreasing
    assert summary["rank"].tolist() == [1, 2, 3] and (summary["n_seeds"] == 2).all()
    means = result.scores[result.scores.metric == "total"].groupby("method").value.mean()
    assert summary["total"].to_dict() == pytest.approx(means.to_dict())
    assert result.ranked_methods == list(summary.index)
    # only the documented obsm keys were added
    added = set(adata.obsm) - set(baron_small.obsm)
    assert added == {f"X_scssl_benchmark_{m}_{s}" for m in QUICK for s in (0, 1)}
    assert adata.obs.equals(baron_small.obs) and (adata.X != baron_small.X).nnz == 0
    text = result.to_markdown()
    assert "± " in text and "masked_ae" in text


def test_benchmark_reports_a_failing_method_and_goes_on(pbmc):
    result = scssl.benchmark(
        pbmc,
        layer="counts",
        labels_key="bulk_labels",
        methods={"pca": None, "masked_ae": {"n_latent": 0, "max_epochs": 1}},
        seeds=[0],
        n_top_genes=300,
        progress_bar=False,
    )
    assert result.failures.method.tolist() == ["masked_ae"]
    assert not result.runs.budget_stopped.any()  # a failed run was not cut by a budget
    assert result.failures.error.item()  # the error text is kept
    assert result.ranked_methods == ["pca"]
    assert "masked_ae (seed 0) failed" in result.to_markdown()


def test_benchmark_without_labels_scores_batch_mixing_only_and_says_so(pbmc):
    result = scssl.benchmark(
        pbmc, layer="counts", batch_key="phase", methods=["pca"], seeds=[0], progress_bar=False
    )
    metrics = set(result.scores.metric)
    assert "ilisi" in metrics and "knn_macro_f1" not in metrics and "clisi" not in metrics
    total = result.scores.set_index("metric").value
    assert total["total"] == pytest.approx(total["batch_correction"])
    assert any("no labels_key" in note for note in result.notes)


def test_benchmark_with_one_batch_cross_validates_and_skips_batch_metrics(pbmc):
    result = scssl.benchmark(
        pbmc, layer="counts", labels_key="bulk_labels", methods=["pca"], seeds=[0],
        progress_bar=False,
    )  # fmt: skip
    metrics = set(result.scores.metric)
    assert "knn_macro_f1" in metrics
    assert "ilisi" not in metrics and "batch_correction" not in metrics
    scores = result.scores.set_index("metric").value
    embedding = scssl.tl.pca_embedding(
        pbmc[:, scssl.data.highly_variable_genes(pbmc, layer="counts")], layer="counts"
    )
    cv = scssl.metrics.knn_cross_validation(embedding, pbmc.obs["bulk_labels"].to_numpy())
    assert scores["knn_macro_f1"] == pytest.approx(cv["macro_f1"])
    assert any("cross-validation" in note for note in result.notes)


def test_benchmark_without_scib_ranks_by_knn_macro_f1(pbmc):
    result = scssl.benchmark(
        pbmc,
        layer="counts",
        labels_key="bulk_labels",
        methods={"pca": None, "pca_5": {"method": "pca", "n_comps": 5}},
        seeds=[0],
        scib=False,
        progress_bar=False,
    )
    assert result.aggregate == "knn_macro_f1"
    assert set(result.scores.metric) == {"knn_macro_f1", "knn_accuracy", "train_seconds"}
    assert result.summary().knn_macro_f1.is_monotonic_decreasing
    assert any("scib=False" in note for note in result.notes)
    with pytest.raises(ValueError, match="nothing to score"):
        scssl.benchmark(pbmc, layer="counts", batch_key="phase", methods=["pca"], scib=False)


def test_benchmark_refuses_bad_input_before_training(pbmc):
    adata = pbmc.copy()
    call = dict(layer="counts", methods=["pca"], seeds=[0], progress_bar=False)
    with pytest.raises(ValueError, match="unknown method 'scanvi'"):
        scssl.benchmark(adata, labels_key="bulk_labels", **{**call, "methods": ["scanvi"]})
    with pytest.raises(ValueError, match="nothing to score"):
        scssl.benchmark(adata, **call)
    with pytest.raises(KeyError, match="labels_key='typo'"):
        scssl.benchmark(adata, labels_key="typo", **call)
    adata.obs["partial"] = adata.obs["bulk_labels"].astype(object)
    adata.obs.iloc[0, adata.obs.columns.get_loc("partial")] = np.nan
    with pytest.raises(ValueError, match="1 missing values"):
        scssl.benchmark(adata, labels_key="partial", **call)
    with pytest.raises(ValueError, match="time_budget"):
        scssl.benchmark(adata, labels_key="bulk_labels", time_budget=0, **call)
    with pytest.raises(ValueError, match="seeds"):
        scssl.benchmark(adata, labels_key="bulk_labels", **{**call, "seeds": [1, 1]})
    adata.layers["lognorm"] = np.log1p(adata.layers["counts"])
    with pytest.raises(ValueError, match="non-integer"):
        scssl.benchmark(adata, labels_key="bulk_labels", **{**call, "layer": "lognorm"})
    assert set(adata.obsm) == set(pbmc.obsm)


def test_benchmark_variants_name_their_method_and_can_drop_the_batch(pbmc, monkeypatch):
    from scssl.tl import _benchmark_methods

    given_batch = {}

    def spy(work, settings):  # records what the model would be given, trains nothing
        given_batch[settings.seed] = (settings.batch_key, settings.kwargs)
        return _benchmark_methods.pca(work, replace(settings, kwargs={}))

    monkeypatch.setitem(_benchmark_methods.METHODS, "masked_ae", spy)
    adata = pbmc.copy()
    result = scssl.benchmark(
        adata,
        layer="counts",
        batch_key="phase",
        labels_key="bulk_labels",
        methods={
            "pca_10": {"method": "pca", "n_comps": 10},
            "mae_no_batch": {"method": "masked_ae", "batch_covariate": False, "n_latent": 4},
        },
        seeds=[0],
        write_embeddings=True,
        progress_bar=False,
    )
    assert set(result.runs.method) == {"pca_10", "mae_no_batch"}
    assert adata.obsm["X_scssl_benchmark_pca_10_0"].shape == (pbmc.n_obs, 10)
    assert given_batch == {0: (None, {"n_latent": 4})}
    assert result.settings["methods"]["mae_no_batch"]["batch_covariate"] is False


def test_time_budget_stops_training_at_an_epoch_end_and_is_reported(pbmc):
    result = scssl.benchmark(
        pbmc,
        layer="counts",
        labels_key="bulk_labels",
        methods={"masked_ae": {"max_epochs": 200}},
        seeds=[0],
        n_top_genes=300,
        time_budget=1.0,
        progress_bar=False,
    )
    run = result.runs.iloc[0]
    assert run.budget_stopped and 1 <= run.epochs < 200 and run.max_epochs == 200
    assert any("stopped early: masked_ae seed 0" in note for note in result.notes)
    assert result.settings["seconds_per_trained_run"] == pytest.approx(1.0)


def test_epoch_time_budget_refuses_a_non_positive_budget():
    with pytest.raises(ValueError, match="positive"):
        EpochTimeBudget(0)


def test_benchmark_figures_are_written_and_not_empty(baron_result, tmp_path):
    _, result = baron_result
    fig = scssl.pl.benchmark(result, save=tmp_path / "panels.png")
    titles = {ax.get_title() for ax in fig.axes}
    assert {"label transfer", "bio conservation", "batch correction", "reconstruction"} <= titles
    assert (tmp_path / "panels.png").stat().st_size > 10_000
    scssl.pl.benchmark_table(result, save=tmp_path / "table.png")
    assert (tmp_path / "table.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="no values"):
        scssl.pl.benchmark(result, groups=["kbet"])


def test_benchmark_in_parallel_processes_gives_the_runs_in_call_order(pbmc):
    methods = {"pca": None, "masked_ae": {"max_epochs": 1}}
    kwargs = dict(layer="counts", labels_key="bulk_labels", seeds=[0, 1], n_top_genes=200)
    result = scssl.benchmark(pbmc, methods=methods, n_jobs=2, progress_bar=False, **kwargs)
    assert (result.runs.status == "ok").all()
    assert list(zip(result.runs.method, result.runs.seed)) == [
        ("pca", 0), ("pca", 1), ("masked_ae", 0), ("masked_ae", 1)
    ]  # fmt: skip
    # PCA is deterministic: the same scores whichever process computed it (times aside)
    sequential = scssl.benchmark(pbmc, methods=["pca"], progress_bar=False, **kwargs).scores
    parallel = result.scores[result.scores.method == "pca"]
    scores = [s[s.metric != "train_seconds"].reset_index(drop=True) for s in (parallel, sequential)]
    pd.testing.assert_frame_equal(*scores)


def test_benchmark_cli_writes_tables_figures_and_settings(baron_small, tmp_path, capsys):
    path = tmp_path / "baron.h5ad"
    baron_small.write_h5ad(path)
    out = tmp_path / "report"
    argv = ["benchmark", "--input", str(path), "--output", str(out), "--batch-key", "donor"]
    argv += ["--labels-key", "cell_type1", "--methods", "pca,masked_ae", "--seeds", "0"]
    argv += ["--max-epochs", "1", "--n-top-genes", "200"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["ranking"]) == {"pca", "masked_ae"} and report["failed"] == []
    for name in ("scores.csv", "runs.csv", "summary.md", "benchmark.png", "benchmark_table.png"):
        assert (out / name).stat().st_size > 0, name
    settings = json.loads((out / "settings.json").read_text())
    assert settings["labels_key"] == "cell_type1" and "scvi-tools" in settings["versions"]
    assert "| masked_ae" in (out / "summary.md").read_text()
    assert main(["benchmark", "--input", str(path), "--output", str(out), "--labels-key", "x"]) == 2


def test_benchmark_finds_positive_partners_for_paired_contrastive_variants(baron_small):
    adata = baron_small.copy()
    scssl.tl.knn_pairs(adata, k=5, key_added="my_knn")
    methods = {
        "simclr_own_knn": {"method": "simclr", "knn_prob": 0.5, "knn_key": "my_knn"},
        "simclr_knn": {"method": "simclr", "knn_prob": 0.5, "max_epochs": 1},
        "vicreg_mnn": {"method": "vicreg", "mnn_prob": 0.5, "max_epochs": 1},
        "byol_mnn_no_batch": {"method": "byol", "mnn_prob": 0.5, "batch_covariate": False},
        "masked_contrastive": {"max_epochs": 1},
    }
    methods["simclr_own_knn"]["max_epochs"] = 1
    result = scssl.benchmark(
        adata,
        batch_key="donor",
        labels_key="cell_type1",
        methods=methods,
        seeds=[0],
        n_top_genes=300,
        progress_bar=False,
    )
    status = result.runs.set_index("method").status
    assert status.to_dict() == {
        "simclr_own_knn": "ok",
        "simclr_knn": "ok",
        "vicreg_mnn": "ok",
        "byol_mnn_no_batch": "failed",
        "masked_contrastive": "ok",
    }
    assert "mnn_prob needs batches" in result.failures.error.item()
    with pytest.raises(KeyError, match="not found in adata.obsm"):
        scssl.benchmark(
            adata,
            labels_key="cell_type1",
            methods={"simclr": {"knn_prob": 0.5, "knn_key": "typo"}},
            progress_bar=False,
        )

"""``scssl.benchmark``: train scssl's methods and the baselines on one AnnData, score them alike."""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import warnings
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from anndata import AnnData

from scssl._constants import OUTPUT_KEYS
from scssl.data import DEFAULT_N_TOP_GENES, check_obs_columns, highly_variable_genes
from scssl.train import quiet_lightning

from ._benchmark_methods import METHODS, TRAINED_METHODS, MethodRun, RunSettings
from ._benchmark_result import BenchmarkResult
from ._benchmark_scores import budget_notes, notes_on_skipped, score_run, tables
from ._fit import registration_view

logger = logging.getLogger("scssl")

DEFAULT_METHODS = ("masked_ae", "simclr", "vicreg", "byol", "barlow_twins", "pca", "scvi")


def _method_specs(methods: Sequence[str] | Mapping[str, dict | None]) -> dict[str, dict]:
    """Label -> ``{"method", "batch_covariate", "kwargs"}``; unknown methods refused early.

    A label that is not a method's name is a variant: its arguments name the method
    (``"method": "masked_ae"``). ``"batch_covariate": False`` keeps the batch from the
    model (the metrics still use it).
    """
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of names or a dict, not the string {methods!r}")
    named = dict(methods) if isinstance(methods, Mapping) else {m: None for m in methods}
    if not named:
        raise ValueError("methods is empty")
    specs = {}
    for label, arguments in named.items():
        kwargs = dict(arguments or {})
        method = kwargs.pop("method", label)
        if method not in METHODS:
            raise ValueError(
                f"unknown method {method!r} (for {label!r}); choose from {sorted(METHODS)}, "
                "or name one with {'method': ...} in a variant's arguments"
            )
        batch_covariate = bool(kwargs.pop("batch_covariate", True))
        partners = {key: kwargs.pop(key) for key in ("knn_key", "mnn_key") if key in kwargs}
        specs[label] = {
            "method": method,
            "batch_covariate": batch_covariate,
            "kwargs": kwargs,
            "partner_keys": partners,
        }
    return specs


def _obs_values(adata: AnnData, key: str | None, option: str) -> np.ndarray | None:
    """The column ``key`` as strings, checked like a model's categorical covariate."""
    if key is None:
        return None
    if key not in adata.obs:
        raise KeyError(f"{option}={key!r} is not a column of adata.obs")
    check_obs_columns(adata, {option: key})
    return adata.obs[key].astype(str).to_numpy()


def _run_one(work: AnnData, settings: RunSettings, threads: int | None):
    """One (method, seed): its :class:`MethodRun`, or the error text if it raised."""
    if threads is not None:  # a worker process of n_jobs > 1
        import torch

        torch.set_num_threads(threads)
    # each run registers its own light copy: the counts are shared, not copied
    own = AnnData(X=work.X, obs=work.obs.copy(), var=work.var.copy(), obsm=dict(work.obsm))
    try:
        with quiet_lightning(), warnings.catch_warnings():
            # Lightning's notes repeated at every run, none about the user's data
            warnings.filterwarnings("ignore", message=".*smaller than the logging interval")
            warnings.filterwarnings("ignore", message=".*LeafSpec")
            return METHODS[settings.method](own, settings)
    except Exception as error:  # reported in the result; the other runs go on
        return f"{type(error).__name__}: {error}"


def _keyed_run(key: tuple[str, int], work: AnnData, settings: RunSettings, threads: int):
    """``_run_one`` returning its (method, seed) too: parallel runs finish in any order."""
    return key, _run_one(work, settings, threads)


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("scssl", "scvi-tools", "torch", "anndata", "scanpy", "scib-metrics"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def benchmark(
    adata: AnnData,
    *,
    layer: str | None = None,
    batch_key: str | None = None,
    labels_key: str | None = None,
    methods: Sequence[str] | Mapping[str, dict | None] = DEFAULT_METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    time_budget: float | None = None,
    n_jobs: int = 1,
    n_top_genes: int | None = DEFAULT_N_TOP_GENES,
    write_embeddings: bool = False,
    progress_bar: bool = True,
    scib: bool = True,
) -> BenchmarkResult:
    """Train each method on ``adata`` with every seed and score the embeddings alike.

    Every method sees the same cells and the same genes: the ``n_top_genes`` highly
    variable genes (``seurat_v3`` on counts, batch-aware with ``batch_key``), chosen
    once. Scores (see :class:`~scssl.tl.BenchmarkResult` for the table's layout):

    - **label transfer** (with ``labels_key``): kNN (k=15) macro-F1 and accuracy,
      leave-one-batch-out (each batch in turn the query, the others the reference,
      mean over batches; :func:`scssl.metrics.leave_one_batch_out`); with one batch,
      5-fold cross-validation (:func:`scssl.metrics.knn_cross_validation`).
    - **scib-metrics** bio conservation and batch correction and their aggregate
      ``total = 0.6 * bio + 0.4 * batch`` (:func:`scssl.metrics.scib_scores`; bio
      only with one batch, batch only without labels).
    - **masked reconstruction** (MaskedAE): MSE and explained variance of 15% hidden
      entries of the model's validation cells, which training never fitted.
    - **cost**: training seconds (set-up and training, not embedding) and cells x
      epochs per second.

    Methods are ranked by the mean over seeds of ``total`` (or of kNN macro-F1 with
    ``scib=False`` or when scib-metrics is not installed). A method that raises is reported in
    ``result.runs`` with its error; the others go on.

    Parameters
    ----------
    adata
        AnnData with raw counts in ``X`` or ``layer``; not modified unless
        ``write_embeddings``.
    layer
        Layer with raw counts.
    batch_key
        Column of ``adata.obs`` with the batch: the models' batch covariate, the
        held-out unit of label transfer and the batch of the batch metrics.
    labels_key
        Column of ``adata.obs`` with cell types; ``None`` skips the label metrics.
    methods
        Names among ``"masked_ae"``, ``"simclr"``, ``"vicreg"``, ``"byol"``,
        ``"barlow_twins"``, ``"pca"``, ``"scvi"`` (and ``"masked_contrastive"``, not
        in the default selection); or a dict name -> keyword
        arguments. Arguments named like a parameter of the model's ``train``
        (``max_epochs``, ``batch_size``, ``lr``, ...) go to ``train``, the others to
        the model's constructor (``n_latent``, ``mask_ratio``, ...); ``pca`` takes
        ``n_comps``. A key that is not a method's name is a variant, reported under
        that key: its arguments say which method (``{"mae_small": {"method":
        "masked_ae", "n_latent": 8}}``); ``"batch_covariate": False`` trains it
        without the batch (by default every model but PCA gets ``batch_key``).
        Contrastive methods get their partners as :func:`scssl.tl.contrastive`
        does: kNN partners from :func:`scssl.tl.knn_pairs` unless ``knn_prob=0``
        (without hard negatives), MNN partners from :func:`scssl.tl.mnn_pairs` with
        ``mnn_prob`` (defaults, on the benchmark's genes; the search counts as
        training time), unless the
        arguments name the user's own (``"knn_key"``: an ``.obsm`` key,
        ``"mnn_key"``: an ``.obs`` column, as for ``setup_anndata``).
    seeds
        One run per method and seed (``scvi.settings.seed``).
    time_budget
        Seconds of training for the whole benchmark. Each trained run (every method
        but PCA, every seed) gets an equal share, ``time_budget * n_jobs / n_runs``;
        it trains for its usual number of epochs but stops at the end of the epoch
        after which the next would exceed its share (at least one epoch;
        :class:`scssl.train.EpochTimeBudget`). Scoring is not counted. Runs cut
        short are listed in ``result.notes`` and ``result.runs``.
    n_jobs
        Runs trained at once, each in its own process with ``cpu_count // n_jobs``
        torch threads. With more than one, runs share the machine: their times
        are comparable with each other only roughly.
    n_top_genes
        Highly variable genes every method trains on; ``None``: all genes.
    write_embeddings
        Write each run's embedding to
        ``adata.obsm["X_scssl_benchmark_<method>_<seed>"]``.
    progress_bar
        Show a progress bar over the runs.
    scib
        Compute the scib-metrics scores (``False``: label transfer, reconstruction
        and cost only, which is faster on large data; the ranking is then by kNN
        macro-F1).

    Returns
    -------
    A :class:`~scssl.tl.BenchmarkResult`.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> result = scssl.benchmark(adata, layer="counts", labels_key="bulk_labels",
    ...                          methods={"pca": None, "masked_ae": {"max_epochs": 2}},
    ...                          seeds=[0], progress_bar=False)
    >>> result.ranked_methods[0] in ("pca", "masked_ae")
    True
    >>> fig = scssl.pl.benchmark(result)
    """
    specs = _method_specs(methods)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) < len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"time_budget must be a positive number of seconds, got {time_budget}")
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be at least 1, got {n_jobs}")
    labels = _obs_values(adata, labels_key, "labels_key")
    batches = _obs_values(adata, batch_key, "batch_key")
    if batches is not None and np.unique(batches).size < 2:
        batches = None  # one batch: nothing to hold out or to mix (the models still get it)
    scib_available = importlib.util.find_spec("scib_metrics") is not None
    notes = notes_on_skipped(labels, batches, scib, scib_available)
    scib = scib and scib_available
    if labels is None and (not scib or batches is None):
        raise ValueError(
            "nothing to score: give labels_key (cell types), or a batch_key with two or "
            "more batches and scib=True (with scib-metrics installed)"
        )
    given = [spec["partner_keys"] for spec in specs.values()]
    work = registration_view(  # with the partners the user gave (cells are never subset)
        adata,
        layer,
        [batch_key, *{keys["mnn_key"] for keys in given if "mnn_key" in keys}],
        list({keys["knn_key"] for keys in given if "knn_key" in keys}),
    )
    if n_top_genes is not None:
        genes = highly_variable_genes(work, batch_key=batch_key, n_top_genes=n_top_genes)
        work = work[:, genes].copy() if len(genes) < work.n_vars else work
    jobs = [(label, seed) for label in specs for seed in seeds]
    n_trained = sum(specs[label]["method"] in TRAINED_METHODS for label, _ in jobs)
    share = time_budget * n_jobs / n_trained if time_budget and n_trained else None
    settings = {
        (label, seed): RunSettings(
            specs[label]["method"],
            batch_key if specs[label]["batch_covariate"] else None,
            seed,
            specs[label]["kwargs"],
            share,
            specs[label]["partner_keys"],
        )
        for label, seed in jobs
    }
    scored: dict = {}

    def score(key: tuple[str, int], run: MethodRun | str) -> None:
        """Score a run as soon as it has finished; the progress bar counts both."""
        label, seed = key
        if isinstance(run, str):
            logger.warning("benchmark: %s (seed %d) failed: %s", label, seed, run)
            scored[key] = (run, None)
            return
        scored[key] = (run, score_run(run, labels, batches, seed, scib, notes))
        if write_embeddings:
            adata.obsm[f"{OUTPUT_KEYS.BENCHMARK_PREFIX}{label}_{seed}"] = run.embedding

    _execute(work, settings, n_jobs, progress_bar, score)
    score_table, run_table = tables({key: scored[key] for key in settings})  # call order
    notes += budget_notes(run_table, share)
    return BenchmarkResult(
        scores=score_table,
        runs=run_table,
        aggregate="total" if scib else "knn_macro_f1",
        notes=notes,
        settings={
            "layer": layer,
            "batch_key": batch_key,
            "labels_key": labels_key,
            "methods": specs,
            "seeds": seeds,
            "time_budget": time_budget,
            "seconds_per_trained_run": share,
            "n_jobs": n_jobs,
            "n_top_genes": n_top_genes,
            "n_cells": int(work.n_obs),
            "n_genes": int(work.n_vars),
            "versions": _versions(),
        },
    )


def _execute(
    work: AnnData, settings: dict, n_jobs: int, progress_bar: bool, on_done: Callable
) -> None:
    """Run every (method, seed), in order or in ``n_jobs`` processes; ``on_done(key, run)``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(settings), desc="benchmark", disable=not progress_bar)
    if n_jobs == 1:
        for (label, seed), run_settings in settings.items():
            bar.set_postfix_str(f"{label}, seed {seed}")
            on_done((label, seed), _run_one(work, run_settings, None))
            bar.update()
    else:
        from joblib import Parallel, delayed

        threads = max(1, (os.cpu_count() or 1) // n_jobs)
        calls = (delayed(_keyed_run)(key, work, s, threads) for key, s in settings.items())
        for key, run in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls):
            on_done(key, run)
            bar.set_postfix_str(f"{key[0]}, seed {key[1]} done")
            bar.update()
    bar.close()

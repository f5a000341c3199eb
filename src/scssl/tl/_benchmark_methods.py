"""The methods :func:`scssl.benchmark` trains: one function per method, same inputs, same output."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from anndata import AnnData

from ._pca import pca_embedding


@dataclass(frozen=True)
class RunSettings:
    """What one benchmark run is given besides the data.

    ``method`` is a key of :data:`METHODS`; ``batch_key`` the batch column given to
    the model (``None``: none); ``kwargs`` the user's keyword arguments for the
    method; ``seconds`` the training time budget of this run (``None``: no budget);
    ``partner_keys`` the user's own ``knn_key`` / ``mnn_key`` (partners then not
    searched).
    """

    method: str
    batch_key: str | None
    seed: int
    kwargs: dict = field(default_factory=dict)
    seconds: float | None = None
    partner_keys: dict = field(default_factory=dict)  # given knn_key / mnn_key


@dataclass
class MethodRun:
    """One trained method: its embedding, training cost and the model's own scores."""

    embedding: np.ndarray
    seconds: float
    epochs: int | None = None  # None: not trained by epochs (PCA)
    max_epochs: int | None = None
    budget_stopped: bool = False
    reconstruction: dict[str, float] = field(default_factory=dict)


def split_kwargs(train: Callable, kwargs: dict) -> tuple[dict, dict]:
    """``kwargs`` split into (constructor arguments, ``train`` arguments) by ``train``'s names."""
    train_names = set(inspect.signature(train).parameters) - {"self"}
    model_kwargs = {k: v for k, v in kwargs.items() if k not in train_names}
    train_kwargs = {k: v for k, v in kwargs.items() if k in train_names}
    return model_kwargs, train_kwargs


def _train(model, settings: RunSettings, train_kwargs: dict) -> tuple[int, int, bool]:
    """Train quietly under the run's time budget; (epochs run, epochs planned, cut by budget)."""
    from scssl.train import EpochTimeBudget

    budget = EpochTimeBudget(settings.seconds or math.inf)
    callbacks = [*train_kwargs.pop("callbacks", []), budget]
    train_kwargs.setdefault("enable_progress_bar", False)
    model.train(callbacks=callbacks, **train_kwargs)
    return budget.epochs_run, budget.max_epochs, budget.stopped


def _train_model(
    model_cls,
    work: AnnData,
    settings: RunSettings,
    defaults: dict | None = None,
    setup_keys: dict | None = None,
) -> MethodRun:
    """Set up, train and embed an scvi-tools model (scssl's or SCVI) on the view ``work``."""
    import scvi

    scvi.settings.seed = settings.seed
    model_kwargs, train_kwargs = split_kwargs(model_cls.train, settings.kwargs)
    start = time.perf_counter()
    model_cls.setup_anndata(work, batch_key=settings.batch_key, **(setup_keys or {}))
    model = model_cls(work, **{**(defaults or {}), **model_kwargs})
    epochs, max_epochs, stopped = _train(model, settings, train_kwargs)
    seconds = time.perf_counter() - start
    run = MethodRun(
        np.asarray(model.get_latent_representation()), seconds, epochs, max_epochs, stopped
    )
    if hasattr(model, "get_masked_reconstruction"):
        run.reconstruction = _masked_reconstruction(model)
    return run


def _masked_reconstruction(model) -> dict[str, float]:
    """Error on hidden entries of the model's validation cells (never fitted in training)."""
    from scssl.metrics import masked_reconstruction_error

    held_out = getattr(model, "validation_indices", None)
    if held_out is None or len(held_out) == 0:
        return {}
    scores = masked_reconstruction_error(**model.get_masked_reconstruction(indices=held_out))
    return {"mse": scores["mse"], "explained_variance": scores["explained_variance"]}


def masked_ae(work: AnnData, settings: RunSettings) -> MethodRun:
    """:class:`~scssl.model.MaskedAE` with its defaults (batch in the decoder)."""
    from scssl.model import MaskedAE

    return _train_model(MaskedAE, work, settings)


def _positive_partners(work: AnnData, settings: RunSettings) -> dict[str, str]:
    """Find the partners that the settings ask for, as :func:`scssl.tl.contrastive` does.

    kNN partners unless ``knn_prob=0`` without hard negatives (the model's default
    uses them); MNN partners with ``mnn_prob``. Partners the user gave
    (``partner_keys``) are used as they are; the others come from
    :func:`scssl.tl.knn_pairs` and :func:`scssl.tl.mnn_pairs` with their defaults, on
    the benchmark's genes, written into the run's own copy ``work``.
    """
    from scssl._constants import OUTPUT_KEYS

    from ._contrastive import _default_knn_partners, _wants_default_knn, mnn_pairs

    setup_keys = dict(settings.partner_keys)
    if _wants_default_knn(setup_keys.get("knn_key"), settings.kwargs):
        setup_keys.update(_default_knn_partners(work))
    if settings.kwargs.get("mnn_prob") and "mnn_key" not in setup_keys:
        if settings.batch_key is None:
            raise ValueError("mnn_prob needs batches: give batch_key (and batch_covariate True)")
        mnn_pairs(work, batch_key=settings.batch_key, key_added=OUTPUT_KEYS.MNN_PARTNER)
        setup_keys["mnn_key"] = OUTPUT_KEYS.MNN_PARTNER
    return setup_keys


def contrastive(method: str, work: AnnData, settings: RunSettings) -> MethodRun:
    """:class:`~scssl.model.Contrastive` with ``method`` and its defaults.

    The partners are searched first as :func:`scssl.tl.contrastive` does
    (:func:`_positive_partners`); that search counts in the training time.
    """
    from scssl.model import Contrastive

    if "method" in settings.kwargs:
        raise TypeError("the contrastive objective is the method's name; do not pass method=")
    start = time.perf_counter()
    setup_keys = _positive_partners(work, settings)
    search_seconds = time.perf_counter() - start
    run = _train_model(Contrastive, work, settings, {"method": method}, setup_keys)
    run.seconds += search_seconds
    return run


def masked_contrastive(work: AnnData, settings: RunSettings) -> MethodRun:
    """:class:`~scssl.model.MaskedContrastive` (the masked + contrastive hybrid), defaults."""
    from scssl.model import MaskedContrastive

    return _train_model(MaskedContrastive, work, settings)


def scvi_model(work: AnnData, settings: RunSettings) -> MethodRun:
    """scvi-tools' SCVI with its defaults (batch as covariate, its own epoch heuristic)."""
    import scvi

    return _train_model(scvi.model.SCVI, work, settings)


def pca(work: AnnData, settings: RunSettings) -> MethodRun:
    """50 principal components of log1p-normalised counts (:func:`scssl.tl.pca_embedding`)."""
    unknown = set(settings.kwargs) - {"n_comps"}
    if unknown:
        raise TypeError(f"pca takes only n_comps, got {sorted(unknown)}")
    start = time.perf_counter()
    embedding = pca_embedding(work, seed=settings.seed, **settings.kwargs)
    return MethodRun(embedding, time.perf_counter() - start)


#: method name -> function (registration view, settings) -> MethodRun
METHODS: dict[str, Callable[[AnnData, RunSettings], MethodRun]] = {
    "masked_ae": masked_ae,
    "simclr": partial(contrastive, "simclr"),
    "vicreg": partial(contrastive, "vicreg"),
    "byol": partial(contrastive, "byol"),
    "barlow_twins": partial(contrastive, "barlow_twins"),
    "pca": pca,
    "scvi": scvi_model,
    "masked_contrastive": masked_contrastive,  # not in the default selection
}
#: methods that train by epochs and so share the time budget
TRAINED_METHODS = frozenset(METHODS) - {"pca"}

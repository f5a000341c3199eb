"""Pieces shared by every scssl model: AnnData registration, embeddings, training defaults."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.data.fields import (
    CategoricalJointObsField,
    CategoricalObsField,
    LayerField,
    NumericalJointObsField,
)
from scvi.train import TrainingPlan

from scssl import _compat
from scssl.data import AnnDataCollection, SparseDataSplitter, check_raw_counts, is_csr_matrix
from scssl.train import SSLTrainingPlan


def default_max_epochs(n_cells: int) -> int:
    """Epoch budget for self-supervised training: ~200 passes for small data, fewer for large.

    Keeps the number of optimisation steps roughly constant above ~10k cells.

    Examples
    --------
    >>> default_max_epochs(2000), default_max_epochs(100_000)
    (100, 20)
    """
    return int(np.clip(round(200_000 / max(n_cells, 1)), 20, 200))


def count_fields(
    layer: str | None,
    batch_key: str | None,
    labels_key: str | None,
    categorical_covariate_keys: list[str] | None,
    continuous_covariate_keys: list[str] | None,
) -> list:
    """The AnnData fields every count-based scssl model registers."""
    return [
        LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=True),
        CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
        CategoricalObsField(REGISTRY_KEYS.LABELS_KEY, labels_key),
        CategoricalJointObsField(REGISTRY_KEYS.CAT_COVS_KEY, categorical_covariate_keys),
        NumericalJointObsField(REGISTRY_KEYS.CONT_COVS_KEY, continuous_covariate_keys),
    ]


def _check_obs_keys(adata: AnnData, keys: dict[str, str | list[str] | None]) -> None:
    for argument, value in keys.items():
        for key in [value] if isinstance(value, str) else (value or []):
            if key not in adata.obs:
                raise KeyError(
                    f"{argument}={key!r} is not a column of adata.obs "
                    f"(columns: {', '.join(map(str, adata.obs.columns[:20]))})."
                )


class CountsModelMixin:
    """Registration of raw-count AnnData and the deterministic-embedding API.

    Every scssl self-supervised model mixes this in; the module must implement
    ``inference(..., apply_mask=False)`` returning ``{"z": ...}``.

    A model whose module reads ``torch.sparse_csr`` minibatches sets
    ``_reads_sparse_minibatches = True``; then a CSR count matrix (in memory or
    backed) is loaded as sparse minibatches for training and inference, and the
    module decides where it needs them dense.
    """

    _reads_sparse_minibatches = False

    def _sparse_minibatches(self, adata: AnnData | None = None) -> bool:
        """Whether minibatches of ``adata`` (default: the training data) load as CSR tensors."""
        if not self._reads_sparse_minibatches:
            return False
        adata = self.adata if adata is None else adata
        return is_csr_matrix(self.get_from_registry(adata, REGISTRY_KEYS.X_KEY))

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        **kwargs,
    ) -> None:
        """Register an AnnData of raw counts with the model class.

        Parameters
        ----------
        adata
            AnnData with raw counts (cells x genes) in ``X`` or in ``layer``.
        layer
            Layer holding the raw counts; ``None`` uses ``adata.X``.
        batch_key
            Column of ``adata.obs`` with the batch (donor, chemistry, ...).
        labels_key
            Column of ``adata.obs`` with cell labels (not used for self-supervised
            training; kept for evaluation and transfer).
        categorical_covariate_keys
            Further categorical covariates given to the decoder.
        continuous_covariate_keys
            Continuous covariates given to the decoder.

        Raises
        ------
        ValueError
            If the layer does not hold raw counts (negative, non-integer or
            non-finite values), naming the layer and the fix.
        KeyError
            If a key is missing from ``adata.obs`` or ``adata.layers``.

        Examples
        --------
        >>> import scssl
        >>> adata = scssl.data.pbmc68k_counts()
        >>> scssl.model.MaskedAE.setup_anndata(adata, layer="counts")
        """
        _check_obs_keys(
            adata,
            {
                "batch_key": batch_key,
                "labels_key": labels_key,
                "categorical_covariate_keys": categorical_covariate_keys,
                "continuous_covariate_keys": continuous_covariate_keys,
            },
        )
        check_raw_counts(adata, layer)
        setup_method_args = _compat.setup_method_args(cls, locals())
        fields = count_fields(
            layer, batch_key, labels_key, categorical_covariate_keys, continuous_covariate_keys
        )
        adata_manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        adata_manager.register_fields(adata, **kwargs)
        cls.register_manager(adata_manager)

    # -- covariate sizes for module construction ------------------------------------------
    def _covariate_sizes(self) -> dict:
        """``n_batch``, ``n_cats_per_cov`` and ``n_continuous_cov`` from the registry."""
        manager = self.adata_manager
        n_cats = None
        if REGISTRY_KEYS.CAT_COVS_KEY in manager.data_registry:
            n_cats = list(manager.get_state_registry(REGISTRY_KEYS.CAT_COVS_KEY).n_cats_per_key)
        return {
            "n_batch": self.summary_stats.n_batch,
            "n_cats_per_cov": n_cats,
            "n_continuous_cov": self.summary_stats.get("n_extra_continuous_covs", 0),
        }

    # -- iterating the module over cells ---------------------------------------------------
    def _collection_batch_codes(self, collection: AnnDataCollection) -> np.ndarray:
        """Model batch code of each of the collection's batch categories."""
        if collection.var_names.tolist() != list(self.adata.var_names):
            raise ValueError(
                "the collection's genes differ from the model's (names or order); build it "
                "with genes=list(model.adata.var_names)"
            )
        mapping = self.adata_manager.get_state_registry(REGISTRY_KEYS.BATCH_KEY)
        categories = [str(c) for c in mapping.categorical_mapping]
        if self.summary_stats.n_batch <= 1 and collection.batch_key is None:
            return np.zeros(len(collection.batch_categories), dtype=np.int64)
        unknown = sorted(set(collection.batch_categories) - set(categories))
        if unknown:
            raise ValueError(
                f"batches {unknown[:5]} of the collection are not among the model's "
                f"{categories[:10]}; map a new study with load_query_data instead"
            )
        return np.array([categories.index(c) for c in collection.batch_categories])

    def _iterate_minibatches(
        self,
        adata: AnnData | AnnDataCollection | None,
        indices: Sequence[int] | None,
        batch_size: int | None,
    ) -> Iterator[dict[str, torch.Tensor]]:
        if isinstance(adata, AnnDataCollection):
            if indices is not None:
                raise ValueError("indices= is not supported for a collection")
            codes = torch.as_tensor(self._collection_batch_codes(adata))
            for tensors in adata.iter_in_order(batch_size or 1024):
                tensors[REGISTRY_KEYS.BATCH_KEY] = codes[tensors[REGISTRY_KEYS.BATCH_KEY]]
                yield tensors
            return
        adata = self._validate_anndata(adata)
        loader = self._make_data_loader(
            adata=adata,
            indices=indices,
            batch_size=batch_size,
            load_sparse_tensor=self._sparse_minibatches(adata),
        )
        yield from loader

    @torch.inference_mode()
    def _map_cells(
        self,
        fn: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        adata: AnnData | AnnDataCollection | None = None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        out: str | None = None,
        minibatches=None,
    ):
        """Apply ``fn`` to every minibatch in eval mode; stack the results as numpy.

        ``minibatches`` (an iterable of minibatch dicts) replaces ``adata``/``indices``.
        With ``out`` (a path) each minibatch's result is written to a zarr array there
        as it comes, and that array is returned: memory holds one minibatch at a time.
        """
        if minibatches is None:
            minibatches = self._iterate_minibatches(adata, indices, batch_size)
        elif out is not None:
            raise ValueError("out= needs the number of cells: pass adata, not a dataloader")
        was_training = self.module.training
        self.module.eval()
        results, array, written = [], None, 0
        try:
            for tensors in minibatches:
                values = fn(tensors).cpu().numpy()
                if out is None:
                    results.append(values)
                    continue
                if array is None:
                    array = _zarr_output(out, self._n_cells(adata, indices), values)
                array[written : written + values.shape[0]] = values
                written += values.shape[0]
        finally:
            self.module.train(was_training)
        return array if out is not None else np.concatenate(results)

    def _n_cells(self, adata, indices) -> int:
        if indices is not None:
            return len(indices)
        return (self.adata if adata is None else adata).n_obs

    def get_latent_representation(
        self,
        adata: AnnData | AnnDataCollection | None = None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        out: str | None = None,
        dataloader=None,
    ):
        """Deterministic embedding of the cells (no masking or augmentation, eval mode).

        Parameters
        ----------
        adata
            AnnData set up like the training data, or an on-disk
            :class:`~scssl.data.AnnDataCollection` with the model's genes (streamed,
            never loaded whole); ``None`` uses the training data.
        indices
            Cells to embed; ``None`` embeds all.
        batch_size
            Minibatch size for inference.
        out
            Path of a zarr array to write the embedding to, minibatch by minibatch,
            instead of returning it in memory.
        dataloader
            Instead of ``adata``: any iterable of minibatch dicts of the model's genes,
            for example ``TileDBDataModule(query, shuffle=False, ...).inference_dataloader()``
            for a TileDB-SOMA store; cells come out in its order.

        Returns
        -------
        Array of shape ``(n_cells, n_latent)``: numpy, or the zarr array at ``out``.

        Examples
        --------
        >>> adata.obsm["X_scssl"] = model.get_latent_representation()  # doctest: +SKIP
        >>> z = model.get_latent_representation(collection, out="z.zarr")  # doctest: +SKIP
        """
        self._check_if_trained(warn=True)

        def embed(tensors):
            inputs = self.module._get_inference_input(tensors)
            return self.module.inference(**inputs, apply_mask=False)["z"]

        return self._map_cells(embed, adata, indices, batch_size, out=out, minibatches=dataloader)


def _zarr_output(path: str, n_cells: int, first: np.ndarray):
    """A new zarr array at ``path`` for ``n_cells`` rows shaped like ``first``'s rows."""
    import zarr

    shape = (n_cells, *first.shape[1:])
    chunks = (min(n_cells, 65536), *first.shape[1:])
    return zarr.open_array(str(path), mode="w", shape=shape, chunks=chunks, dtype=first.dtype)


def training_plan_arguments() -> set[str]:
    """Keyword arguments scvi's :class:`~scvi.train.TrainingPlan` itself accepts."""
    params = inspect.signature(TrainingPlan.__init__).parameters
    return {name for name, p in params.items() if p.kind == p.KEYWORD_ONLY}


def validate_plan_kwargs(plan_kwargs: dict, module) -> None:
    """Fail early on ``plan_kwargs`` neither the training plan nor ``module.loss`` accepts.

    scvi-tools forwards unknown plan keyword arguments to ``module.loss``, where they
    would fail only at the first training step.
    """
    loss_params = set(inspect.signature(module.loss).parameters) - {
        "tensors",
        "inference_outputs",
        "generative_outputs",
    }
    unknown = set(plan_kwargs) - training_plan_arguments() - loss_params
    if unknown:
        raise TypeError(
            f"unknown plan_kwargs {sorted(unknown)}; the training plan accepts "
            f"{sorted(training_plan_arguments())}."
        )


class SSLTrainingMixin:
    """``train`` with self-supervised defaults, shared by the joint-embedding models.

    Uses the model's ``_training_plan_cls``: :class:`~scssl.train.SSLTrainingPlan`, or
    :class:`~scssl.train.EMATrainingPlan` for the contrastive models, which updates
    BYOL's target network after each optimizer step.
    """

    _default_batch_size = 256
    # distributed-safe logging of the modules' extra metrics (see SSLTrainingPlan)
    _training_plan_cls = SSLTrainingPlan
    # CSR minibatches reach the module sparse (scvi's splitter would densify them)
    _data_splitter_cls = SparseDataSplitter

    def train(
        self,
        max_epochs: int | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int | None = None,
        early_stopping: bool = False,
        early_stopping_patience: int = 20,
        check_val_every_n_epoch: int | None = None,
        train_size: float | None = 0.9,
        validation_size: float | None = None,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        plan_kwargs: dict | None = None,
        **trainer_kwargs,
    ):
        """Train with scvi-tools' trainer; BYOL's target network is updated after each step.

        Parameters
        ----------
        max_epochs
            Passes through the data; ``None`` picks ~200 for small data, fewer for large.
        lr
            Adam learning rate.
        weight_decay
            Adam weight decay.
        batch_size
            Minibatch size (larger gives SimCLR more negatives and steadier batch statistics).
        early_stopping
            Stop when ``validation_loss`` stops improving for ``early_stopping_patience``
            epochs. The validation loss is computed without augmentation.
        early_stopping_patience
            Epochs without improvement before stopping.
        check_val_every_n_epoch
            Compute the validation loss every n epochs.
        train_size, validation_size
            Split of the cells into training and validation sets.
        accelerator, devices
            Lightning hardware settings.
        plan_kwargs
            Further arguments of :class:`scvi.train.TrainingPlan` (checked before training).
        **trainer_kwargs
            Further arguments of :class:`scvi.train.Trainer`.

        Examples
        --------
        >>> model.train(max_epochs=50)  # doctest: +SKIP
        >>> model.history["train_loss"].tail()  # doctest: +SKIP
        """
        batch_size = batch_size or self._default_batch_size
        plan_kwargs = {"lr": lr, "weight_decay": weight_decay, "eps": 1e-8, **(plan_kwargs or {})}
        validate_plan_kwargs(plan_kwargs, self.module)
        if max_epochs is None:
            max_epochs = default_max_epochs(self.adata.n_obs)
        if early_stopping:
            trainer_kwargs.setdefault("early_stopping_monitor", "validation_loss")
            trainer_kwargs.setdefault("early_stopping_patience", early_stopping_patience)
        return super().train(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            train_size=train_size,
            validation_size=validation_size,
            batch_size=batch_size,
            early_stopping=early_stopping,
            check_val_every_n_epoch=check_val_every_n_epoch,
            load_sparse_tensor=self._sparse_minibatches(),
            plan_kwargs=plan_kwargs,
            **trainer_kwargs,
        )

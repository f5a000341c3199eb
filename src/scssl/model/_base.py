"""What every scssl model shares: one ``setup_anndata`` and one ``train``, specialised by hooks.

A model changes the registration through :meth:`ScsslModelMixin._validate_setup`,
:meth:`~ScsslModelMixin._anndata_fields` and :meth:`~ScsslModelMixin._extra_fields`,
and the training through class attributes (``_default_lr``, ``_default_max_epochs``,
``_early_stopping_monitor``, ...) and :meth:`~ScsslModelMixin._plan_kwargs`; a model
with arguments of its own (``mnn_key``, ``validation_fraction``) declares them in a
thin override that hands on to these bodies.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import scvi
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
from scssl.data import (
    AnnDataCollection,
    MinibatchSampling,
    SparseDataSplitter,
    check_datamodule_sampling,
    check_raw_counts,
    check_unique_names,
    is_csr_matrix,
)
from scssl.train import SSLTrainingPlan, quiet_lightning

from ._inference import CellMappingMixin
from ._save_load import SafeFilesMixin
from ._setup_checks import check_setup_columns


def default_max_epochs(n_cells: int) -> int:
    """Epoch budget for self-supervised training: ~200 passes for small data, fewer for large.

    Keeps the number of optimisation steps roughly constant above ~10k cells.

    Examples
    --------
    >>> default_max_epochs(2000), default_max_epochs(100_000)
    (100, 20)
    """
    return int(np.clip(round(200_000 / max(n_cells, 1)), 20, 200))


def _plan_arguments(plan_cls: type) -> set[str]:
    """Keyword arguments the training plan class (and scvi's TrainingPlan) accepts."""
    names: set[str] = set()
    for cls in (TrainingPlan, plan_cls):
        params = inspect.signature(cls).parameters
        names |= {name for name, p in params.items() if p.kind == p.KEYWORD_ONLY}
    return names


def validate_plan_kwargs(plan_kwargs: dict, module, plan_cls: type = TrainingPlan) -> None:
    """Fail early on ``plan_kwargs`` neither the training plan nor ``module.loss`` accepts.

    scvi-tools forwards unknown plan keyword arguments to ``module.loss``, where they
    would fail only at the first training step.
    """
    loss_params = set(inspect.signature(module.loss).parameters) - {
        "tensors",
        "inference_outputs",
        "generative_outputs",
    }
    accepted = _plan_arguments(plan_cls)
    unknown = set(plan_kwargs) - accepted - loss_params
    if unknown:
        raise TypeError(
            f"unknown plan_kwargs {sorted(unknown)}; the training plan accepts {sorted(accepted)}."
        )


class ScsslModelMixin(SafeFilesMixin, CellMappingMixin):
    """Registration, training and cell mapping shared by every scssl model.

    Mix in before scvi-tools' ``UnsupervisedTrainingMixin`` and ``BaseModelClass``.
    The module must implement ``embed(tensors)``, the deterministic embedding of a
    minibatch.

    A model whose module reads ``torch.sparse_csr`` minibatches sets
    ``_reads_sparse_minibatches = True``; then a CSR count matrix (in memory or
    backed) is loaded as sparse minibatches for training and inference, and the
    module decides where it needs them dense.
    """

    _reads_sparse_minibatches = False
    #: the registered layer must hold raw counts
    _count_data = True
    # training defaults (arguments of train left at None take these)
    _default_batch_size = 256
    _default_max_epochs: int | None = None  # None: default_max_epochs(n_cells)
    _default_lr = 1e-3
    _default_weight_decay = 1e-5
    _default_early_stopping_patience = 20
    _early_stopping_monitor = "validation_loss"
    _default_plan_kwargs: ClassVar[dict[str, Any]] = {"eps": 1e-8}
    # distributed-safe logging of the modules' extra metrics (see SSLTrainingPlan)
    _training_plan_cls = SSLTrainingPlan
    # CSR minibatches reach the module sparse (scvi's splitter would densify them)
    _data_splitter_cls = SparseDataSplitter

    def _sparse_minibatches(self, adata: AnnData | None = None) -> bool:
        """Whether minibatches of ``adata`` (default: the training data) load as CSR tensors."""
        if not self._reads_sparse_minibatches:
            return False
        adata = self.adata if adata is None else adata
        return is_csr_matrix(self.get_from_registry(adata, REGISTRY_KEYS.X_KEY))

    # -- registration -------------------------------------------------------------------------
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
        **kwargs
            Passed to scvi-tools' field registration.

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
        cls._register_anndata(adata, _compat.setup_method_args(cls, locals()), **kwargs)

    @classmethod
    def _register_anndata(cls, adata: AnnData, setup_method_args: dict, **kwargs) -> None:
        """The one registration body: validate, build the fields, register the manager."""
        args = setup_method_args["setup_args"]
        cls._validate_setup(adata, **args)
        adata_manager = AnnDataManager(
            fields=cls._anndata_fields(adata, **args), setup_method_args=setup_method_args
        )
        adata_manager.register_fields(adata, **kwargs)
        cls.register_manager(adata_manager)

    @classmethod
    def _validate_setup(cls, adata: AnnData, *, layer: str | None = None, **setup_args) -> None:
        """Checks before anything is registered: the named columns exist, the layer is counts."""
        check_setup_columns(adata, setup_args)
        check_unique_names(adata)
        if cls._count_data:
            check_raw_counts(adata, layer)

    @classmethod
    def _anndata_fields(cls, adata: AnnData, **setup_args) -> list:
        """Counts, batch, labels and covariates, then the model's :meth:`_extra_fields`."""
        standard = (
            "layer",
            "batch_key",
            "labels_key",
            "categorical_covariate_keys",
            "continuous_covariate_keys",
        )
        layer, batch_key, labels_key, cat_keys, cont_keys = (setup_args.get(k) for k in standard)
        extra = {k: v for k, v in setup_args.items() if k not in standard}
        return [
            LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=cls._count_data),
            CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
            cls._labels_field(labels_key, **extra),
            CategoricalJointObsField(REGISTRY_KEYS.CAT_COVS_KEY, cat_keys),
            NumericalJointObsField(REGISTRY_KEYS.CONT_COVS_KEY, cont_keys),
            *cls._extra_fields(**extra),
        ]

    @classmethod
    def _labels_field(cls, labels_key: str | None, **setup_args):
        return CategoricalObsField(REGISTRY_KEYS.LABELS_KEY, labels_key)

    @classmethod
    def _extra_fields(cls, **setup_args) -> list:
        """Fields a model registers beyond the standard ones (none by default)."""
        return []

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

    # -- training -----------------------------------------------------------------------------
    def _batch_size(self) -> int:
        """Minibatch size when ``train`` is given none."""
        return self._default_batch_size

    def _max_epochs(self, batch_size: int) -> int:
        """Epoch budget when ``train`` is given none."""
        if self._default_max_epochs is not None:
            return self._default_max_epochs
        return default_max_epochs(self.adata.n_obs)

    def _set_training_mode(self) -> None:
        """Put the module in training mode (dropout on) before Lightning takes it.

        scvi-tools leaves the module in eval mode after training and after ``load``,
        and Lightning trains in the mode it finds: without this a second ``train()``
        would run with dropout off.
        """
        self.module.train()

    def _minibatch_sampling(self) -> MinibatchSampling | None:
        """How training minibatches are drawn; ``None``: scvi-tools' random minibatches."""
        return None

    def _datasplitter_kwargs(self, trainer_kwargs: dict) -> dict:
        """The data splitter's arguments: the user's, plus the model's minibatch sampling."""
        splitter_kwargs = dict(trainer_kwargs.pop("datasplitter_kwargs", None) or {})
        sampling = self._minibatch_sampling()
        if sampling is None or sampling.is_random:
            return splitter_kwargs
        datamodule = trainer_kwargs.get("datamodule")
        if datamodule is not None:
            check_datamodule_sampling(datamodule, sampling)
            return splitter_kwargs  # the datamodule draws the minibatches
        return {
            "minibatch_sampling": replace(sampling, seed=int(scvi.settings.seed or 0)),
            **splitter_kwargs,
        }

    def _plan_kwargs(self, plan_kwargs: dict) -> dict:
        """Last say on the training plan's arguments (query models switch weight decay off)."""
        return plan_kwargs

    def train(
        self,
        max_epochs: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        batch_size: int | None = None,
        early_stopping: bool = False,
        early_stopping_patience: int | None = None,
        check_val_every_n_epoch: int | None = None,
        train_size: float | None = 0.9,
        validation_size: float | None = None,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        plan_kwargs: dict | None = None,
        verbose: bool = False,
        **trainer_kwargs,
    ):
        """Train with scvi-tools' trainer and the model's defaults.

        Arguments left at ``None`` take the model's defaults (class attributes
        ``_default_lr``, ``_default_weight_decay``, ``_default_batch_size``,
        ``_default_early_stopping_patience``; ``1e-3``, ``1e-5``, 256 and 20 for the
        self-supervised models, 128 for MaskedAE).

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
            Stop when the monitored validation metric (``validation_loss``; the validation
            loss is computed without augmentation) stops improving.
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
        verbose
            Show Lightning's messages (device banners, tips); by default only its
            warnings, scssl's own messages and the progress bar appear.
        **trainer_kwargs
            Further arguments of :class:`scvi.train.Trainer` (and ``datamodule=`` for
            training from an on-disk store).

        Examples
        --------
        >>> model.train(max_epochs=5)
        >>> model.history["train_loss"].columns.tolist()  # one value per epoch
        ['train_loss']
        """
        plan_kwargs = {
            "lr": self._default_lr if lr is None else lr,
            "weight_decay": self._default_weight_decay if weight_decay is None else weight_decay,
            **self._default_plan_kwargs,
            **(plan_kwargs or {}),
        }
        plan_kwargs = self._plan_kwargs(plan_kwargs)
        validate_plan_kwargs(plan_kwargs, self.module, self._training_plan_cls)
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        batch_size = batch_size or self._batch_size()
        if max_epochs is None:
            max_epochs = self._max_epochs(batch_size)
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, got {max_epochs}")
        self._set_training_mode()
        if early_stopping:
            patience = early_stopping_patience or self._default_early_stopping_patience
            trainer_kwargs.setdefault("early_stopping_monitor", self._early_stopping_monitor)
            trainer_kwargs.setdefault("early_stopping_patience", patience)
            trainer_kwargs.setdefault("early_stopping_mode", "min")
        splitter_kwargs = self._datasplitter_kwargs(trainer_kwargs)
        collection = getattr(trainer_kwargs.get("datamodule"), "collection", None)
        if isinstance(collection, AnnDataCollection):
            self._check_trains_on_collection(collection)
        with quiet_lightning(verbose):
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
                datasplitter_kwargs=splitter_kwargs,
                **trainer_kwargs,
            )

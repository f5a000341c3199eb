"""CellTypeClassifier: fine-tune (or linearly probe) a pretrained scssl encoder on labels."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data.fields import LabelsWithUnlabeledObsField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from scssl import _compat
from scssl._options import ClassWeight, check_option
from scssl.module import ClassifierModule
from scssl.train import FineTuningPlan

from ._base import ScsslModelMixin
from ._pretrained import (
    balanced_class_weights,
    check_covariate_categories,
    check_encoder_input_width,
    check_pretrained_genes,
    encoder_config,
)

logger = logging.getLogger("scssl")


class CellTypeClassifier(ScsslModelMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """Cell-type classifier on raw counts, usually built on a pretrained scssl encoder.

    Create it with :meth:`from_pretrained` (linear probing with
    ``freeze_encoder=True``, full fine-tuning with ``False``, where the encoder learns
    at ``encoder_lr_ratio`` times the head's rate), or with the constructor for the
    same classifier trained from scratch. Cells labelled ``unlabeled_category`` are
    ignored in training; classes are weighted by inverse frequency by default.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    n_latent, n_hidden, n_layers, dropout_rate, use_batch_norm, use_layer_norm
        Encoder architecture.
    encode_covariates
        Feed batch and categorical covariates to the encoder.
    target_sum
        Library size of the normalisation.
    n_hidden_head
        ``0`` (default): linear head; otherwise one hidden layer of this width.
    head_dropout
        Dropout before the head's output layer.
    freeze_encoder
        Train the head only (linear probing).
    class_weight
        ``"balanced"`` (inverse class frequency among labelled cells) or ``None``.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> scssl.model.MaskedAE.setup_anndata(adata, layer="counts")
    >>> ssl = scssl.model.MaskedAE(adata)
    >>> ssl.train(max_epochs=20)
    >>> clf = scssl.model.CellTypeClassifier.from_pretrained(
    ...     ssl, adata, labels_key="bulk_labels", unlabeled_category="Unknown"
    ... )
    >>> clf.train(max_epochs=30)
    >>> adata.obs["predicted"] = clf.predict()
    """

    _module_cls = ClassifierModule
    _reads_sparse_minibatches = True
    _training_plan_cls = FineTuningPlan
    _default_batch_size = 128
    _default_lr = 5e-3
    _default_weight_decay = 1e-4
    _default_early_stopping_patience = 10
    _default_plan_kwargs: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        adata: AnnData,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        use_batch_norm: bool = False,
        use_layer_norm: bool = True,
        encode_covariates: bool = False,
        target_sum: float = 1e4,
        n_hidden_head: int = 0,
        head_dropout: float = 0.1,
        freeze_encoder: bool = False,
        class_weight: ClassWeight | None = "balanced",
    ):
        super().__init__(adata)
        if class_weight is not None:
            check_option("class_weight", class_weight, ClassWeight)
        labels_state = self.adata_manager.get_state_registry(REGISTRY_KEYS.LABELS_KEY)
        self.unlabeled_category_ = labels_state.unlabeled_category
        mapping = list(labels_state.categorical_mapping)
        classes = [c for c in mapping if c != self.unlabeled_category_]
        if len(classes) < 2:
            raise ValueError(
                f"{len(classes)} labelled class(es) in adata.obs[{labels_state.original_key!r}] "
                "(besides the unlabelled category); a classifier needs at least two"
            )
        self.classes_ = np.asarray(classes, dtype=object)
        codes = self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
        counts = np.bincount(codes[codes < len(classes)].astype(int), minlength=len(classes))
        if counts.sum() == 0:
            raise ValueError(
                "no labelled cells: every label equals the unlabeled_category "
                f"{self.unlabeled_category_!r}"
            )
        weights = balanced_class_weights(counts) if class_weight == "balanced" else None
        self.module = self._module_cls(
            n_input=self.summary_stats.n_vars,
            n_labels=len(classes),
            **self._covariate_sizes(),
            n_latent=n_latent,
            n_hidden=n_hidden,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            use_batch_norm=use_batch_norm,
            use_layer_norm=use_layer_norm,
            encode_covariates=encode_covariates,
            target_sum=target_sum,
            n_hidden_head=n_hidden_head,
            head_dropout=head_dropout,
            freeze_encoder=freeze_encoder,
            class_weights=weights,
        )
        self._model_summary_string = (
            f"CellTypeClassifier: {len(classes)} classes, {int(counts.sum())} labelled cells, "
            f"n_latent={n_latent}, freeze_encoder={freeze_encoder}, head="
            f"{'linear' if n_hidden_head == 0 else f'MLP({n_hidden_head})'}"
        )
        self.init_params_ = self._get_init_params(locals())

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        labels_key: str,
        unlabeled_category: str = "Unknown",
        layer: str | None = None,
        batch_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        **kwargs,
    ) -> None:
        """Register raw counts and labels; cells labelled ``unlabeled_category`` are ignored.

        Parameters
        ----------
        adata
            AnnData with raw counts in ``X`` or ``layer``.
        labels_key
            Column of ``adata.obs`` with the labels (no missing values: write
            ``unlabeled_category`` for cells without a label).
        unlabeled_category
            Label of cells without a label.
        layer, batch_key, categorical_covariate_keys, continuous_covariate_keys
            As in :meth:`scssl.model.MaskedAE.setup_anndata`.
        **kwargs
            Passed to scvi-tools' field registration.

        Examples
        --------
        >>> adata.obs["label"] = adata.obs["bulk_labels"].astype(str)
        >>> adata.obs.loc[adata.obs_names[::2], "label"] = "Unknown"
        >>> CellTypeClassifier.setup_anndata(adata, labels_key="label", layer="counts")
        """
        cls._register_anndata(adata, _compat.setup_method_args(cls, locals()), **kwargs)

    @classmethod
    def _validate_setup(
        cls, adata: AnnData, *, labels_key: str, unlabeled_category: str, **setup_args
    ) -> None:
        # before the shared checks, whose NaN message cannot name the unlabeled category
        if labels_key in adata.obs and adata.obs[labels_key].isna().any():
            n_missing = int(adata.obs[labels_key].isna().sum())
            raise ValueError(
                f"adata.obs[{labels_key!r}] has {n_missing} missing values; write "
                f"{unlabeled_category!r} (the unlabeled_category) for cells without a label"
            )
        super()._validate_setup(adata, labels_key=labels_key, **setup_args)

    @classmethod
    def _labels_field(cls, labels_key, *, unlabeled_category: str, **setup_args):
        return LabelsWithUnlabeledObsField(REGISTRY_KEYS.LABELS_KEY, labels_key, unlabeled_category)

    @classmethod
    def from_pretrained(
        cls,
        ssl_model: BaseModelClass,
        adata: AnnData,
        labels_key: str,
        unlabeled_category: str = "Unknown",
        freeze_encoder: bool = False,
        load_weights: bool = True,
        n_hidden_head: int = 0,
        head_dropout: float = 0.1,
        class_weight: ClassWeight | None = "balanced",
    ) -> CellTypeClassifier:
        """Build a classifier on the encoder of a trained scssl self-supervised model.

        The AnnData is registered with the SSL model's layer and covariates plus
        ``labels_key``; genes must be the model's genes in its order.

        Parameters
        ----------
        ssl_model
            Trained scssl model (``MaskedAE``, a contrastive model, or a query model
            from ``load_query_data``).
        adata
            Cells to train on (labelled ones) and to predict.
        labels_key
            Column of ``adata.obs`` with the labels.
        unlabeled_category
            Label of cells without a label; they are ignored in training.
        freeze_encoder
            ``True``: linear probing (only the head learns); ``False``: full fine-tuning
            (the encoder learns at ``encoder_lr_ratio`` times the head's rate, see :meth:`train`).
        load_weights
            ``False`` keeps the architecture but not the weights: the same classifier
            trained from scratch, the control for the value of pretraining.
        n_hidden_head, head_dropout, class_weight
            As in the constructor.

        Examples
        --------
        >>> clf = scssl.model.CellTypeClassifier.from_pretrained(
        ...     ssl, adata, labels_key="bulk_labels", unlabeled_category="Unknown",
        ...     freeze_encoder=True,
        ... )
        >>> clf.train(max_epochs=50)
        """
        config = encoder_config(ssl_model)
        if not ssl_model.is_trained:
            logger.warning("from_pretrained: %s has not been trained", type(ssl_model).__name__)
        check_pretrained_genes(ssl_model, adata)
        setup_args = _compat.setup_args(ssl_model)
        cls.setup_anndata(
            adata,
            labels_key=labels_key,
            unlabeled_category=unlabeled_category,
            layer=setup_args.get("layer"),
            batch_key=setup_args.get("batch_key"),
            categorical_covariate_keys=setup_args.get("categorical_covariate_keys"),
            continuous_covariate_keys=setup_args.get("continuous_covariate_keys"),
        )
        model = cls(
            adata,
            **config,
            n_hidden_head=n_hidden_head,
            head_dropout=head_dropout,
            freeze_encoder=freeze_encoder,
            class_weight=class_weight,
        )
        if config["encode_covariates"]:
            check_covariate_categories(model, ssl_model)
        check_encoder_input_width(model, ssl_model)
        if load_weights:
            state = ssl_model.module.z_encoder.state_dict()
            model.module.z_encoder.load_state_dict({k: v.clone() for k, v in state.items()})
        model.module.set_encoder_frozen(freeze_encoder)
        model.pretrained_from_ = type(ssl_model).__name__ if load_weights else None
        return model

    def train(
        self,
        max_epochs: int | None = None,
        lr: float | None = None,
        encoder_lr_ratio: float = 0.1,
        validation_fraction: float = 0.1,
        seed: int = 0,
        early_stopping: bool = False,
        plan_kwargs: dict | None = None,
        **kwargs,
    ):
        """Train on the labelled cells only (unlabelled cells are never loaded).

        Other arguments are those of :meth:`scssl.model.MaskedAE.train` (``batch_size``
        128, ``weight_decay`` 1e-4, ``early_stopping_patience`` 10 here); the cells are
        split here, not by ``train_size``.

        Parameters
        ----------
        max_epochs
            Passes over the labelled training cells; ``None`` gives about 400 optimisation
            steps (between 20 and 400 epochs), enough for small label sets.
        lr
            Learning rate of the head (default 5e-3).
        encoder_lr_ratio
            Encoder learning rate as a share of ``lr`` (fine-tuning only).
        validation_fraction
            Share of labelled cells held out for ``validation_loss`` / ``accuracy_validation``
            (0: none).
        seed
            Seed of the train / validation split of the labelled cells.
        early_stopping
            Stop when ``validation_loss`` stops improving (needs ``validation_fraction > 0``).
        plan_kwargs
            Further :class:`scvi.train.TrainingPlan` arguments.
        **kwargs
            Further arguments of the shared ``train`` and of :class:`scvi.train.Trainer`.

        Examples
        --------
        >>> clf.train(max_epochs=50, encoder_lr_ratio=0.1)
        >>> accuracy = clf.history["accuracy_train"].iloc[-1, 0]
        """
        if not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction}")
        if encoder_lr_ratio < 0:
            raise ValueError(f"encoder_lr_ratio must be >= 0, got {encoder_lr_ratio}")
        train_idx, val_idx, unlabelled = self._labelled_split(validation_fraction, seed)
        if early_stopping and len(val_idx) == 0:
            raise ValueError("early_stopping needs validation_fraction > 0")
        if len(val_idx):
            kwargs.setdefault("check_val_every_n_epoch", 1)
        if max_epochs is None:
            batch_size = kwargs.get("batch_size") or self._batch_size()
            steps_per_epoch = max(1, int(np.ceil(len(train_idx) / batch_size)))
            max_epochs = int(np.clip(round(400 / steps_per_epoch), 20, 400))
        return super().train(
            max_epochs=max_epochs,
            lr=lr,
            early_stopping=early_stopping,
            plan_kwargs={"encoder_lr_ratio": encoder_lr_ratio, **(plan_kwargs or {})},
            datasplitter_kwargs={"external_indexing": [train_idx, val_idx, unlabelled]},
            **kwargs,
        )

    def _labelled_split(
        self, validation_fraction: float, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training and validation positions among the labelled cells, and the unlabelled."""
        codes = self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
        labelled = np.flatnonzero(codes < len(self.classes_))
        unlabelled = np.flatnonzero(codes >= len(self.classes_))
        order = np.random.default_rng(seed).permutation(labelled)
        n_val = int(round(validation_fraction * len(order)))
        if len(order) - n_val < 2:
            raise ValueError(f"too few labelled cells to train ({len(labelled)})")
        return np.sort(order[n_val:]), np.sort(order[:n_val]), unlabelled

    @torch.inference_mode()
    def predict(
        self,
        adata: AnnData | None = None,
        indices: Sequence[int] | None = None,
        soft: bool = False,
        batch_size: int | None = None,
    ) -> np.ndarray | pd.DataFrame:
        """Predicted cell type per cell, or class probabilities with ``soft=True``.

        Parameters
        ----------
        adata
            Cells to classify (set up like the training data; labels may be any
            placeholder such as the unlabelled category); ``None`` uses the training data.
        indices
            Cells to classify; ``None`` classifies all.
        soft
            Return a cells x classes DataFrame of probabilities.
        batch_size
            Minibatch size for inference.

        Examples
        --------
        >>> labels = clf.predict(adata_query)
        >>> confidence = clf.predict(adata_query, soft=True).max(axis=1)
        """
        self._check_if_trained(warn=True)
        module = self.module

        def probabilities(tensors):
            inference_outputs = module.inference(**module._get_inference_input(tensors))
            logits = module.generative(inference_outputs["z"])["logits"]
            return torch.softmax(logits, dim=-1)

        probs = self._map_cells(probabilities, adata, indices, batch_size)
        if not soft:
            return self.classes_[probs.argmax(axis=1)].astype(str)
        columns = self.classes_.astype(str)
        return pd.DataFrame(probs, index=self._obs_names(adata, indices), columns=columns)

"""scArches-style reference mapping for every scssl self-supervised model.

:class:`QueryMappingMixin` builds on scvi-tools' :class:`~scvi.model.base.ArchesMixin`
and keeps its semantics (``prepare_query_anndata`` then ``load_query_data``, then a
short ``train``), adding what scssl users need on top: the gene overlap is
reported, a low overlap warns and a very low one is refused before anything is
trained, new batch categories are listed, and query training never moves a
frozen reference weight (weight decay is switched off for it).
"""

from __future__ import annotations

import logging
import os

import pandas as pd
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.model.base import ArchesMixin, BaseModelClass

from scssl import _compat
from scssl.data import GeneMapLike

from ._gene_overlap import GeneOverlap
from ._query_genes import (
    MIN_GENE_OVERLAP,
    UNS_KEY,
    align_query_genes,
    check_query_setup,
    counts_modality,
)
from ._save_load import model_folder_reader

logger = logging.getLogger("scssl")


def _reference_as_model_or_path(reference_model) -> BaseModelClass | str:
    if isinstance(reference_model, os.PathLike):
        return str(reference_model)  # scvi-tools only accepts str paths
    if isinstance(reference_model, str | BaseModelClass):
        return reference_model
    raise TypeError(
        "reference_model must be a trained model or the folder of a saved model, "
        f"got {type(reference_model).__name__}"
    )


class QueryMappingMixin(ArchesMixin):
    """Reference mapping (scArches) for scssl models.

    Mix into a model class *before* the scvi-tools training mixin, e.g.
    ``class MyModel(QueryMappingMixin, ScsslModelMixin, UnsupervisedTrainingMixin,
    BaseModelClass)``, so that :meth:`train` of a query model passes through here.

    Workflow: :meth:`prepare_query_anndata` puts the query's genes in the
    reference's order (missing genes become zeros, the overlap is reported),
    :meth:`load_query_data` builds the query model from the reference (new batch
    categories appended; reference weights frozen except the new covariate
    parameters), then a short ``train`` fits those parameters. The embedding of
    the reference cells does not change.

    The encoder adapts to the query's batches only if it sees the batch
    (``encode_covariates=True``); otherwise query training cannot move the
    embedding and the query embedding is the reference encoder's output. In a
    frozen BYOL query model the momentum (target) network is not updated either.

    Examples
    --------
    >>> import scssl
    >>> ref = scssl.data.pbmc68k_counts()
    >>> scssl.model.MaskedAE.setup_anndata(ref, layer="counts", batch_key="phase")
    >>> model = scssl.model.MaskedAE(ref, encode_covariates=True)
    >>> model.train(max_epochs=2)
    >>> query = ref[:100].copy()
    >>> query.obs["phase"] = "new_batch"
    >>> scssl.model.MaskedAE.prepare_query_anndata(query, model)
    >>> q = scssl.model.MaskedAE.load_query_data(query, model)
    >>> q.train(max_epochs=20)
    >>> query.obsm["X_scssl"] = q.get_latent_representation()
    """

    @classmethod
    def prepare_query_anndata(
        cls,
        adata: AnnData,
        reference_model: BaseModelClass | str | os.PathLike,
        return_reference_var_names: bool = False,
        inplace: bool = True,
        min_gene_overlap: float = MIN_GENE_OVERLAP,
        trust_file: bool = False,
        gene_map: GeneMapLike | None = None,
    ) -> AnnData | pd.Index | None:
        """Reorder the query's genes to the reference's and add missing genes as zeros.

        Parameters
        ----------
        adata
            Query AnnData (raw counts, same gene identifiers as the reference); a MuData
            for a reference set up with ``setup_mudata`` (its RNA modality is aligned,
            in place).
        reference_model
            Trained reference model, or the folder it was saved to.
        return_reference_var_names
            Only return the reference's gene names.
        inplace
            Change ``adata`` in place (default) or return a new AnnData. Either way
            scvi-tools' preparation stores ``X`` and every layer as float64 (counts are
            unchanged in value); pass ``inplace=False`` to keep the original object as is.
        min_gene_overlap
            Refuse (``ValueError``) when fewer than this share of the reference genes
            are in the query. Below 80% a ``UserWarning`` is raised.
        trust_file
            Also read a reference folder in scvi-tools' pickled format (see
            :meth:`~scssl.model.MaskedAE.load`: such a file can run code).
        gene_map
            Rename the query's genes into the reference's names first, for a query of
            another species or naming: a 1:1 orthologue table (a CSV/TSV path or a
            DataFrame whose first two columns are the two names; the column that
            holds the query's genes is detected), or a dict / Series from query gene
            to reference gene. Pairs that are not one-to-one are dropped; the query's
            own names stay in ``.var["query_gene"]``. See
            :func:`scssl.data.map_gene_names`.

        Returns
        -------
        ``None`` (in place), the new AnnData, or the reference gene names. The overlap
        (and the gene map's report) is logged and recorded in
        ``.uns["scssl_query_genes"]`` of the prepared data.

        Examples
        --------
        >>> scssl.model.MaskedAE.prepare_query_anndata(query, model)  # 23 genes missing
        >>> round(query.uns["scssl_query_genes"]["fraction"], 2)
        0.97
        """
        if not 0.0 < min_gene_overlap <= 1.0:
            raise ValueError(f"min_gene_overlap must lie in (0, 1], got {min_gene_overlap}")
        reference_model = _reference_as_model_or_path(reference_model)
        with _compat.model_file_reader(model_folder_reader(trust_file)):
            reference_var_names, registry = _compat.reference_setup(reference_model)
        if return_reference_var_names:
            return reference_var_names
        rna = counts_modality(adata, _compat.setup_args(registry))
        if rna is not adata and not inplace:
            raise ValueError("a MuData query is prepared in place: pass inplace=True")
        cls._check_query_data(adata, registry)
        result = align_query_genes(rna, reference_var_names, inplace, min_gene_overlap, gene_map)
        if rna is not adata:
            adata.update()  # the MuData takes in the RNA modality's new genes
        cls._complete_query_data(adata if result is None else result, registry)
        return result

    @classmethod
    def _check_query_data(cls, adata, registry: dict) -> None:
        """Model-specific checks of a query before anything of it changes (none here)."""

    @classmethod
    def _complete_query_data(cls, prepared, registry: dict) -> None:
        """Model-specific preparation of an aligned query (none here)."""

    @classmethod
    def load_query_data(
        cls,
        adata: AnnData,
        reference_model: BaseModelClass | str | os.PathLike,
        inplace_subset_query_vars: bool = False,
        accelerator: str = "auto",
        device: int | str = "auto",
        unfrozen: bool = False,
        freeze_dropout: bool = False,
        freeze_expression: bool = True,
        freeze_decoder_first_layer: bool = True,
        freeze_batchnorm_encoder: bool = True,
        freeze_batchnorm_decoder: bool = False,
        trust_file: bool = False,
        gene_map: GeneMapLike | None = None,
        **kwargs,
    ):
        """Build a query model from a reference (scArches), ready for a short ``train``.

        Same semantics as scvi-tools' :meth:`~scvi.model.base.ArchesMixin.load_query_data`:
        the query is registered with the reference's setup, new batch (and covariate)
        categories are appended, weights are copied and all reference weights are
        frozen except the parameters of the covariate inputs (``unfrozen=True`` trains
        everything). Training a frozen query model uses no weight decay, so frozen
        weights stay exactly as in the reference.

        Parameters
        ----------
        adata
            Query AnnData (or MuData, as the reference) with the reference's genes in the
            reference's order (run :meth:`prepare_query_anndata` first) and the
            reference's ``.obs`` columns.
        reference_model
            Trained reference model of this class, or the folder it was saved to.
        inplace_subset_query_vars
            Subset and reorder the query's genes in place (all reference genes must exist).
        accelerator, device
            Where the query model lives.
        unfrozen
            Train all weights instead of only the new covariate parameters.
        freeze_dropout
            Switch dropout off during query training.
        freeze_expression, freeze_decoder_first_layer
            scvi-tools' finer freezing options (see :class:`~scvi.model.base.ArchesMixin`).
        freeze_batchnorm_encoder, freeze_batchnorm_decoder
            Keep batch-norm statistics and weights of encoder / decoder fixed.
        trust_file
            Also read a reference folder in scvi-tools' pickled format (it can run code).
        gene_map
            For a query whose genes are not yet the reference's: run
            :meth:`prepare_query_anndata` with this gene map on ``adata`` in place first
            (orthologues of another species, see there). Ignored, with a log line,
            when ``adata`` already has the reference's genes.
        **kwargs
            Further arguments of scvi-tools' ``load_query_data``.

        Returns
        -------
        The query model; ``model.query_mapping_`` reports the gene overlap, the new
        batch categories and whether weights are frozen.

        Raises
        ------
        ValueError
            If the query's genes differ from the reference's (the message names
            ``prepare_query_anndata``), or a required ``.obs`` column is missing.
        TypeError
            If the reference is a model of another class.

        Examples
        --------
        >>> scssl.model.MaskedAE.prepare_query_anndata(query, ref_model)
        >>> q = scssl.model.MaskedAE.load_query_data(query, ref_model)
        >>> q.query_mapping_["new_batches"]
        ['new_batch']
        >>> q.train(max_epochs=20)
        """
        if adata is None:
            raise ValueError("load_query_data needs the query AnnData (adata=...)")
        reference_model = _reference_as_model_or_path(reference_model)
        if isinstance(reference_model, BaseModelClass) and not isinstance(reference_model, cls):
            raise TypeError(
                f"reference_model is a {type(reference_model).__name__}; use "
                f"{type(reference_model).__name__}.load_query_data instead of "
                f"{cls.__name__}.load_query_data"
            )
        reader = model_folder_reader(trust_file)
        with _compat.model_file_reader(reader):
            reference_var_names, registry = _compat.reference_setup(reference_model)
        rna = counts_modality(adata, _compat.setup_args(registry))
        if gene_map is not None:
            if rna.var_names.equals(reference_var_names):
                logger.info("load_query_data: the query has the reference's genes; gene_map unused")
            else:
                align_query_genes(rna, reference_var_names, True, MIN_GENE_OVERLAP, gene_map)
                if rna is not adata:
                    adata.update()
        if not inplace_subset_query_vars and not rna.var_names.equals(reference_var_names):
            overlap = GeneOverlap.compute(rna.var_names, reference_var_names)
            raise ValueError(
                f"the query's genes are not the reference's genes in the reference's order "
                f"({overlap.describe()}). Run {cls.__name__}.prepare_query_anndata(adata, "
                "reference_model) first."
            )
        check_query_setup(adata, _compat.setup_args(registry))
        with _compat.model_file_reader(reader):
            model = super().load_query_data(
                adata,
                reference_model,
                inplace_subset_query_vars=inplace_subset_query_vars,
                accelerator=accelerator,
                device=device,
                unfrozen=unfrozen,
                freeze_dropout=freeze_dropout,
                freeze_expression=freeze_expression,
                freeze_decoder_first_layer=freeze_decoder_first_layer,
                freeze_batchnorm_encoder=freeze_batchnorm_encoder,
                freeze_batchnorm_decoder=freeze_batchnorm_decoder,
                **kwargs,
            )
        reference_batches = _compat.registry_categories(registry, REGISTRY_KEYS.BATCH_KEY)
        query_batches = _compat.registry_categories(model.registry, REGISTRY_KEYS.BATCH_KEY)
        new_batches = [b for b in query_batches if b not in reference_batches]
        prepared = rna.uns.get(UNS_KEY, {})
        model.query_mapping_ = {
            "n_reference_genes": len(reference_var_names),
            "gene_overlap": float(prepared.get("fraction", 1.0)),
            "n_missing_genes": len(prepared.get("missing", [])),
            "new_batches": new_batches,
            "frozen": not unfrozen,
        }
        model._query_frozen = not unfrozen
        if not unfrozen and hasattr(model.module, "target_follows_online"):
            # an EMA target network (BYOL) would drift towards the online weights: keep the
            # reference's target, whose new covariate columns start like the online network's
            model.module.target_follows_online = False
        encoder_sees_batch = getattr(model.module, "encode_covariates", True)
        if not unfrozen and not encoder_sees_batch:
            logger.warning(
                "%s: the encoder does not see the batch (encode_covariates=False), so query "
                "training cannot adapt the embedding: the query embedding is the frozen "
                "reference encoder's output; use encode_covariates=True for mapping that "
                "corrects query batch effects",
                cls.__name__,
            )
        logger.info(
            "load_query_data: %d new batch categories %s; reference weights %s",
            len(new_batches),
            new_batches,
            "trainable" if unfrozen else "frozen except covariate parameters",
        )
        return model

    def _set_training_mode(self) -> None:
        """In a frozen query model, batch norm keeps the reference's statistics.

        scvi-tools freezes the running statistics of batch norm in modules named
        ``*encoder`` / ``*decoder`` only; the training heads (projector, predictor, and
        BYOL's target copies) would otherwise update theirs. They stay in eval mode:
        they normalise with the reference's statistics and change none of them.
        """
        super()._set_training_mode()
        if getattr(self, "_query_frozen", False):
            for module in self.module.modules():
                if isinstance(module, torch.nn.BatchNorm1d):
                    module.eval()

    def _plan_kwargs(self, plan_kwargs: dict) -> dict:
        """A frozen query model trains without weight decay.

        Adam's weight decay shrinks every optimised tensor, including the frozen
        reference columns whose gradients the scArches hooks zero; without it those
        columns stay exactly as in the reference.
        """
        plan_kwargs = super()._plan_kwargs(plan_kwargs)
        if getattr(self, "_query_frozen", False):
            if plan_kwargs.get("weight_decay", 0.0):
                logger.info("query training: weight_decay set to 0 to keep reference weights")
            plan_kwargs = {**plan_kwargs, "weight_decay": 0.0}
        return plan_kwargs

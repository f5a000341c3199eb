"""MultimodalMAE: one masked autoencoder for RNA + protein (CITE-seq), with cross-modal masking."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.data.fields import MuDataLayerField, ObsmField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from scssl import _compat
from scssl.data import check_count_values
from scssl.module import MultimodalMAEModule
from scssl.module._multimodal import EmbeddingSource, Modality

from ._base import ScsslModelMixin
from ._mudata import MuDataSetupMixin, resolve_modalities
from ._query import QueryMappingMixin

PROTEIN_KEY = REGISTRY_KEYS.PROTEIN_EXP_KEY


def _check_protein_counts(values, where: str, n_obs: int) -> None:
    """Protein counts: cells x proteins, raw counts (all-zero rows: unmeasured cells)."""
    values = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if values.ndim != 2 or values.shape[0] != n_obs or values.shape[1] < 1:
        raise ValueError(f"{where} must be cells x proteins, got shape {values.shape}")
    hint = "pass raw protein counts (non-negative integers)"
    check_count_values(values, where, hint, allow_all_zero=True)


class MultimodalMAE(
    QueryMappingMixin, MuDataSetupMixin, ScsslModelMixin, UnsupervisedTrainingMixin, BaseModelClass
):
    """Masked autoencoder over RNA and protein counts of the same cells (CITE-seq).

    Each modality has an encoder; a cell's embedding is the mean over the modalities it
    shows. Training hides genes and proteins within each modality and, per cell with
    probability ``modality_mask_prob``, a whole modality (cross-modal masking), and
    reconstructs what was hidden (see :class:`~scssl.module.MultimodalMAEModule`), so
    the model learns to predict protein from RNA and back. Embeddings come from both
    modalities or either alone (:meth:`get_latent_representation`); a missing modality
    is predicted with :meth:`predict_modality`.

    Cells whose protein counts are all zero count as unmeasured (as in totalVI): an
    RNA-only batch can be trained on and gets its proteins predicted.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`, or MuData with :meth:`setup_mudata`.
    n_latent, n_hidden, n_layers, dropout_rate
        Architecture of the encoders and decoders.
    mask_ratio, protein_mask_ratio
        Share of genes / proteins hidden per cell in training.
    modality_mask_prob
        Probability that a cell with both modalities has one hidden whole.
    protein_weight
        Weight of the protein reconstruction term.
    contrastive_weight, temperature
        The contrastive variant: with ``contrastive_weight > 0`` a cell's RNA and
        protein are two views of it, and NT-Xent between their embeddings (other cells
        as negatives) is added with this weight; default 0 (off).

    Examples
    --------
    >>> import numpy as np, scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> adata.obsm["protein"] = np.random.default_rng(0).poisson(5, (adata.n_obs, 8))
    >>> scssl.model.MultimodalMAE.setup_anndata(
    ...     adata, layer="counts", protein_expression_obsm_key="protein"
    ... )
    >>> model = scssl.model.MultimodalMAE(adata)
    >>> model.train(max_epochs=2)
    >>> model.predict_modality(source="rna", target="protein").shape
    (700, 8)
    """

    _module_cls = MultimodalMAEModule
    _default_batch_size = 128

    def __init__(
        self,
        adata,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        mask_ratio: float = 0.25,
        protein_mask_ratio: float = 0.25,
        modality_mask_prob: float = 0.5,
        protein_weight: float = 1.0,
        contrastive_weight: float = 0.0,
        temperature: float = 0.1,
    ):
        super().__init__(adata)
        n_proteins = self.adata_manager.get_from_registry(PROTEIN_KEY).shape[1]
        self.module = self._module_cls(
            n_genes=self.summary_stats.n_vars,
            n_proteins=n_proteins,
            n_batch=self.summary_stats.n_batch,
            n_latent=n_latent,
            n_hidden=n_hidden,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            mask_ratio=mask_ratio,
            protein_mask_ratio=protein_mask_ratio,
            modality_mask_prob=modality_mask_prob,
            protein_weight=protein_weight,
            contrastive_weight=contrastive_weight,
            temperature=temperature,
        )
        self._model_summary_string = (
            f"MultimodalMAE: {self.summary_stats.n_vars} genes + {n_proteins} proteins, "
            f"n_latent={n_latent}, modality_mask_prob={modality_mask_prob}, "
            f"contrastive_weight={contrastive_weight}"
        )
        self.init_params_ = self._get_init_params(locals())

    # -- registration -------------------------------------------------------------------------
    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        layer: str | None = None,
        protein_expression_obsm_key: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        **kwargs,
    ) -> None:
        """Register RNA counts (``X`` or ``layer``) and protein counts (an ``.obsm`` entry).

        Parameters
        ----------
        adata
            AnnData with RNA counts; protein counts in ``adata.obsm``.
        layer
            Layer with the RNA counts; ``None`` uses ``adata.X``.
        protein_expression_obsm_key
            ``adata.obsm`` key of the protein counts (cells x proteins, array or data
            frame), as in ``scvi.model.TOTALVI.setup_anndata``.
        batch_key, labels_key
            Columns of ``adata.obs``.
        **kwargs
            Passed to scvi-tools' field registration.

        Examples
        --------
        >>> import numpy as np, scssl
        >>> adata = scssl.data.pbmc68k_counts()
        >>> adata.obsm["protein"] = np.ones((adata.n_obs, 3))
        >>> scssl.model.MultimodalMAE.setup_anndata(
        ...     adata, layer="counts", protein_expression_obsm_key="protein"
        ... )
        """
        if protein_expression_obsm_key is None:
            raise ValueError("pass protein_expression_obsm_key=... (the .obsm key of the proteins)")
        if protein_expression_obsm_key not in adata.obsm:
            raise KeyError(
                f"protein_expression_obsm_key={protein_expression_obsm_key!r} is not in adata.obsm"
            )
        where = f"adata.obsm[{protein_expression_obsm_key!r}]"
        _check_protein_counts(adata.obsm[protein_expression_obsm_key], where, adata.n_obs)
        cls._register_anndata(adata, _compat.setup_method_args(cls, locals()), **kwargs)

    @classmethod
    def _extra_fields(cls, *, protein_expression_obsm_key: str, **setup_args) -> list:
        return [ObsmField(PROTEIN_KEY, protein_expression_obsm_key, is_count_data=True)]

    @classmethod
    def setup_mudata(
        cls,
        mdata,
        rna_layer: str | None = None,
        protein_layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        modalities: dict[str, str] | None = None,
        **kwargs,
    ) -> None:
        """Register a MuData with an RNA and a protein modality (scvi-tools' convention).

        Parameters
        ----------
        mdata
            MuData; every cell in both modalities (all-zero protein rows: unmeasured).
        rna_layer, protein_layer
            Layers with the counts; ``None`` uses the modality's ``X``.
        batch_key, labels_key
            Columns of the ``obs`` of the modality ``modalities`` names for them.
        modalities
            Setup argument -> modality, e.g. ``{"rna_layer": "rna", "protein_layer":
            "protein", "batch_key": "rna"}``.
        **kwargs
            Passed to scvi-tools' field registration.

        Examples
        --------
        >>> import anndata, mudata, numpy as np, scssl
        >>> rna = scssl.data.pbmc68k_counts()
        >>> protein = anndata.AnnData(np.ones((rna.n_obs, 3)), obs=rna.obs[[]])
        >>> mdata = mudata.MuData({"rna": rna, "protein": protein})
        >>> scssl.model.MultimodalMAE.setup_mudata(
        ...     mdata, rna_layer="counts",
        ...     modalities={"rna_layer": "rna", "protein_layer": "protein"},
        ... )
        """
        setup_method_args = _compat.setup_method_args(cls, locals())
        args = setup_method_args["setup_args"]
        mods = resolve_modalities(mdata, modalities, args)
        if mods.get("protein_layer") is None:
            raise ValueError("modalities must name the protein modality: {'protein_layer': ...}")
        cls._validate_mudata(mdata, args, mods)
        protein = mdata.mod[mods["protein_layer"]]
        values = protein.X if protein_layer is None else protein.layers[protein_layer]
        values = values.toarray() if hasattr(values, "toarray") else values
        _check_protein_counts(values, f"modality {mods['protein_layer']!r}", mdata.n_obs)
        fields = [
            MuDataLayerField(
                REGISTRY_KEYS.X_KEY, rna_layer, mod_key=mods["rna_layer"], is_count_data=True
            ),
            MuDataLayerField(
                PROTEIN_KEY, protein_layer, mod_key=mods["protein_layer"], is_count_data=True
            ),
            *cls._mudata_obs_fields(args, mods),
        ]
        adata_manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        adata_manager.register_fields(mdata, **kwargs)
        cls.register_manager(adata_manager)

    # -- what it gives ------------------------------------------------------------------------
    @property
    def protein_names(self) -> pd.Index:
        """Names of the proteins (``"0"``, ``"1"``, ... when the counts were an unnamed array)."""
        state = self.adata_manager.get_state_registry(PROTEIN_KEY)
        names = state.get("column_names")
        if names is None:
            names = np.arange(self.module.n_proteins)
        return pd.Index(np.asarray(names).astype(str))

    def get_latent_representation(
        self,
        adata=None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        source: EmbeddingSource = "joint",
    ) -> np.ndarray:
        """Embedding from both modalities (``"joint"``) or from ``"rna"`` / ``"protein"`` alone.

        Examples
        --------
        >>> z_rna = model.get_latent_representation(source="rna")
        """
        if source not in ("joint", "rna", "protein"):
            raise ValueError(f"source must be 'joint', 'rna' or 'protein', got {source!r}")
        self._check_if_trained(warn=True)
        embed = functools.partial(self.module.embed, source=source)
        return self._map_cells(embed, adata, indices, batch_size)

    def predict_modality(
        self,
        adata=None,
        source: Modality = "rna",
        target: Modality = "protein",
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """Predict ``target`` from ``source`` alone, for cells that lack it (or to check it).

        Proteins come on the centred-log-ratio scale of ``log1p`` counts, genes as
        ``log1p`` of counts per 10,000.

        Examples
        --------
        >>> scssl.model.MultimodalMAE.prepare_query_anndata(query, model)  # RNA only
        >>> bool(query.obsm["protein_expression"].any())  # unmeasured, not invented
        False
        >>> proteins = model.predict_modality(query, target="protein")
        """
        if {source, target} != {"rna", "protein"}:
            raise ValueError(
                f"source and target must be 'rna' and 'protein', got {source!r}, {target!r}"
            )
        self._check_if_trained(warn=True)
        predict = functools.partial(self.module.predict, source=source, target=target)
        values = self._map_cells(predict, adata, indices, batch_size)
        data = self._validate_anndata(adata) if adata is not None else self.adata
        obs_names = np.asarray(data.obs_names)
        if indices is not None:
            obs_names = obs_names[np.asarray(indices)]
        columns = self.protein_names if target == "protein" else pd.Index(self.get_gene_names())
        return pd.DataFrame(values, index=obs_names, columns=columns)

    def get_gene_names(self) -> list[str]:
        """Names of the RNA features."""
        return list(self.adata_manager.get_state_registry(REGISTRY_KEYS.X_KEY)["column_names"])

    # -- reference mapping of an RNA-only query -------------------------------------------
    @classmethod
    def _check_query_data(cls, adata, registry: dict) -> None:
        """A query of a MuData reference brings the protein modality (all zero if unmeasured)."""
        modalities = registry["setup_args"].get("modalities")
        if modalities and modalities["protein_layer"] not in adata.mod:
            raise ValueError(
                f"the query MuData has no {modalities['protein_layer']!r} modality; for "
                "an RNA-only study give it all-zero protein counts (unmeasured)"
            )

    @classmethod
    def _complete_query_data(cls, prepared, registry: dict) -> None:
        """An RNA-only AnnData query gets all-zero (unmeasured) proteins."""
        setup_args = registry["setup_args"]
        if setup_args.get("modalities"):
            return
        key = setup_args["protein_expression_obsm_key"]
        proteins = registry["field_registries"][PROTEIN_KEY]["state_registry"]["column_names"]
        if key not in prepared.obsm:
            prepared.obsm[key] = np.zeros((prepared.n_obs, len(proteins)), np.float32)

"""MuData registration with scvi-tools' ``modalities=`` convention (as ``TOTALVI.setup_mudata``)."""

from __future__ import annotations

from typing import Any

from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.data.fields import (
    MuDataCategoricalJointObsField,
    MuDataCategoricalObsField,
    MuDataLayerField,
    MuDataNumericalJointObsField,
)

from scssl import _compat
from scssl.data import check_raw_counts, check_unique_names

from ._setup_checks import check_setup_columns

#: setup arguments naming ``obs`` columns, each read from the modality named for it
COLUMN_ARGUMENTS = (
    "batch_key",
    "labels_key",
    "categorical_covariate_keys",
    "continuous_covariate_keys",
)


#: setup arguments a ``modalities`` entry may name, and what they point to
MODALITY_ARGUMENTS = ("rna_layer", "protein_layer", *COLUMN_ARGUMENTS)


def resolve_modalities(mdata, modalities: dict[str, str] | None, setup_args: dict) -> dict:
    """Modality of every setup argument (``None``: ``mdata.obs``), checked against ``mdata``."""
    if modalities is None:
        raise ValueError(
            "setup_mudata needs modalities=..., e.g. modalities={'rna_layer': 'rna'} "
            "(scvi-tools' convention: setup argument -> modality name)"
        )
    unknown = set(modalities) - set(setup_args)
    if unknown:
        raise ValueError(
            f"modalities names arguments setup_mudata does not have: {sorted(unknown)}"
        )
    for argument, modality in modalities.items():
        if modality is not None and modality not in mdata.mod:
            raise KeyError(
                f"modalities[{argument!r}] = {modality!r} is not a modality of the MuData "
                f"(it has {sorted(mdata.mod)})"
            )
    if modalities.get("rna_layer") is None:
        raise ValueError("modalities must name the RNA modality: modalities={'rna_layer': ...}")
    return {argument: modalities.get(argument) for argument in setup_args}


def modality_view(mdata, modality: str | None):
    """The AnnData a setup argument reads: a modality, or the MuData's own obs."""
    return mdata if modality is None else mdata.mod[modality]


class MuDataSetupMixin:
    """``setup_mudata`` for the models that read RNA counts: register the RNA modality.

    The counts (``rna_layer`` of the RNA modality) are checked as in ``setup_anndata``;
    batch, labels and covariates are read from the modality ``modalities`` names for
    them (default: ``mdata.obs``). Training, embeddings, save/load and reference
    mapping then work on the MuData as on an AnnData.
    """

    @classmethod
    def setup_mudata(
        cls,
        mdata,
        rna_layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        modalities: dict[str, str] | None = None,
        **kwargs,
    ) -> None:
        """Register a MuData whose RNA modality holds raw counts.

        Parameters
        ----------
        mdata
            MuData with raw counts in the RNA modality's ``X`` or ``rna_layer``.
        rna_layer
            Layer of the RNA modality holding the counts; ``None`` uses its ``X``.
        batch_key, labels_key, categorical_covariate_keys, continuous_covariate_keys
            Columns of the ``obs`` of the modality ``modalities`` names for them (of
            ``mdata.obs`` when it names none), as in ``setup_anndata``.
        modalities
            Setup argument -> modality name; must name ``rna_layer``.
        **kwargs
            Passed to scvi-tools' field registration.

        Examples
        --------
        >>> import mudata, scssl
        >>> rna = scssl.data.pbmc68k_counts()
        >>> mdata = mudata.MuData({"rna": rna})
        >>> scssl.model.MaskedAE.setup_mudata(
        ...     mdata, rna_layer="counts", batch_key="phase",
        ...     modalities={"rna_layer": "rna", "batch_key": "rna"},
        ... )
        """
        cls._register_mudata(mdata, _compat.setup_method_args(cls, locals()), **kwargs)

    @classmethod
    def _register_mudata(cls, mdata, setup_method_args: dict, **kwargs) -> None:
        """Check, then register the RNA counts, obs fields and :meth:`_mudata_extra_fields`.

        A model whose ``setup_mudata`` takes arguments of its own defines its own
        signature and calls this, as ``setup_anndata`` calls ``_register_anndata``.
        """
        args = setup_method_args["setup_args"]
        mods = resolve_modalities(mdata, args.get("modalities"), args)
        cls._validate_mudata(mdata, args, mods)
        fields = [
            MuDataLayerField(
                REGISTRY_KEYS.X_KEY,
                args.get("rna_layer"),
                mod_key=mods["rna_layer"],
                is_count_data=cls._count_data,  # type: ignore[attr-defined]
                mod_required=True,
            ),
            *cls._mudata_obs_fields(args, mods),
            *cls._mudata_extra_fields(args, mods),
        ]
        adata_manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        adata_manager.register_fields(mdata, **kwargs)
        cls.register_manager(adata_manager)  # type: ignore[attr-defined]

    @classmethod
    def _mudata_extra_fields(cls, args: dict, mods: dict) -> list:
        """Fields of the model's own setup arguments (none here)."""
        return []

    @classmethod
    def _validate_mudata(cls, mdata, args: dict[str, Any], mods: dict) -> None:
        """The setup_anndata checks: counts in the RNA modality, each column in its modality."""
        rna = mdata.mod[mods["rna_layer"]]
        check_unique_names(rna)
        if cls._count_data:  # type: ignore[attr-defined]
            check_raw_counts(rna, args["rna_layer"])
        for argument in COLUMN_ARGUMENTS:
            if args.get(argument) is not None:
                view = modality_view(mdata, mods.get(argument))
                check_setup_columns(view, {argument: args[argument]})

    @classmethod
    def _mudata_obs_fields(cls, args: dict, mods: dict) -> list:
        """Batch, labels and covariates, each from its modality."""
        return [
            MuDataCategoricalObsField(
                REGISTRY_KEYS.BATCH_KEY, args.get("batch_key"), mod_key=mods.get("batch_key")
            ),
            MuDataCategoricalObsField(
                REGISTRY_KEYS.LABELS_KEY, args.get("labels_key"), mod_key=mods.get("labels_key")
            ),
            MuDataCategoricalJointObsField(
                REGISTRY_KEYS.CAT_COVS_KEY,
                args.get("categorical_covariate_keys"),
                mod_key=mods.get("categorical_covariate_keys"),
            ),
            MuDataNumericalJointObsField(
                REGISTRY_KEYS.CONT_COVS_KEY,
                args.get("continuous_covariate_keys"),
                mod_key=mods.get("continuous_covariate_keys"),
            ),
        ]

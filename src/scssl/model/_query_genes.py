"""The query's side of reference mapping: gene alignment and the setup keys it must hold.

For a MuData query these act on the modality that holds the RNA counts (the one the
reference's ``setup_mudata`` named ``rna_layer``), and each setup key is looked up in
the modality the reference read it from.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict

import numpy as np
import pandas as pd
from anndata import AnnData

from scssl import _compat
from scssl._constants import OBSM_SETUP_ARGUMENTS, OUTPUT_KEYS
from scssl.data import GeneMapLike, GeneMapping, check_unique_names, map_gene_names

from ._gene_overlap import GeneOverlap
from ._mudata import modality_view

logger = logging.getLogger("scssl")

#: below this share of the reference genes present in the query, scssl warns
WARN_GENE_OVERLAP = 0.8
#: default floor: below this share of reference genes, mapping is refused
MIN_GENE_OVERLAP = 0.5
#: ``.uns`` key where :meth:`QueryMappingMixin.prepare_query_anndata` records the overlap
UNS_KEY = OUTPUT_KEYS.QUERY_GENES


def uns_record(overlap: GeneOverlap, mapping: GeneMapping | None) -> dict:
    """The overlap (and gene map report) as ``.uns`` values that h5ad can store."""
    record: dict = {**asdict(overlap), "missing": np.asarray(overlap.missing, dtype=str)}
    if mapping is not None:
        record["gene_map"] = {
            key: np.asarray(value, dtype=str) if isinstance(value, tuple) else value
            for key, value in asdict(mapping).items()
        }
    return record


def align_query_genes(
    adata: AnnData,
    reference_var_names: pd.Index,
    inplace: bool,
    min_gene_overlap: float,
    gene_map: GeneMapLike | None,
) -> AnnData | None:
    """The body of ``prepare_query_anndata`` once the reference's genes are known."""
    check_unique_names(adata)
    # the new names are worked out (and judged) before anything of the user's changes
    query_names, mapping = adata.var_names, None
    if gene_map is not None:
        query_names, mapping = map_gene_names(adata.var_names, gene_map)
    overlap = GeneOverlap.compute(query_names, reference_var_names)
    mapped_note = "" if mapping is None else f" ({mapping.describe()})"
    if overlap.fraction < min_gene_overlap:
        raise ValueError(
            f"too few reference genes in the query to map it: {overlap.describe()}"
            f"{mapped_note}. The floor is min_gene_overlap={min_gene_overlap:.0%}. Check "
            "that query and reference use the same gene identifiers (symbols vs Ensembl "
            "ids, species; for another species pass gene_map=, a 1:1 orthologue table)."
        )
    if overlap.fraction < WARN_GENE_OVERLAP:
        warnings.warn(
            f"only {overlap.fraction:.0%} of the reference genes are in the query; "
            f"the mapping may be poor. {overlap.describe()}{mapped_note}",
            UserWarning,
            stacklevel=3,
        )
    logger.info("prepare_query_anndata: %s%s", overlap.describe(), mapped_note)
    work, work_inplace = adata, inplace
    if mapping is not None:  # rename (a copy unless in place), keeping the query's names
        work, work_inplace = (adata if inplace else adata.copy()), True
        work.var["query_gene"] = work.var_names.to_numpy()
        work.var_names = query_names
    result = _compat.pad_and_sort_query(work, reference_var_names, work_inplace)
    target = work if work_inplace else result
    target.uns[UNS_KEY] = uns_record(overlap, mapping)
    return None if inplace else target


def counts_modality(data, setup_args: dict) -> AnnData:
    """The AnnData with the RNA counts: ``data`` itself, or the MuData's RNA modality."""
    modalities = setup_args.get("modalities")
    if isinstance(data, AnnData):
        if modalities:
            raise ValueError(
                "the reference was set up with setup_mudata: give the query as a MuData "
                f"with the same modalities ({sorted(set(modalities.values()) - {None})})"
            )
        return data
    if not modalities:
        raise ValueError("the reference was set up with setup_anndata: give the query as AnnData")
    rna = modalities["rna_layer"]
    if rna not in data.mod:
        raise KeyError(f"the query MuData has no modality {rna!r} (the reference's RNA)")
    return data.mod[rna]


def _setup_key_view(data, setup_args: dict, argument: str) -> AnnData:
    """Where the reference read ``argument`` from: the AnnData, or a MuData's modality."""
    if isinstance(data, AnnData):
        return data
    if argument in OBSM_SETUP_ARGUMENTS or argument == "mnn_key":  # partners: RNA modality
        return counts_modality(data, setup_args)
    return modality_view(data, setup_args["modalities"].get(argument))


def check_query_setup(data, setup_args: dict) -> None:
    """The query has every ``.obs`` column, ``.obsm`` entry and layer the reference used."""
    for argument, key in setup_args.items():
        if not (argument.endswith("_key") or argument.endswith("_keys")):
            continue
        keys = [key] if isinstance(key, str) else (key or [])
        in_obsm = argument in OBSM_SETUP_ARGUMENTS
        view = _setup_key_view(data, setup_args, argument)
        missing = [k for k in keys if k not in (view.obsm if in_obsm else view.obs)]
        if missing:
            fix = (
                "compute it on the query (for knn_key: scssl.tl.knn_pairs(query))"
                if in_obsm
                else "add it (for labels an unknown placeholder such as 'Unknown' is fine)"
            )
            raise ValueError(
                f"the reference was set up with {argument}={key!r}, but the query has "
                f"no {'.obsm entry' if in_obsm else '.obs column'} {missing}; {fix}"
            )
    layer = setup_args.get("layer", setup_args.get("rna_layer"))
    if layer is not None and layer not in counts_modality(data, setup_args).layers:
        raise ValueError(
            f"the reference was trained on layer {layer!r}, missing from the query's .layers"
        )

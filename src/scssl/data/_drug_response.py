"""Drug-response data: bulk cell lines with IC50 labels plus single cells, on one footing.

The transfer model :class:`~scssl.model.DrugResponseTransfer` reads one AnnData that
holds both domains. :func:`build_drug_response_adata` builds it:

1. **Genes**: the intersection of the bulk and single-cell gene names, in bulk order.
   How many genes each side lost is logged and stored in ``uns['drug_response']``;
   too few shared genes is an error that names the side that lost them.
2. **Scaling** (``scaling="sample"``, the default): every profile, bulk or single
   cell, is z-scored across the shared genes (mean 0, standard deviation 1 per row).
   Raw single-cell counts (``sc_input="counts"``) are first normalised to 10,000
   counts per cell and log1p-transformed. This mirrors the GDSC bulk matrix shipped
   in the shared data, which is z-scored within each cell line; rescaling both
   domains after the gene intersection puts them on exactly the same footing.
   ``scaling="none"`` keeps the values as given (after the log transform of counts).
3. **Labels**: ln IC50 values are averaged per cell line (GDSC lists some drugs under
   several drug ids) and binarised: ``1`` = sensitive (ln IC50 below the per-drug
   threshold, or below the given quantile), ``0`` = resistant. Single cells get no
   label (``NaN``); their known responses, if any, go to ``obs['true_response']`` for
   evaluation only.

Loaders for the shared files (GDSC bulk, GDSC IC50 tables, thresholds, PC9 and the
three ssda4drug targets) read local files under :func:`~scssl.data.data_dir`.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd
from anndata import AnnData

from scssl._options import GDSCRelease, check_option

from ._datasets import data_dir

logger = logging.getLogger("scssl")

DRUG_DIR = "drug_response"
BULK_DOMAIN = "bulk"
SC_DOMAIN = "single_cell"
SSDA4DRUG_TARGETS = ("Afatinib", "Gefitinib", "PLX4720")


def _shared_path(relative: str):
    path = data_dir() / DRUG_DIR / relative
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found. Set SCSSL_DATA_DIR to the folder holding the shared data "
            f"(it must contain {DRUG_DIR}/{relative!r})."
        )
    return path


def _drug_key(name: str) -> str:
    """Normalised drug name for matching: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


# -- loaders of the shared files -----------------------------------------------------------
def gdsc_bulk_expression() -> AnnData:
    """GDSC bulk expression: 975 cell lines x 6163 genes, z-scored within each cell line.

    Rows are named by the expression key (for example ``CAL120``); ``obs`` holds
    ``gdsc_cell_line_name``, ``depmap_id``, ``cosmic_id`` and ``lineage``.

    Examples
    --------
    >>> import scssl
    >>> bulk = scssl.data.gdsc_bulk_expression()
    >>> bulk.shape
    (975, 6163)
    """
    return ad.read_h5ad(_shared_path("gdsc_bulk/GDSC_EXP_975cells_6163genes_cellz.h5ad"))


def gdsc_ln_ic50(drug: str, release: GDSCRelease = "GDSC2") -> pd.Series:
    """The ln IC50 of one drug per GDSC cell line, indexed by the bulk expression key.

    Cell-line names are mapped to rows of :func:`gdsc_bulk_expression` through the
    shared name table; lines without expression are dropped. Duplicate measurements
    (one drug under several GDSC drug ids) are averaged.

    Parameters
    ----------
    drug
        Drug name; matched ignoring case and punctuation (``"PLX4720"`` finds ``PLX-4720``).
    release
        ``"GDSC1"`` or ``"GDSC2"``.

    Examples
    --------
    >>> import scssl
    >>> ic50 = scssl.data.gdsc_ln_ic50("Erlotinib", release="GDSC2")
    >>> ic50.index.is_unique
    True
    """
    check_option("release", release, GDSCRelease)
    table = pd.read_csv(_shared_path(f"gdsc_bulk/{release}_IC50.csv.gz"))
    rows = table[table["DRUG_NAME"].map(_drug_key) == _drug_key(drug)]
    if rows.empty:
        raise KeyError(f"drug {drug!r} not found in {release}_IC50.csv.gz")
    names = pd.read_csv(_shared_path("gdsc_bulk/gdsc_name_to_exp_key.tsv"), sep="\t").dropna()
    to_key = dict(zip(names["gdsc_cell_line_name"], names["exp_cell_key"]))
    keys = rows["CELL_LINE_NAME"].map(to_key)
    values = pd.Series(rows["LN_IC50"].to_numpy(float), index=keys.to_numpy(), name="ln_ic50")
    values = values[values.index.notna()]
    return average_duplicates(values)


def ln_ic50_threshold(drug: str) -> float:
    """GDSC per-drug ln IC50 cut-off (sensitive below it), from the shared 265-drug table.

    Names are matched ignoring case and punctuation; ``(rescreen)`` entries are used
    only when asked for by name.

    Examples
    --------
    >>> import scssl
    >>> scssl.data.ln_ic50_threshold("Erlotinib")
    1.5671
    """
    table = pd.read_csv(
        _shared_path("ccle_bulk/drug_ln_ic50_binarisation_thresholds_265.tsv"), sep="\t"
    )
    match = table[table["drug_name"].map(_drug_key) == _drug_key(drug)]
    if match.empty:
        raise KeyError(
            f"no ln IC50 threshold for {drug!r}; pass threshold= or quantile= to "
            "binarize_ln_ic50 instead."
        )
    return float(match["ln_ic50_threshold"].iloc[0])


def pc9_erlotinib() -> AnnData:
    """PC9 lung cancer cells, untreated vs erlotinib survivors (raw counts, 1942 x 23,662).

    ``obs['response']`` is ``"sensitive"`` for untreated cells and ``"resistant"`` for
    cells that survived 11 days of erlotinib.

    Examples
    --------
    >>> import scssl
    >>> pc9 = scssl.data.pc9_erlotinib()
    >>> pc9.obs["response"].value_counts().to_dict()
    {'resistant': 1462, 'sensitive': 480}
    """
    return ad.read_h5ad(
        _shared_path("pc9_erlotinib_sc/PC9_day11_control_vs_erlotinib_counts_min300umi.h5ad")
    )


def entrez_to_symbol() -> pd.Series:
    """Entrez gene id (as a string) -> HGNC symbol, from the shared March 2019 table.

    Examples
    --------
    >>> import scssl
    >>> scssl.data.entrez_to_symbol()["1"]
    'A1BG'
    """
    table = pd.read_csv(
        _shared_path("ccle_bulk/entrez_NCBI_to_hugo_gene_symbol_march_2019.txt.gz"), sep="\t"
    ).dropna()
    ids = table.iloc[:, 1].astype(np.int64).astype(str)
    out = pd.Series(table.iloc[:, 0].to_numpy(), index=ids.to_numpy(), name="symbol")
    return out[~out.index.duplicated()]


def ssda4drug_target(drug: Literal["Afatinib", "Gefitinib", "PLX4720"]) -> AnnData:
    """One of the three ssda4drug/SCAD single-cell targets, genes as symbols.

    Values are z-scored (not counts). Entrez ids are mapped to symbols; ids without a
    symbol, and second occurrences of a symbol, are dropped. ``obs['response']`` is
    ``"sensitive"`` (file label 1) or ``"resistant"`` (0).

    Examples
    --------
    >>> import scssl
    >>> target = scssl.data.ssda4drug_target("Gefitinib")
    >>> target.n_obs
    66
    """
    if drug not in SSDA4DRUG_TARGETS:
        raise ValueError(f"drug must be one of {SSDA4DRUG_TARGETS}, got {drug!r}")
    table = pd.read_csv(
        _shared_path(f"ssda4drug_scad_targets/Target_expr_resp_z.{drug}_tp4k.tsv.gz"),
        sep="\t",
        index_col=0,
    )
    response = table.pop("response").astype(int)
    symbols = pd.Index(table.columns.astype(str)).map(entrez_to_symbol())
    keep = np.asarray(symbols.notna()) & ~np.asarray(symbols.duplicated())
    adata = AnnData(
        X=table.to_numpy(np.float32)[:, keep],
        obs=pd.DataFrame(
            {"response": np.where(response.to_numpy() == 1, "sensitive", "resistant")},
            index=table.index.astype(str),
        ),
        var=pd.DataFrame({"entrez_id": table.columns[keep]}, index=symbols[keep].astype(str)),
    )
    adata.obs["response"] = adata.obs["response"].astype("category")
    return adata


# -- labels ---------------------------------------------------------------------------------
def average_duplicates(values: pd.Series) -> pd.Series:
    """Average repeated measurements of the same sample (index entry).

    Examples
    --------
    >>> import pandas as pd
    >>> average_duplicates(pd.Series([1.0, 3.0, 5.0], index=["a", "a", "b"])).to_dict()
    {'a': 2.0, 'b': 5.0}
    """
    values = pd.Series(values, dtype=float).dropna()
    return values.groupby(level=0, sort=False).mean()


def binarize_ln_ic50(
    ln_ic50: pd.Series,
    *,
    threshold: float | None = None,
    quantile: float | None = None,
) -> pd.Series:
    """Binarise ln IC50 values: ``1`` = sensitive (below the cut-off), ``0`` = resistant.

    Duplicate measurements of a sample are averaged first.

    Parameters
    ----------
    ln_ic50
        ln IC50 per sample; the index names the samples and may repeat.
    threshold
        ln IC50 cut-off (for example :func:`ln_ic50_threshold`).
    quantile
        Alternatively, call the samples below this quantile of the (averaged)
        values sensitive, for example ``0.2``.

    Examples
    --------
    >>> import pandas as pd
    >>> ic50 = pd.Series([0.0, 2.0, 3.0, 5.0], index=["a", "a", "b", "c"])
    >>> binarize_ln_ic50(ic50, threshold=2.5).to_dict()
    {'a': 1, 'b': 0, 'c': 0}
    """
    if (threshold is None) == (quantile is None):
        raise ValueError("give exactly one of threshold= or quantile=")
    values = average_duplicates(ln_ic50)
    if values.empty:
        raise ValueError("no ln IC50 values to binarise")
    if quantile is not None:
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must lie strictly between 0 and 1, got {quantile}")
        threshold = float(values.quantile(quantile))
    return (values < threshold).astype(int).rename("response")

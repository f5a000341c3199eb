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
from scipy import sparse

from ._datasets import data_dir
from ._validation import get_matrix

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
    >>> bulk = scssl.data.gdsc_bulk_expression()  # doctest: +SKIP
    >>> bulk.shape  # doctest: +SKIP
    (975, 6163)
    """
    return ad.read_h5ad(_shared_path("gdsc_bulk/GDSC_EXP_975cells_6163genes_cellz.h5ad"))


def gdsc_ln_ic50(drug: str, release: Literal["GDSC1", "GDSC2"] = "GDSC2") -> pd.Series:
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
    >>> ic50 = scssl.data.gdsc_ln_ic50("Erlotinib", release="GDSC2")  # doctest: +SKIP
    >>> ic50.index.is_unique  # doctest: +SKIP
    True
    """
    if release not in ("GDSC1", "GDSC2"):
        raise ValueError(f"release must be 'GDSC1' or 'GDSC2', got {release!r}")
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
    >>> scssl.data.ln_ic50_threshold("Erlotinib")  # doctest: +SKIP
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
    >>> pc9 = scssl.data.pc9_erlotinib()  # doctest: +SKIP
    >>> pc9.obs["response"].value_counts().to_dict()  # doctest: +SKIP
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
    >>> scssl.data.entrez_to_symbol()["1"]  # doctest: +SKIP
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
    >>> target = scssl.data.ssda4drug_target("Gefitinib")  # doctest: +SKIP
    >>> target.n_obs  # doctest: +SKIP
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


# -- the two-domain AnnData -----------------------------------------------------------------
def _dense(matrix) -> np.ndarray:
    return np.asarray(matrix.toarray() if sparse.issparse(matrix) else matrix, dtype=np.float64)


def zscore_rows(values: np.ndarray) -> np.ndarray:
    """Z-score every row (profile) across its columns (genes); constant rows give 0.

    Examples
    --------
    >>> import numpy as np
    >>> zscore_rows(np.array([[1.0, 2.0, 3.0]])).round(3)
    array([[-1.225,  0.   ,  1.225]])
    """
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, keepdims=True)
    return np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 0)


def _log_normalise(counts: np.ndarray, target_sum: float = 1e4) -> np.ndarray:
    library = counts.sum(axis=1, keepdims=True)
    scaled = np.divide(counts, library, out=np.zeros_like(counts), where=library > 0)
    return np.log1p(scaled * target_sum)


def smooth_cells(values: np.ndarray, k: int, n_comps: int = 30, seed: int = 0) -> np.ndarray:
    """Average every cell with its ``k - 1`` nearest neighbours (itself included: ``k``).

    Neighbours are found in a PCA (``n_comps`` components) of ``values`` (cells x
    genes). Uses no labels. A bulk profile averages millions of cells; averaging a
    shallow cell with similar cells brings it closer to that footing.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 10.0], [10.0, 12.0]])
    >>> smooth_cells(x, k=2, n_comps=2)
    array([[ 0.,  1.],
           [ 0.,  1.],
           [10., 11.],
           [10., 11.]])
    """
    from sklearn.decomposition import PCA

    from scssl.metrics import nearest_neighbors

    n_cells = values.shape[0]
    if not 1 <= k <= n_cells:
        raise ValueError(f"smoothing needs 1 <= k <= n_cells ({n_cells}), got k={k}")
    if k == 1:
        return values.copy()
    n_comps = int(min(n_comps, n_cells - 1, values.shape[1]))
    reduced = PCA(n_components=n_comps, random_state=seed).fit_transform(values)
    neighbours, _ = nearest_neighbors(reduced, reduced, k, method="exact")
    return values[neighbours].mean(axis=1)


def _check_counts(values: np.ndarray) -> None:
    finite = np.isfinite(values).all()
    if not finite or (values < 0).any() or not np.allclose(values, np.round(values)):
        raise ValueError(
            "sc_input='counts' but the single-cell matrix is not raw counts (negative, "
            "non-integer or non-finite values); pass sc_layer= with the counts, or "
            "sc_input='log' / 'scaled' for processed values."
        )


def build_drug_response_adata(
    bulk: AnnData,
    response: pd.Series,
    single_cell: AnnData,
    *,
    threshold: float | None = None,
    quantile: float | None = None,
    bulk_layer: str | None = None,
    sc_layer: str | None = None,
    sc_input: Literal["counts", "log", "scaled"] = "counts",
    scaling: Literal["sample", "none"] = "sample",
    center_per_domain: bool = False,
    sc_labels_key: str | None = None,
    genes: list[str] | None = None,
    min_shared_genes: int = 100,
    smoothing_k: int = 0,
) -> AnnData:
    """Build the two-domain AnnData for :class:`~scssl.model.DrugResponseTransfer`.

    Parameters
    ----------
    bulk
        Bulk expression (cell lines x genes, gene names in ``var_names``).
    response
        Per bulk sample (index = ``bulk.obs_names``, may repeat): either binary labels
        (1 = sensitive, 0 = resistant) or ln IC50 values together with ``threshold=``
        or ``quantile=``. Bulk samples without a value stay unlabelled (``NaN``).
    single_cell
        Single cells x genes.
    threshold, quantile
        Binarise ``response`` as ln IC50 (:func:`binarize_ln_ic50`); leave both ``None``
        when ``response`` is already binary.
    bulk_layer, sc_layer
        Layers to read instead of ``X``.
    sc_input
        What the single-cell matrix holds: ``"counts"`` (raw counts; normalised to 10,000
        per cell and log1p-transformed here), ``"log"`` (already log-normalised) or
        ``"scaled"`` (already scaled values, for example z-scores).
    scaling
        ``"sample"`` (default): z-score every bulk profile and every cell across the
        shared genes, the same transformation in both domains. ``"none"``: keep values.
    center_per_domain
        After scaling, subtract each gene's mean within its own domain (bulk rows and
        cells separately; no labels involved). This removes the first-order domain shift,
        for example when the single cells were z-scored per gene but the bulk was not.
    sc_labels_key
        Column of ``single_cell.obs`` with known responses, copied to
        ``obs['true_response']`` for evaluation only (never used in training).
    genes
        Restrict to these genes (must be in both domains); ``None`` uses the intersection.
    min_shared_genes
        Fewer shared genes than this is an error.
    smoothing_k
        With ``k > 1``, average every cell's (log-normalised) values on the shared genes
        with those of its ``k - 1`` nearest cells (:func:`smooth_cells`, PCA space) before
        scaling; ``0`` (default) leaves cells as they are. Label-free denoising for
        shallow cells, which a bulk-trained predictor otherwise sees as very noisy bulk.

    Returns
    -------
    AnnData with the bulk rows first, then the cells; ``X`` float32 scaled values on the
    shared genes; ``obs['domain']`` (``"bulk"`` / ``"single_cell"``), ``obs['response']``
    (1.0 sensitive, 0.0 resistant, ``NaN`` unlabelled: every cell), and
    ``obs['true_response']`` when ``sc_labels_key`` is given. ``uns['drug_response']``
    records the gene report and the preprocessing choices.

    Raises
    ------
    ValueError
        Too few shared genes (naming how many and which side lost them), no labelled
        bulk rows, a single class, a response index that matches no bulk sample, or
        single-cell input that is not what ``sc_input`` says.

    Examples
    --------
    >>> import scssl
    >>> bulk = scssl.data.gdsc_bulk_expression()  # doctest: +SKIP
    >>> ic50 = scssl.data.gdsc_ln_ic50("Erlotinib")  # doctest: +SKIP
    >>> adata = scssl.data.build_drug_response_adata(  # doctest: +SKIP
    ...     bulk,
    ...     ic50,
    ...     scssl.data.pc9_erlotinib(),
    ...     threshold=scssl.data.ln_ic50_threshold("Erlotinib"),
    ...     sc_labels_key="response",
    ... )
    """
    if sc_input not in ("counts", "log", "scaled"):
        raise ValueError(f"sc_input must be 'counts', 'log' or 'scaled', got {sc_input!r}")
    if smoothing_k < 0 or smoothing_k > single_cell.n_obs:
        raise ValueError(
            f"smoothing_k must lie in [0, n_cells={single_cell.n_obs}], got {smoothing_k}"
        )
    if scaling not in ("sample", "none"):
        raise ValueError(f"scaling must be 'sample' or 'none', got {scaling!r}")
    if sc_labels_key is not None and sc_labels_key not in single_cell.obs:
        raise KeyError(f"sc_labels_key={sc_labels_key!r} is not a column of single_cell.obs")

    # genes
    bulk_genes = pd.Index(bulk.var_names.astype(str))
    sc_genes = pd.Index(single_cell.var_names.astype(str))
    if not bulk_genes.is_unique or not sc_genes.is_unique:
        side = "bulk" if not bulk_genes.is_unique else "single_cell"
        raise ValueError(f"{side} var_names are not unique; call .var_names_make_unique() first")
    shared = bulk_genes[bulk_genes.isin(sc_genes)]
    if genes is not None:
        missing = pd.Index(genes).difference(shared)
        if len(missing):
            raise ValueError(
                f"{len(missing)} requested genes are not in both domains, e.g. {list(missing[:5])}"
            )
        shared = pd.Index(genes)
    report = {
        "n_bulk_genes": len(bulk_genes),
        "n_sc_genes": len(sc_genes),
        "n_shared_genes": len(shared),
        "n_bulk_only": len(bulk_genes) - int(bulk_genes.isin(shared).sum()),
        "n_sc_only": len(sc_genes) - int(sc_genes.isin(shared).sum()),
    }
    logger.info(
        "drug response: %d shared genes (bulk %d, of which %d not in the single cells; "
        "single cells %d, of which %d not in bulk)",
        report["n_shared_genes"],
        report["n_bulk_genes"],
        report["n_bulk_only"],
        report["n_sc_genes"],
        report["n_sc_only"],
    )
    if len(shared) < min_shared_genes:
        raise ValueError(
            f"only {len(shared)} genes are shared (min_shared_genes={min_shared_genes}): the "
            f"bulk side lost {report['n_bulk_only']} of {len(bulk_genes)} genes and the "
            f"single-cell side lost {report['n_sc_only']} of {len(sc_genes)}. Check that both "
            "use the same gene identifiers (symbols vs Ensembl/Entrez ids)."
        )

    # labels
    if threshold is not None or quantile is not None:
        labels = binarize_ln_ic50(response, threshold=threshold, quantile=quantile)
    else:
        labels = average_duplicates(response)
        if not labels.isin([0, 1]).all():
            raise ValueError(
                "response holds values other than 0/1; pass threshold= or quantile= to "
                "binarise ln IC50 values."
            )
    labels = labels[labels.index.isin(bulk.obs_names)]
    if labels.empty:
        raise ValueError(
            "no labelled bulk rows: the response index matches none of bulk.obs_names "
            f"(e.g. response index {list(response.index[:3])}, bulk {list(bulk.obs_names[:3])})."
        )
    if labels.nunique() < 2:
        raise ValueError(
            f"all {len(labels)} labelled bulk rows have the same class "
            f"({'sensitive' if labels.iloc[0] == 1 else 'resistant'}); change threshold= or "
            "quantile=."
        )

    # values on the shared genes
    xb = _dense(get_matrix(bulk, bulk_layer)[:, bulk_genes.get_indexer(shared)])
    xs_all = get_matrix(single_cell, sc_layer)
    if sc_input == "counts":
        xs_all = _dense(xs_all)
        _check_counts(xs_all)
        xs = _log_normalise(xs_all)[:, sc_genes.get_indexer(shared)]
    else:
        xs = _dense(xs_all[:, sc_genes.get_indexer(shared)])
    for side, values in (("bulk", xb), ("single_cell", xs)):
        if not np.isfinite(values).all():
            raise ValueError(f"the {side} matrix holds NaN or infinite values on the shared genes")
    if smoothing_k > 1:
        xs = smooth_cells(xs, smoothing_k)
    if scaling == "sample":
        xb, xs = zscore_rows(xb), zscore_rows(xs)
    if center_per_domain:
        xb, xs = xb - xb.mean(axis=0), xs - xs.mean(axis=0)

    obs_bulk = pd.DataFrame(index=bulk.obs_names.astype(str))
    obs_bulk["domain"] = BULK_DOMAIN
    obs_bulk["response"] = labels.reindex(obs_bulk.index).astype(float).to_numpy()
    obs_sc = pd.DataFrame(index=single_cell.obs_names.astype(str))
    obs_sc["domain"] = SC_DOMAIN
    obs_sc["response"] = np.nan
    if sc_labels_key is not None:
        obs_sc["true_response"] = single_cell.obs[sc_labels_key].astype(str).to_numpy()
        obs_bulk["true_response"] = np.nan
    obs = pd.concat([obs_bulk, obs_sc])
    obs["domain"] = pd.Categorical(obs["domain"], categories=[BULK_DOMAIN, SC_DOMAIN])
    if not obs.index.is_unique:
        obs.index = pd.Index([f"{d}:{i}" for d, i in zip(obs["domain"], obs.index)])
    out = AnnData(X=np.vstack([xb, xs]).astype(np.float32), obs=obs, var=pd.DataFrame(index=shared))
    out.uns["drug_response"] = {
        "genes": report,
        "params": {
            "sc_input": sc_input,
            "scaling": scaling,
            "center_per_domain": bool(center_per_domain),
            "smoothing_k": int(smoothing_k),
            "threshold": np.nan if threshold is None else float(threshold),
            "quantile": np.nan if quantile is None else float(quantile),
            "n_labelled_bulk": int(obs_bulk["response"].notna().sum()),
            "n_sensitive_bulk": int((obs_bulk["response"] == 1).sum()),
        },
    }
    return out

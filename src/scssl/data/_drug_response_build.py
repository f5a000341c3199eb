"""The two-domain AnnData of bulk-to-single-cell drug-response transfer.

:func:`build_drug_response_adata` puts bulk profiles (labelled) and single cells
(unlabelled) on one scale over the shared genes.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from scssl._options import Scaling, SingleCellInput, check_option

from ._drug_response import BULK_DOMAIN, SC_DOMAIN, average_duplicates, binarize_ln_ic50
from ._normalize import log_normalize
from ._validation import check_count_values, get_matrix

logger = logging.getLogger("scssl")


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


def build_drug_response_adata(
    bulk: AnnData,
    response: pd.Series,
    single_cell: AnnData,
    *,
    threshold: float | None = None,
    quantile: float | None = None,
    bulk_layer: str | None = None,
    sc_layer: str | None = None,
    sc_input: SingleCellInput = "counts",
    scaling: Scaling = "sample",
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
    >>> bulk = scssl.data.gdsc_bulk_expression()
    >>> ic50 = scssl.data.gdsc_ln_ic50("Erlotinib")
    >>> adata = scssl.data.build_drug_response_adata(
    ...     bulk,
    ...     ic50,
    ...     scssl.data.pc9_erlotinib(),
    ...     threshold=scssl.data.ln_ic50_threshold("Erlotinib"),
    ...     sc_labels_key="response",
    ... )
    """
    check_option("sc_input", sc_input, SingleCellInput)
    if smoothing_k < 0 or smoothing_k > single_cell.n_obs:
        raise ValueError(
            f"smoothing_k must lie in [0, n_cells={single_cell.n_obs}], got {smoothing_k}"
        )
    check_option("scaling", scaling, Scaling)
    if sc_labels_key is not None and sc_labels_key not in single_cell.obs:
        raise KeyError(f"sc_labels_key={sc_labels_key!r} is not a column of single_cell.obs")

    bulk_genes = pd.Index(bulk.var_names.astype(str))
    sc_genes = pd.Index(single_cell.var_names.astype(str))
    shared, report = _shared_genes(bulk_genes, sc_genes, genes, min_shared_genes)
    labels = _bulk_labels(response, bulk.obs_names, threshold, quantile)

    # values on the shared genes
    xb = _dense(get_matrix(bulk, bulk_layer)[:, bulk_genes.get_indexer(shared)])
    xs_all = get_matrix(single_cell, sc_layer)
    if sc_input == "counts":
        xs_all = _dense(xs_all)
        check_count_values(
            xs_all,
            "the single-cell matrix (sc_input='counts')",
            "pass sc_layer= with the counts, or sc_input='log' / 'scaled' for processed values",
        )
        xs = log_normalize(xs_all)[:, sc_genes.get_indexer(shared)]
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

    obs, obs_bulk = _two_domain_obs(bulk, single_cell, labels, sc_labels_key)
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


def _shared_genes(
    bulk_genes: pd.Index, sc_genes: pd.Index, genes: list[str] | None, min_shared_genes: int
) -> tuple[pd.Index, dict]:
    """The genes of both domains (or the requested ones), and a report of what was lost."""
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

    return shared, report


def _bulk_labels(
    response: pd.Series, bulk_names: pd.Index, threshold: float | None, quantile: float | None
) -> pd.Series:
    """Binary labels of the bulk samples that have a response (both classes present)."""
    if threshold is not None or quantile is not None:
        labels = binarize_ln_ic50(response, threshold=threshold, quantile=quantile)
    else:
        labels = average_duplicates(response)
        if not labels.isin([0, 1]).all():
            raise ValueError(
                "response holds values other than 0/1; pass threshold= or quantile= to "
                "binarise ln IC50 values."
            )
    labels = labels[labels.index.isin(bulk_names)]
    if labels.empty:
        raise ValueError(
            "no labelled bulk rows: the response index matches none of bulk.obs_names "
            f"(e.g. response index {list(response.index[:3])}, bulk {list(bulk_names[:3])})."
        )
    if labels.nunique() < 2:
        raise ValueError(
            f"all {len(labels)} labelled bulk rows have the same class "
            f"({'sensitive' if labels.iloc[0] == 1 else 'resistant'}); change threshold= or "
            "quantile=."
        )

    return labels


def _two_domain_obs(
    bulk: AnnData, single_cell: AnnData, labels: pd.Series, sc_labels_key: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``obs`` of the two-domain AnnData (bulk rows first), and its bulk part."""
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
    return obs, obs_bulk

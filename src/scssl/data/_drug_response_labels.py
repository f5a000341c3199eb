"""Reading a two-domain AnnData back for :class:`~scssl.model.DrugResponseTransfer`.

Which rows are bulk, their response labels (checked), and the derived columns the
model registers (domain, response, single-cell clusters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from ._validation import get_matrix

_SENSITIVE = {"1", "1.0", "true", "sensitive", "s"}
_RESISTANT = {"0", "0.0", "false", "resistant", "r"}


def parse_response(values: pd.Series) -> np.ndarray:
    """0/1/NaN floats from numbers, booleans or ``"sensitive"``/``"resistant"`` strings."""
    out = np.full(len(values), np.nan)
    present = values.notna().to_numpy()
    text = values[present].astype(str).str.strip().str.lower()
    sensitive, resistant = text.isin(_SENSITIVE).to_numpy(), text.isin(_RESISTANT).to_numpy()
    unknown = ~(sensitive | resistant)
    if unknown.any():
        bad = sorted(set(text[unknown]))[:5]
        raise ValueError(
            f"response values {bad} are not understood; use 1/0 (sensitive/resistant), "
            "'sensitive'/'resistant', or NaN for unlabelled rows."
        )
    idx = np.flatnonzero(present)
    out[idx[sensitive]] = 1.0
    out[idx[resistant]] = 0.0
    return out


def domains_and_response(
    adata: AnnData, domain_key: str, response_key: str, bulk_domain: str
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are bulk, and the parsed response (0/1/NaN), after checking the domains."""
    domain = adata.obs[domain_key]
    if domain.isna().any():
        raise ValueError(f"adata.obs[{domain_key!r}] has missing values; every row needs a domain")
    values = sorted(map(str, pd.unique(domain.astype(str))))
    if len(values) != 2 or bulk_domain not in values:
        raise ValueError(
            f"mismatched domains: adata.obs[{domain_key!r}] holds {values}; it needs exactly "
            f"two values, one of them bulk_domain={bulk_domain!r} (build the AnnData with "
            "scssl.data.build_drug_response_adata)."
        )
    is_bulk = (domain.astype(str) == bulk_domain).to_numpy()
    return is_bulk, parse_response(adata.obs[response_key])


def kmeans_clusters(values: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    n_clusters = int(min(n_clusters, max(values.shape[0] // 5, 1)))
    if n_clusters < 2:
        return np.zeros(values.shape[0])
    n_comps = int(min(20, values.shape[0] - 1, values.shape[1]))
    reduced = PCA(n_components=n_comps, random_state=seed).fit_transform(values)
    return KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit_predict(reduced)


def derived_columns(
    adata: AnnData, setup_args: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Domain (0 bulk, 1 cell), bulk response (NaN for cells) and cell cluster (-1 bulk).

    The three float32 columns :meth:`scssl.model.DrugResponseTransfer.setup_anndata`
    registers, from its arguments ``setup_args`` (the defaults are that method's);
    clusters come from ``cluster_key`` or k-means on the single cells.
    """
    a = setup_args
    is_bulk, response = domains_and_response(
        adata, a["domain_key"], a["response_key"], a["bulk_domain"]
    )
    response[~is_bulk] = np.nan
    if a["cluster_key"] is not None:
        codes = pd.Categorical(adata.obs[a["cluster_key"]].astype(str)).codes.astype(float)
        clusters = np.where(is_bulk, -1.0, codes)
    else:
        sc_values = get_matrix(adata, a["layer"])[~is_bulk]
        sc_values = sc_values.toarray() if sparse.issparse(sc_values) else sc_values
        clusters = np.full(adata.n_obs, -1.0)
        clusters[~is_bulk] = kmeans_clusters(sc_values, a["n_clusters"], a["seed"])
    return (
        (~is_bulk).astype(np.float32),
        response.astype(np.float32),
        clusters.astype(np.float32),
    )


def check_bulk_labels(
    bulk_response: np.ndarray, response_key: str, domain_key: str, bulk_domain: str
) -> np.ndarray:
    """The labelled bulk responses, after checking that both classes are present."""
    bulk_labels = bulk_response[np.isfinite(bulk_response)]
    if bulk_labels.size == 0:
        raise ValueError(
            f"no labelled bulk rows: adata.obs[{response_key!r}] is missing for all "
            f"{bulk_response.size} rows with {domain_key}={bulk_domain!r}."
        )
    if np.unique(bulk_labels).size < 2:
        kind = "sensitive" if bulk_labels[0] == 1 else "resistant"
        raise ValueError(
            f"all {bulk_labels.size} labelled bulk rows are {kind}; the predictor needs "
            "both classes (change the ln IC50 threshold or quantile)."
        )
    return bulk_labels

"""Matching gene programmes to a dataset's genes: positions, per-programme filters, membership.

The pieces of :meth:`scssl.data.GeneProgrammes.align`, kept apart so each is short.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

logger = logging.getLogger("scssl")


@dataclass(frozen=True)
class ProgrammeFilters:
    """Size and overlap filters of an alignment (checked on construction)."""

    min_genes: int = 5
    max_genes: int | None = None
    min_overlap: float = 0.0

    def __post_init__(self):
        if self.min_genes < 1:
            raise ValueError(f"min_genes must be at least 1, got {self.min_genes}")
        if self.max_genes is not None and self.max_genes < self.min_genes:
            raise ValueError(
                f"max_genes ({self.max_genes}) is smaller than min_genes ({self.min_genes})"
            )
        if not 0.0 <= self.min_overlap <= 1.0:
            raise ValueError(f"min_overlap must lie in [0, 1], got {self.min_overlap}")

    def reason(self, n_in: int, overlap: float) -> str:
        """Why a programme with ``n_in`` genes in the data is dropped (``""``: kept)."""
        if n_in < self.min_genes:
            return f"fewer than {self.min_genes} genes in the data ({n_in})"
        if self.max_genes is not None and n_in > self.max_genes:
            return f"more than {self.max_genes} genes in the data ({n_in})"
        if overlap < self.min_overlap:
            return f"overlap {overlap:.2f} below min_overlap {self.min_overlap}"
        return ""


def gene_positions(var_names: Sequence[str], key: Callable[[str], str]) -> dict[str, int]:
    """Position of each (case-folded by ``key``) gene name; the first of duplicates wins."""
    position: dict[str, int] = {}
    duplicated = 0
    for i, name in enumerate(var_names):
        k = key(name)
        if k in position:
            duplicated += 1
            continue
        position[k] = i
    if duplicated:
        logger.warning(
            "%d gene names are duplicated in the data (after case folding); the first "
            "occurrence is used",
            duplicated,
        )
    return position


def align_programme(
    name: str,
    members: Sequence[str],
    tf: str | None,
    position: Mapping[str, int],
    key: Callable[[str], str],
    known_tfs: set[str] | None,
    filters: ProgrammeFilters,
) -> tuple[dict, list[int]]:
    """One programme's report row and its sorted gene positions (the TF itself removed)."""
    idx = _unique_ints(position.get(key(g)) for g in members)
    row = {"programme": name, "n_genes": len(members), "tf": tf}
    reason = ""
    if tf is not None:
        tf_pos = position.get(key(tf))
        if known_tfs is not None and key(tf) not in known_tfs:
            reason = f"{tf} is not in the TF list"
        elif tf_pos is None:
            reason = f"TF {tf} not in the data"
        else:
            idx = [i for i in idx if i != tf_pos]
    n_in = len(idx)
    overlap = n_in / max(len(members), 1)
    row.update({"n_in_data": n_in, "overlap": overlap})
    reason = reason or filters.reason(n_in, overlap)
    row.update({"kept": not reason, "reason": reason})
    return row, sorted(idx)


def membership_matrix(columns: list[list[int]], n_genes: int) -> sparse.csr_matrix:
    """Boolean programmes x genes CSR matrix from each programme's gene positions."""
    indptr = np.cumsum([0] + [len(c) for c in columns])
    indices = np.concatenate([np.asarray(c, dtype=np.int64) for c in columns])
    return sparse.csr_matrix(
        (np.ones(indices.size, dtype=bool), indices, indptr), shape=(len(columns), n_genes)
    )


def generic_reasons(reasons: pd.Series) -> pd.Series:
    """Reasons without the per-programme details (counts, TF names), for summaries."""
    generic = reasons.str.replace(r" \([\d.]+\)$", "", regex=True)
    generic = generic.str.replace(r"^overlap [\d.]+ ", "overlap ", regex=True)
    return generic.str.replace(
        r"^(?:TF )?\S+ (is not in the TF list|not in the data)$", r"TF \1", regex=True
    )


def _unique_ints(values: Iterable[int | None]) -> list[int]:
    return list(dict.fromkeys(v for v in values if v is not None))


def _gene_names(adata: AnnData | Sequence[str] | pd.Index, gene_symbols: str | None) -> list[str]:
    if isinstance(adata, AnnData):
        if gene_symbols is not None:
            if gene_symbols not in adata.var:
                raise KeyError(
                    f"gene_symbols={gene_symbols!r} is not a column of adata.var "
                    f"(columns: {list(adata.var.columns)[:10]})"
                )
            return adata.var[gene_symbols].astype(str).tolist()
        return adata.var_names.astype(str).tolist()
    if gene_symbols is not None:
        raise ValueError("gene_symbols= needs an AnnData")
    if isinstance(adata, str):
        raise TypeError("pass an AnnData or a list of gene names, not a single string")
    names = [str(g) for g in adata]
    if not names:
        raise ValueError("no gene names given")
    return names


def coverage_summary(programmes) -> dict[str, object]:
    """Programmes kept and dropped (by reason) and genes covered, of aligned programmes."""
    report = programmes.report
    dropped = report.loc[~report["kept"], "reason"]
    kept_sizes = report.loc[report["kept"], "n_in_data"]
    covered = np.asarray(programmes.membership.sum(axis=0)).ravel() > 0
    if programmes.tfs is not None:
        covered[programmes.tf_indices()] = True
    return {
        "source": programmes.source,
        "programmes_in": int(report.shape[0]),
        "programmes_kept": len(programmes),
        "programmes_dropped": int(dropped.shape[0]),
        "dropped_by_reason": generic_reasons(dropped).value_counts().to_dict(),
        "genes_in_data": len(programmes.var_names),
        "genes_covered": int(covered.sum()),
        "fraction_genes_covered": float(covered.mean()),
        "median_programme_size": float(np.median(kept_sizes)),
    }


def resolve_tf(
    candidates: Sequence[str] | None,
    tf: str,
    position: Mapping[str, int],
    key: Callable[[str], str],
) -> str:
    """The first of a programme's TF ``candidates`` found among the genes (else the last)."""
    if not candidates:
        return tf
    for candidate in candidates:
        if key(candidate) in position:
            return candidate
    return candidates[-1]

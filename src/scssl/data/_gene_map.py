"""Rename a query's genes into a reference's gene space (for example orthologues).

A gene map pairs a query gene name with a reference gene name: a 1:1 orthologue
table (``genes/orthologs_human_mouse_1to1.csv`` in the shared data), a dict, a
:class:`pandas.Series`, or any two-column table. Only unambiguous pairs are used:
a query gene with several reference partners, or a reference gene reached from
several query genes, is dropped and reported, so no two query genes ever become
one reference gene silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import pandas as pd

#: what :func:`read_gene_map` accepts
GeneMapLike: TypeAlias = Mapping | pd.Series | pd.DataFrame | str | os.PathLike

#: prefix of query genes the map does not reach (they match no reference gene)
UNMAPPED_PREFIX = "unmapped:"


def name_head(names: tuple[str, ...], limit: int) -> str:
    """The first ``limit`` names, comma-separated, with ``...`` when there are more."""
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


@dataclass(frozen=True)
class GeneMapping:
    """What renaming a query's genes through a gene map did.

    Attributes
    ----------
    n_query
        Genes of the query.
    n_mapped
        Query genes renamed to a reference gene name.
    n_case_insensitive
        Of those, genes found in the map only when letter case is ignored.
    unmapped
        Query genes the map does not contain.
    ambiguous
        Query genes dropped because their pair is not one-to-one.
    source, target
        Names of the map's query-side and reference-side columns.
    """

    n_query: int
    n_mapped: int
    n_case_insensitive: int
    unmapped: tuple[str, ...]
    ambiguous: tuple[str, ...]
    source: str
    target: str

    def describe(self) -> str:
        """One line for logs and error messages."""
        text = (
            f"gene map ({self.source} -> {self.target}): {self.n_mapped} of {self.n_query} "
            f"query genes renamed"
        )
        if self.n_case_insensitive:
            text += f" ({self.n_case_insensitive} matched ignoring letter case)"
        if self.unmapped:
            text += f"; {len(self.unmapped)} not in the map"
        if self.ambiguous:
            text += (
                f"; {len(self.ambiguous)} dropped as not one-to-one: {name_head(self.ambiguous, 5)}"
            )
        return text


def _as_table(gene_map: GeneMapLike) -> pd.DataFrame:
    """The map as a two-column table of strings (columns named as given)."""
    if isinstance(gene_map, (str, os.PathLike)):
        path = Path(gene_map)
        if not path.is_file():
            raise FileNotFoundError(f"gene map file not found: {path}")
        separator = "\t" if path.suffix in {".tsv", ".txt"} else ","
        gene_map = pd.read_csv(path, sep=separator, dtype=str)
    if isinstance(gene_map, pd.Series):
        table = pd.DataFrame(
            {str(gene_map.index.name or "query"): gene_map.index, "reference": gene_map.values}
        )
    elif isinstance(gene_map, Mapping):
        table = pd.DataFrame({"query": list(gene_map), "reference": list(gene_map.values())})
    elif isinstance(gene_map, pd.DataFrame):
        if gene_map.shape[1] < 2:
            raise ValueError("a gene map table needs two columns (query and reference genes)")
        table = gene_map.iloc[:, :2]
    else:
        raise TypeError(
            f"gene_map must be a dict, a pandas Series or DataFrame, or a CSV/TSV path; "
            f"got {type(gene_map).__name__}"
        )
    return table.dropna().astype(str)


def _matches(query: pd.Index, names: pd.Series) -> tuple[int, int]:
    """Query genes found in ``names`` exactly, and ignoring case."""
    exact = int(query.isin(names).sum())
    return exact, int(query.str.lower().isin(names.str.lower()).sum())


def read_gene_map(gene_map: GeneMapLike, query_var_names: pd.Index) -> tuple[pd.Series, str, str]:
    """The map as a ``query gene -> reference gene`` Series (and its column names).

    A dict or Series maps query genes (keys / index) to reference genes. For a table
    (a DataFrame or a CSV/TSV file; its first two columns are used), the column that
    holds more of ``query_var_names`` is the query side, so one orthologue table
    serves both directions.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"human": ["INS", "GCG"], "mouse": ["Ins2", "Gcg"]})
    >>> pairs, source, target = read_gene_map(table, pd.Index(["Gcg", "Ttr"]))
    >>> source, target, pairs.to_dict()
    ('mouse', 'human', {'Ins2': 'INS', 'Gcg': 'GCG'})
    """
    table = _as_table(gene_map)
    first, second = table.columns[0], table.columns[1]
    hits = {column: _matches(query_var_names, table[column]) for column in (first, second)}
    if not isinstance(gene_map, (Mapping, pd.Series)) and hits[second] > hits[first]:
        first, second = second, first
    if max(hits[first]) == 0:
        raise ValueError(
            f"none of the query's genes (for example {list(query_var_names[:5])}) is in the "
            f"gene map's columns {list(map(str, table.columns[:2]))}; check the gene "
            "identifiers (symbols vs Ensembl ids) and the species"
        )
    return pd.Series(table[second].to_numpy(), index=table[first].to_numpy()), first, second


def map_gene_names(
    query_var_names: pd.Index, gene_map: GeneMapLike
) -> tuple[pd.Index, GeneMapping]:
    """New names for the query's genes: reference names, or ``"unmapped:<name>"``.

    Exact matches come first; a gene found only when case is ignored (``"INS1"``
    against ``"Ins1"``) is taken when that lower-case name is unique in the map.

    Examples
    --------
    >>> import pandas as pd
    >>> names, report = map_gene_names(pd.Index(["Gcg", "Ttr"]), {"Gcg": "GCG"})
    >>> list(names), report.n_mapped
    (['GCG', 'unmapped:Ttr'], 1)
    """
    pairs, source, target = read_gene_map(gene_map, query_var_names)
    frame = pd.DataFrame({"key": pairs.index, "value": pairs.to_numpy()}).drop_duplicates()

    def partners_by(keys: pd.Series) -> dict[str, tuple[str, ...]]:
        return frame.groupby(keys)["value"].agg(lambda v: tuple(sorted(set(v)))).to_dict()

    exact, folded = partners_by(frame["key"]), partners_by(frame["key"].str.lower())
    names = list(map(str, query_var_names))
    partners = [exact.get(name) or folded.get(name.lower()) for name in names]
    single = [p[0] if p is not None and len(p) == 1 else None for p in partners]
    # a reference gene reached from two query genes would merge them: drop both
    reached = pd.Series([t for t in single if t is not None]).value_counts()
    single = [t if t is not None and reached[t] == 1 else None for t in single]
    new_names = [
        t if t is not None else f"{UNMAPPED_PREFIX}{name}"
        for name, t in zip(names, single, strict=True)
    ]
    mapped = [t is not None for t in single]
    report = GeneMapping(
        n_query=len(names),
        n_mapped=sum(mapped),
        n_case_insensitive=sum(m and n not in exact for n, m in zip(names, mapped, strict=True)),
        unmapped=tuple(n for n, p in zip(names, partners, strict=True) if p is None),
        ambiguous=tuple(
            n for n, p, m in zip(names, partners, mapped, strict=True) if p is not None and not m
        ),
        source=str(source),
        target=str(target),
    )
    return pd.Index(new_names), report

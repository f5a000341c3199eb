"""Gene programmes and regulons: readers, and one container aligned to ``adata.var_names``.

Gene sets come from GMT files (MSigDB, Reactome exports), TF->target tables
(DoRothEA, CollecTRI) or a plain dict. :class:`GeneProgrammes` holds them and,
after :meth:`GeneProgrammes.align`, also a programme x gene membership matrix in
the order of the data's genes, with a report of what was kept and dropped.
"""

from __future__ import annotations

import gzip
import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

logger = logging.getLogger("scssl")

_TARGET_SUFFIX = re.compile(r"_TARGET_GENES$", flags=re.IGNORECASE)


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without duplicates or empty strings."""
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen[item] = None
    return list(seen)


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Read a GMT file into ``{set name: [genes]}``.

    Each line is ``name<TAB>description<TAB>gene<TAB>gene...``. The reader copes with
    an empty or placeholder description, trailing empty fields, duplicate genes
    within a set (kept once, in first-seen order), Windows or old Mac line endings,
    blank lines, surrounding white space and gzip-compressed files (``.gmt.gz``).
    A set name seen twice is merged (union of genes) with a warning.

    Parameters
    ----------
    path
        The GMT file.

    Returns
    -------
    Ordered dict from set name to its unique genes.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a non-blank line has no tab (not GMT) or an empty set name, naming the line.

    Examples
    --------
    >>> import scssl
    >>> path = scssl.data.data_dir() / "gene_programs/h.all.v7.0.symbols.gmt"
    >>> hallmark = scssl.data.read_gmt(path)
    >>> len(hallmark), hallmark["HALLMARK_APOPTOSIS"][:3]
    (50, ['CASP3', 'CASP9', 'DFFA'])
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"GMT file {path} not found")
    sets: dict[str, list[str]] = {}
    with _open_text(path) as handle:
        text = handle.read()
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise ValueError(
                f"{path.name}, line {number}: no tab found; GMT lines are "
                f"'name<TAB>description<TAB>gene<TAB>...'"
            )
        fields = line.split("\t")
        name = fields[0].strip()
        if not name:
            raise ValueError(f"{path.name}, line {number}: empty gene-set name")
        genes = _unique(fields[2:])
        if name in sets:
            warnings.warn(
                f"{path.name}: gene set {name!r} appears more than once; merging its genes",
                stacklevel=2,
            )
            genes = _unique(sets[name] + genes)
        sets[name] = genes
    if not sets:
        raise ValueError(f"{path} holds no gene sets")
    return sets


def tf_candidates(set_name: str) -> list[str]:
    """Possible TF symbols behind a TF-target set name, most likely first.

    MSigDB C3 names are ``<TF>_TARGET_GENES`` (for example ``ATF2_TARGET_GENES``);
    hyphenated symbols are written with ``_`` (``NKX2_8`` -> ``NKX2-8``); legacy
    motif names such as ``E2F1_Q3`` carry the TF before the first ``_``.

    Examples
    --------
    >>> tf_candidates("ATF2_TARGET_GENES")
    ['ATF2']
    >>> tf_candidates("NKX2_8_TARGET_GENES")
    ['NKX2_8', 'NKX2-8', 'NKX2']
    """
    base = _TARGET_SUFFIX.sub("", set_name.strip())
    return _unique([base, base.replace("_", "-"), base.split("_")[0]])


def read_tf_list(path: str | Path) -> list[str]:
    """Read a list of TF symbols, one per line (blank lines and ``#`` comments skipped).

    Examples
    --------
    >>> import scssl
    >>> tfs = scssl.data.read_tf_list(scssl.data.data_dir() / "tf/lambert2018.txt")
    >>> len(tfs) > 1000, "ATF2" in tfs
    (True, True)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"TF list {path} not found")
    with _open_text(path) as handle:
        lines = re.split(r"\r\n|\r|\n", handle.read())
    return _unique(line.split("\t")[0] for line in lines if not line.startswith("#"))


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"regulon table {path} not found")
    name = path.name.lower().removesuffix(".gz")
    sep = "," if name.endswith(".csv") else "\t"
    return pd.read_csv(path, sep=sep, dtype=str)


def read_regulons(
    path: str | Path | pd.DataFrame,
    *,
    tf_column: str | None = None,
    target_column: str = "target",
    confidence: str | Sequence[str] | None = "ABC",
    confidence_column: str = "confidence",
) -> GeneProgrammes:
    """Read a TF->target table (DoRothEA, CollecTRI or similar) as TF programmes.

    One programme per TF, named after it, holding its targets; the TF of each
    programme is known (:attr:`GeneProgrammes.tfs`).

    Parameters
    ----------
    path
        A ``.tsv``/``.csv`` file (optionally gzipped) or a DataFrame.
    tf_column
        Column with the TF; ``None`` picks ``tf`` (DoRothEA) or ``source`` (CollecTRI).
    target_column
        Column with the target gene.
    confidence
        DoRothEA confidence levels to keep (``"ABC"``: the curated edges); used only
        when the table has ``confidence_column``. ``None`` keeps every edge.
    confidence_column
        Column with the confidence level.

    Raises
    ------
    KeyError
        If a needed column is missing, naming the columns found.
    ValueError
        If no edge passes the confidence filter.

    Examples
    --------
    >>> import scssl
    >>> d = scssl.data.data_dir() / "tf"
    >>> dorothea = scssl.data.read_regulons(d / "dorothea_hs.tsv.gz", confidence="AB")
    >>> collectri = scssl.data.read_regulons(d / "collectri_human_omnipath_export.csv.gz")
    >>> collectri.tfs["MYC"]
    'MYC'
    """
    if isinstance(path, pd.DataFrame):
        table, label = path.astype(str), "table"
    else:
        table, label = _read_table(Path(path)), Path(path).name
    if tf_column is None:
        tf_column = next((c for c in ("tf", "source") if c in table.columns), "tf")
    for column in (tf_column, target_column):
        if column not in table.columns:
            raise KeyError(
                f"{label}: column {column!r} not found (columns: {list(table.columns)}); "
                f"set tf_column= / target_column="
            )
    if confidence is not None and confidence_column in table.columns:
        levels = set(confidence)
        found = set(table[confidence_column].dropna().unique())
        table = table[table[confidence_column].isin(levels)]
        if table.empty:
            raise ValueError(
                f"{label}: no edge has confidence in {sorted(levels)} (found {sorted(found)})"
            )
    table = table.dropna(subset=[tf_column, target_column])
    sets: dict[str, list[str]] = {}
    for tf, targets in table.groupby(tf_column, sort=False)[target_column]:
        sets[str(tf).strip()] = _unique(targets.astype(str))
    return GeneProgrammes(sets, tfs={name: name for name in sets}, source=label)


class GeneProgrammes:
    """A collection of gene programmes (named gene sets), optionally one TF per programme.

    Build it with :meth:`from_gmt`, :func:`read_regulons` or :meth:`from_dict`;
    then :meth:`align` it to a dataset. The aligned collection holds
    :attr:`membership`, a boolean programme x gene matrix in the order of
    :attr:`var_names`, and :attr:`report`, one row per input programme saying
    whether it was kept and, if not, why.

    Parameters
    ----------
    programmes
        ``{name: genes}``.
    tfs
        ``{name: TF symbol}`` for TF-target collections (the TF whose targets the
        programme holds); ``None`` otherwise.
    source
        A label for reports (file name, collection).

    Examples
    --------
    >>> import scssl
    >>> gp = scssl.data.GeneProgrammes.from_dict({"ribo": ["RPL3", "RPS6"], "mt": ["MT-CO1"]})
    >>> len(gp), gp.names
    (2, ['ribo', 'mt'])
    """

    def __init__(
        self,
        programmes: Mapping[str, Iterable[str]],
        tfs: Mapping[str, str] | None = None,
        source: str = "dict",
    ):
        if isinstance(programmes, GeneProgrammes):
            raise TypeError("already a GeneProgrammes; use it directly")
        if not isinstance(programmes, Mapping):
            raise TypeError(
                f"programmes must be a mapping name -> genes, got {type(programmes).__name__}"
            )
        genes: dict[str, list[str]] = {}
        for name, members in programmes.items():
            if isinstance(members, str):
                raise TypeError(
                    f"programme {name!r}: genes must be a list of symbols, not the string "
                    f"{members[:30]!r}"
                )
            genes[str(name)] = _unique(str(g) for g in members)
        if not genes:
            raise ValueError("no gene programmes given")
        self.genes: dict[str, list[str]] = genes
        self.tfs: dict[str, str] | None = None
        self._tf_candidates: dict[str, list[str]] = {}
        if tfs is not None:
            unknown = set(tfs) - set(genes)
            if unknown:
                raise KeyError(f"tfs names programmes that do not exist: {sorted(unknown)[:5]}")
            missing = [name for name in genes if name not in tfs]
            if missing:
                raise KeyError(f"tfs gives no TF for programmes {missing[:5]}")
            self.tfs = {name: str(tfs[name]) for name in genes}
        self.source = source
        self.var_names: pd.Index | None = None
        self.membership: sparse.csr_matrix | None = None
        self.report: pd.DataFrame | None = None

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls, programmes: Mapping[str, Iterable[str]], tfs: Mapping[str, str] | None = None
    ) -> GeneProgrammes:
        """Programmes from ``{name: genes}`` (and optionally ``{name: TF}``).

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"SOX9 targets": ["KRT19", "CFTR"]},
        ...                                          tfs={"SOX9 targets": "SOX9"})
        >>> gp.tfs
        {'SOX9 targets': 'SOX9'}
        """
        return cls(programmes, tfs=tfs, source="dict")

    @classmethod
    def from_gmt(cls, path: str | Path, *, tf_from_name: bool = False) -> GeneProgrammes:
        """Programmes from a GMT file (:func:`read_gmt`).

        Parameters
        ----------
        path
            The GMT file.
        tf_from_name
            The sets are TF targets named after their TF (MSigDB C3
            ``<TF>_TARGET_GENES``): take the TF from the set name, up to the first
            ``_``; :meth:`align` then picks the first of :func:`tf_candidates` found
            among the data's genes (so ``NKX2_8`` finds ``NKX2-8``).

        Examples
        --------
        >>> import scssl
        >>> path = scssl.data.data_dir() / "gene_programs/c3.tft.v7.5.1.symbols.gmt"
        >>> c3 = scssl.data.GeneProgrammes.from_gmt(path, tf_from_name=True)
        >>> c3.tfs["ATF5_TARGET_GENES"]
        'ATF5'
        """
        sets = read_gmt(path)
        tfs = None
        if tf_from_name:
            candidates = {name: tf_candidates(name) for name in sets}
            tfs = {name: options[-1] for name, options in candidates.items()}
        gp = cls(sets, tfs=tfs, source=Path(path).name)
        if tf_from_name:
            gp._tf_candidates = candidates
        return gp

    # -- basic protocol ---------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Programme names, in order."""
        return list(self.genes)

    @property
    def is_aligned(self) -> bool:
        """Whether :meth:`align` produced this collection."""
        return self.membership is not None

    def __len__(self) -> int:
        return len(self.genes)

    def __repr__(self) -> str:
        kind = "TF programmes" if self.tfs is not None else "programmes"
        where = f", aligned to {len(self.var_names)} genes" if self.is_aligned else ""
        return f"GeneProgrammes({len(self)} {kind} from {self.source}{where})"

    def to_dict(self) -> dict[str, list[str]]:
        """``{name: genes}`` as plain Python lists (what models store for save/load).

        Examples
        --------
        >>> import scssl
        >>> scssl.data.GeneProgrammes.from_dict({"a": ["X", "Y", "X"]}).to_dict()
        {'a': ['X', 'Y']}
        """
        return {name: list(genes) for name, genes in self.genes.items()}

    def concat(self, *others: GeneProgrammes) -> GeneProgrammes:
        """Join collections (unaligned); a name used twice gets the source as prefix.

        TFs are kept only if every collection has them.

        Examples
        --------
        >>> import scssl
        >>> a = scssl.data.GeneProgrammes.from_dict({"x": ["A"]})
        >>> b = scssl.data.GeneProgrammes.from_dict({"y": ["B"]})
        >>> a.concat(b).names
        ['x', 'y']
        """
        collections = [self, *others]
        genes: dict[str, list[str]] = {}
        tfs: dict[str, str] | None = {}
        candidates: dict[str, list[str]] = {}
        for gp in collections:
            for name, members in gp.genes.items():
                key = name if name not in genes else f"{gp.source}:{name}"
                genes[key] = list(members)
                if tfs is not None and gp.tfs is not None:
                    tfs[key] = gp.tfs[name]
                if name in gp._tf_candidates:
                    candidates[key] = gp._tf_candidates[name]
            if gp.tfs is None:
                tfs = None
        sources = "+".join(gp.source for gp in collections)
        out = GeneProgrammes(genes, tfs=tfs, source=sources)
        out._tf_candidates = candidates if tfs is not None else {}
        return out

    def subset(self, names: Iterable[str]) -> GeneProgrammes:
        """The programmes ``names`` only, in that order (re-aligned if this one is aligned).

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"x": ["A"], "y": ["B"]})
        >>> gp.subset(["y"]).names
        ['y']
        """
        names = list(names)
        missing = [name for name in names if name not in self.genes]
        if missing:
            raise KeyError(f"unknown programmes {missing[:5]}")
        tfs = None if self.tfs is None else {n: self.tfs[n] for n in names}
        out = GeneProgrammes({n: self.genes[n] for n in names}, tfs=tfs, source=self.source)
        out._tf_candidates = {n: self._tf_candidates[n] for n in names if n in self._tf_candidates}
        if self.is_aligned:
            out = out.align(self.var_names, min_genes=1)
        return out

    # -- alignment --------------------------------------------------------------------------
    def align(
        self,
        adata: AnnData | Sequence[str] | pd.Index,
        *,
        gene_symbols: str | None = None,
        min_genes: int = 5,
        max_genes: int | None = None,
        min_overlap: float = 0.0,
        tf_list: Iterable[str] | str | Path | None = None,
        case_sensitive: bool = False,
    ) -> GeneProgrammes:
        """Match the programmes to the data's genes and filter them.

        Symbols are matched case-insensitively by default, so human upper-case
        (``CD8A``) and mouse title-case (``Cd8a``) symbols both find their genes;
        the aligned programmes use the data's spelling. This matches identical
        symbols only: it does not map human to mouse orthologues.

        For TF collections the TF must be among the data's genes (it is what
        ``gp_to_tf`` masking predicts), it is removed from its own target set, and
        with ``tf_list`` it must also be a known TF.

        Parameters
        ----------
        adata
            The data (its ``var_names`` or ``var[gene_symbols]``) or a list of gene names.
        gene_symbols
            Column of ``adata.var`` with the symbols, if ``var_names`` are not symbols.
        min_genes
            Keep programmes with at least this many genes in the data (targets, for TF
            programmes).
        max_genes
            Drop programmes with more genes than this in the data.
        min_overlap
            Minimum fraction of a programme's genes found in the data.
        tf_list
            TF symbols (a list, or a one-symbol-per-line file such as
            ``tf/lambert2018.txt``); TF programmes whose TF is not in it are dropped.
        case_sensitive
            Match symbols exactly.

        Returns
        -------
        A new, aligned :class:`GeneProgrammes` with :attr:`membership` and :attr:`report`.

        Raises
        ------
        ValueError
            If no programme passes the filters; the message counts the reasons.

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"a": ["Cd3e", "Cd8a", "Xyz"], "b": ["Cd19"]})
        >>> aligned = gp.align(["CD3E", "CD8A", "CD19", "ACTB"], min_genes=2)
        >>> aligned.names, aligned.membership.toarray().astype(int).tolist()
        (['a'], [[1, 1, 0, 0]])
        >>> aligned.report[["n_genes", "n_in_data", "kept", "reason"]].to_dict("list")["reason"]
        ['', 'fewer than 2 genes in the data (1)']
        """
        var_names = _gene_names(adata, gene_symbols)
        if min_genes < 1:
            raise ValueError(f"min_genes must be at least 1, got {min_genes}")
        if max_genes is not None and max_genes < min_genes:
            raise ValueError(f"max_genes ({max_genes}) is smaller than min_genes ({min_genes})")
        if not 0.0 <= min_overlap <= 1.0:
            raise ValueError(f"min_overlap must lie in [0, 1], got {min_overlap}")
        key = (lambda s: s) if case_sensitive else str.upper
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
        known_tfs = None
        if tf_list is not None:
            if isinstance(tf_list, str | Path):
                tf_list = read_tf_list(tf_list)
            known_tfs = {key(t) for t in tf_list}

        rows, kept_genes, kept_tfs, columns = [], {}, {}, []
        for name, members in self.genes.items():
            idx = _unique_ints(position.get(key(g)) for g in members)
            row = {"programme": name, "n_genes": len(members), "tf": None}
            reason = ""
            if self.tfs is not None:
                tf = self._resolve_tf(name, position, key)
                row["tf"] = tf
                tf_pos = position.get(key(tf))
                if known_tfs is not None and key(tf) not in known_tfs:
                    reason = f"{tf} is not in the TF list"
                elif tf_pos is None:
                    reason = f"TF {tf} not in the data"
                else:
                    idx = [i for i in idx if i != tf_pos]
                    row["tf"] = var_names[tf_pos]
            n_in = len(idx)
            overlap = n_in / max(len(members), 1)
            row.update({"n_in_data": n_in, "overlap": overlap})
            if not reason:
                if n_in < min_genes:
                    reason = f"fewer than {min_genes} genes in the data ({n_in})"
                elif max_genes is not None and n_in > max_genes:
                    reason = f"more than {max_genes} genes in the data ({n_in})"
                elif overlap < min_overlap:
                    reason = f"overlap {overlap:.2f} below min_overlap {min_overlap}"
            row.update({"kept": not reason, "reason": reason})
            rows.append(row)
            if not reason:
                kept_genes[name] = [var_names[i] for i in sorted(idx)]
                columns.append(sorted(idx))
                if self.tfs is not None:
                    kept_tfs[name] = row["tf"]
        report = pd.DataFrame(rows).set_index("programme")
        if not kept_genes:
            counts = _generic_reasons(report["reason"]).value_counts().to_dict()
            raise ValueError(
                f"no programme of {self.source} passes the filters for these {len(var_names)} "
                f"genes; reasons: {counts}. Check that the gene "
                f"names are symbols of the same species (set gene_symbols= if var_names are "
                f"IDs) or relax min_genes/max_genes/min_overlap."
            )
        out = GeneProgrammes(kept_genes, tfs=kept_tfs if self.tfs is not None else None)
        out.source = self.source
        out.var_names = pd.Index(var_names)
        indptr = np.cumsum([0] + [len(c) for c in columns])
        indices = np.concatenate([np.asarray(c, dtype=np.int64) for c in columns])
        out.membership = sparse.csr_matrix(
            (np.ones(indices.size, dtype=bool), indices, indptr),
            shape=(len(columns), len(var_names)),
        )
        out.report = report
        return out

    def _resolve_tf(self, name: str, position: Mapping[str, int], key) -> str:
        candidates = self._tf_candidates.get(name)
        if not candidates:
            return self.tfs[name]
        for candidate in candidates:
            if key(candidate) in position:
                return candidate
        return candidates[-1]

    # -- aligned views ----------------------------------------------------------------------
    def _require_aligned(self) -> None:
        if not self.is_aligned:
            raise ValueError("these programmes are not aligned; call .align(adata) first")

    def membership_dense(self) -> np.ndarray:
        """Boolean programme x gene matrix (aligned collections only).

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"a": ["G1"]}).align(["G0", "G1"], min_genes=1)
        >>> gp.membership_dense().tolist()
        [[False, True]]
        """
        self._require_aligned()
        return self.membership.toarray().astype(bool)

    def tf_indices(self) -> np.ndarray:
        """Position of each programme's TF among :attr:`var_names` (aligned TF collections).

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"p": ["G1", "G2"]}, tfs={"p": "G0"})
        >>> gp.align(["G0", "G1", "G2"], min_genes=1).tf_indices().tolist()
        [0]
        """
        self._require_aligned()
        if self.tfs is None:
            raise ValueError(
                "these programmes have no TFs; read TF-target sets with read_regulons(...) "
                "or GeneProgrammes.from_gmt(..., tf_from_name=True)"
            )
        return self.var_names.get_indexer([self.tfs[name] for name in self.names])

    def coverage(self) -> dict[str, object]:
        """Summary of an alignment: programmes kept and dropped (by reason), genes covered.

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"a": ["G1", "G2"], "b": ["Q"]})
        >>> gp.align(["G1", "G2", "G3"], min_genes=2).coverage()["genes_covered"]
        2
        """
        self._require_aligned()
        dropped = self.report.loc[~self.report["kept"], "reason"]
        generic = _generic_reasons(dropped)
        kept_sizes = self.report.loc[self.report["kept"], "n_in_data"]
        covered = np.asarray(self.membership.sum(axis=0)).ravel() > 0
        if self.tfs is not None:
            covered[self.tf_indices()] = True
        return {
            "source": self.source,
            "programmes_in": int(self.report.shape[0]),
            "programmes_kept": len(self),
            "programmes_dropped": int(dropped.shape[0]),
            "dropped_by_reason": generic.value_counts().to_dict(),
            "genes_in_data": len(self.var_names),
            "genes_covered": int(covered.sum()),
            "fraction_genes_covered": float(covered.mean()),
            "median_programme_size": float(np.median(kept_sizes)),
        }

    def check_tfs(self, tf_list: Iterable[str] | str | Path) -> pd.DataFrame:
        """Check each programme's TF against a list of TF symbols (case-insensitive).

        Returns one row per programme with ``tf`` and ``in_tf_list``.

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"p": ["A"], "q": ["B"]},
        ...                                          tfs={"p": "ATF2", "q": "CMYB"})
        >>> gp.check_tfs(["ATF2", "MYB"])["in_tf_list"].tolist()
        [True, False]
        """
        if self.tfs is None:
            raise ValueError("these programmes have no TFs to check")
        if isinstance(tf_list, str | Path):
            tf_list = read_tf_list(tf_list)
        known = {t.upper() for t in tf_list}
        table = pd.DataFrame({"tf": pd.Series(self.tfs)})
        table["in_tf_list"] = table["tf"].str.upper().isin(known)
        table.index.name = "programme"
        return table


def _generic_reasons(reasons: pd.Series) -> pd.Series:
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


def as_programmes(
    programmes: GeneProgrammes | Mapping[str, Iterable[str]],
    tfs: Mapping[str, str] | None = None,
) -> GeneProgrammes:
    """Coerce a dict (or a :class:`GeneProgrammes`) to :class:`GeneProgrammes`.

    Examples
    --------
    >>> as_programmes({"a": ["X"]}).names
    ['a']
    """
    if isinstance(programmes, GeneProgrammes):
        if tfs is not None:
            raise ValueError("give TFs either inside the GeneProgrammes or as tfs=, not both")
        return programmes
    return GeneProgrammes.from_dict(programmes, tfs=tfs)

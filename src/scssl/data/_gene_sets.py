"""Gene-set readers: GMT files, TF lists and TF->target tables (DoRothEA, CollecTRI)."""

from __future__ import annotations

import gzip
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ._gene_programmes import GeneProgrammes

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
    try:
        with _open_text(path) as handle:
            text = handle.read()
    except (UnicodeDecodeError, gzip.BadGzipFile, OSError) as error:
        hint = "gzip-compressed? name it .gmt.gz" if path.suffix != ".gz" else "not gzip"
        raise ValueError(f"{path.name} is not a UTF-8 text GMT file ({hint}): {error}") from error
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
    from ._gene_programmes import GeneProgrammes

    return GeneProgrammes(sets, tfs={name: name for name in sets}, source=label)


def tf_check_table(tfs: dict[str, str], tf_list: Iterable[str] | str | Path) -> pd.DataFrame:
    """Each programme's TF and whether it is in ``tf_list`` (case-insensitive)."""
    if isinstance(tf_list, str | Path):
        tf_list = read_tf_list(tf_list)
    known = {t.upper() for t in tf_list}
    table = pd.DataFrame({"tf": pd.Series(tfs)})
    table["in_tf_list"] = table["tf"].str.upper().isin(known)
    table.index.name = "programme"
    return table


def programme_genes(programmes: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """``{name: genes}`` checked (a mapping of gene lists) and de-duplicated."""
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
    return genes


def programme_tfs(tfs: Mapping[str, str], genes: Mapping[str, list[str]]) -> dict[str, str]:
    """``{name: TF}`` checked to name exactly the programmes of ``genes``."""
    unknown = set(tfs) - set(genes)
    if unknown:
        raise KeyError(f"tfs names programmes that do not exist: {sorted(unknown)[:5]}")
    missing = [name for name in genes if name not in tfs]
    if missing:
        raise KeyError(f"tfs gives no TF for programmes {missing[:5]}")
    return {name: str(tfs[name]) for name in genes}

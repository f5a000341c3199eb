"""The plain part of :class:`~scssl.data.GeneProgrammes`: named gene sets, their TFs, joins.

Alignment to a dataset and the aligned views live in the subclass
(``data/_gene_programmes.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Self

import pandas as pd
from scipy import sparse

from ._gene_sets import programme_genes, programme_tfs, read_gmt, tf_candidates


class ProgrammeCollection:
    """Named gene sets with optional TFs (see :class:`~scssl.data.GeneProgrammes`)."""

    def __init__(
        self,
        programmes: Mapping[str, Iterable[str]],
        tfs: Mapping[str, str] | None = None,
        source: str = "dict",
    ):
        if isinstance(programmes, ProgrammeCollection):
            raise TypeError("already a GeneProgrammes; use it directly")
        self.genes: dict[str, list[str]] = programme_genes(programmes)
        self.tfs: dict[str, str] | None = None if tfs is None else programme_tfs(tfs, self.genes)
        self._tf_candidates: dict[str, list[str]] = {}
        self.source = source
        self.var_names: pd.Index | None = None
        self.membership: sparse.csr_matrix | None = None
        self.report: pd.DataFrame | None = None

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls, programmes: Mapping[str, Iterable[str]], tfs: Mapping[str, str] | None = None
    ) -> Self:
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
    def from_gmt(cls, path: str | Path, *, tf_from_name: bool = False) -> Self:
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
        candidates = {name: tf_candidates(name) for name in sets} if tf_from_name else {}
        tfs = {name: options[-1] for name, options in candidates.items()} if tf_from_name else None
        gp = cls(sets, tfs=tfs, source=Path(path).name)
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
        where = "" if self.var_names is None else f", aligned to {len(self.var_names)} genes"
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

    def concat(self, *others: Self) -> Self:
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
        out = type(self)(genes, tfs=tfs, source=sources)
        out._tf_candidates = candidates if tfs is not None else {}
        return out

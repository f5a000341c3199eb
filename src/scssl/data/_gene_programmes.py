"""Gene programmes and regulons: one container aligned to ``adata.var_names``.

Gene sets come from GMT files (MSigDB, Reactome exports), TF->target tables
(DoRothEA, CollecTRI) or a plain dict. :class:`GeneProgrammes` holds them and,
after :meth:`GeneProgrammes.align`, also a programme x gene membership matrix in
the order of the data's genes, with a report of what was kept and dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from ._gene_sets import read_tf_list, tf_check_table
from ._programme_alignment import (
    ProgrammeFilters,
    _gene_names,
    align_programme,
    coverage_summary,
    gene_positions,
    generic_reasons,
    membership_matrix,
    resolve_tf,
)
from ._programme_collection import ProgrammeCollection


class GeneProgrammes(ProgrammeCollection):
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
        filters = ProgrammeFilters(min_genes, max_genes, min_overlap)
        key = (lambda s: s) if case_sensitive else str.upper
        position = gene_positions(var_names, key)
        known_tfs = None
        if tf_list is not None:
            if isinstance(tf_list, str | Path):
                tf_list = read_tf_list(tf_list)
            known_tfs = {key(t) for t in tf_list}

        rows, kept_genes, kept_tfs, columns = [], {}, {}, []
        for name, members in self.genes.items():
            tf = None
            if self.tfs is not None:
                tf = resolve_tf(self._tf_candidates.get(name), self.tfs[name], position, key)
            row, idx = align_programme(name, members, tf, position, key, known_tfs, filters)
            if tf is not None and row["tf"] is not None and not row["reason"]:
                row["tf"] = var_names[position[key(tf)]]
            rows.append(row)
            if not row["reason"]:
                kept_genes[name] = [var_names[i] for i in idx]
                columns.append(idx)
                if self.tfs is not None:
                    kept_tfs[name] = row["tf"]
        report = pd.DataFrame(rows).set_index("programme")
        if not kept_genes:
            counts = generic_reasons(report["reason"]).value_counts().to_dict()
            raise ValueError(
                f"no programme of {self.source} passes the filters for these {len(var_names)} "
                f"genes; reasons: {counts}. Check that the gene "
                f"names are symbols of the same species (set gene_symbols= if var_names are "
                f"IDs) or relax min_genes/max_genes/min_overlap."
            )
        out = GeneProgrammes(kept_genes, tfs=kept_tfs if self.tfs is not None else None)
        out.source = self.source
        out.var_names = pd.Index(var_names)
        out.membership = membership_matrix(columns, len(var_names))
        out.report = report
        return out

    # -- aligned views ----------------------------------------------------------------------
    def _aligned(self) -> tuple[pd.Index, sparse.csr_matrix, pd.DataFrame]:
        """``var_names``, ``membership`` and ``report`` of an aligned collection."""
        if self.var_names is None or self.membership is None or self.report is None:
            raise ValueError("these programmes are not aligned; call .align(adata) first")
        return self.var_names, self.membership, self.report

    def is_aligned_to(self, var_names: Sequence[str] | pd.Index) -> bool:
        """Whether the collection is aligned to exactly these genes, in this order.

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"a": ["G1"]}).align(["G0", "G1"], min_genes=1)
        >>> gp.is_aligned_to(["G0", "G1"]), gp.is_aligned_to(["G1", "G0"])
        (True, False)
        """
        return self.var_names is not None and self.var_names.equals(pd.Index(var_names))

    def membership_dense(self) -> np.ndarray:
        """Boolean programme x gene matrix (aligned collections only).

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"a": ["G1"]}).align(["G0", "G1"], min_genes=1)
        >>> gp.membership_dense().tolist()
        [[False, True]]
        """
        return self._aligned()[1].toarray().astype(bool)

    def tf_indices(self) -> np.ndarray:
        """Position of each programme's TF among :attr:`var_names` (aligned TF collections).

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"p": ["G1", "G2"]}, tfs={"p": "G0"})
        >>> gp.align(["G0", "G1", "G2"], min_genes=1).tf_indices().tolist()
        [0]
        """
        var_names = self._aligned()[0]
        if self.tfs is None:
            raise ValueError(
                "these programmes have no TFs; read TF-target sets with read_regulons(...) "
                "or GeneProgrammes.from_gmt(..., tf_from_name=True)"
            )
        return var_names.get_indexer([self.tfs[name] for name in self.names])

    def coverage(self) -> dict[str, object]:
        """Summary of an alignment: programmes kept and dropped (by reason), genes covered.

        Examples
        --------
        >>> import scssl
        >>> gp = scssl.data.GeneProgrammes.from_dict({"a": ["G1", "G2"], "b": ["Q"]})
        >>> gp.align(["G1", "G2", "G3"], min_genes=2).coverage()["genes_covered"]
        2
        """
        self._aligned()
        return coverage_summary(self)

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
        return tf_check_table(self.tfs, tf_list)


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

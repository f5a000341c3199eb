"""The gene list of an on-disk collection: reading it, and how each file maps onto it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GeneAlignment:
    """How one file's genes map onto the collection's gene list.

    Attributes
    ----------
    path
        The file.
    n_file_genes
        Genes in the file.
    n_shared
        Genes of the collection's list that the file has.
    missing
        Genes of the list the file lacks (their counts are zero in its cells).
    n_dropped
        Genes of the file that are not in the list (not read into minibatches).
    """

    path: str
    n_file_genes: int
    n_shared: int
    missing: tuple[str, ...]
    n_dropped: int


def read_gene_list(path: str | Path) -> list[str]:
    r"""Gene names from a text file, one per line (blank lines and ``#`` comments skipped).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "genes.txt"
    >>> _ = p.write_text("CD3E\n# comment\nMS4A1\n")
    >>> read_gene_list(p)
    ['CD3E', 'MS4A1']
    """
    lines = Path(path).read_text().splitlines()
    genes = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not genes:
        raise ValueError(f"{path} lists no genes (one gene name per line expected)")
    return genes

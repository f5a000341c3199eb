"""How a query's genes cover a reference's: counts, share, missing genes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from scssl.data._gene_map import name_head


@dataclass(frozen=True)
class GeneOverlap:
    """How the query's genes cover the reference's.

    Attributes
    ----------
    n_reference
        Genes of the reference model.
    n_shared
        Reference genes found in the query.
    fraction
        ``n_shared / n_reference``.
    missing
        Reference genes absent from the query (filled with zeros).
    n_extra
        Query genes unknown to the reference (dropped).
    """

    n_reference: int
    n_shared: int
    fraction: float
    missing: tuple[str, ...]
    n_extra: int

    @classmethod
    def compute(cls, query_var_names: pd.Index, reference_var_names: pd.Index) -> GeneOverlap:
        """Compare two gene lists.

        Examples
        --------
        >>> import pandas as pd
        >>> GeneOverlap.compute(pd.Index(["a", "c"]), pd.Index(["a", "b"])).fraction
        0.5
        """
        shared = reference_var_names.isin(query_var_names)
        return cls(
            n_reference=len(reference_var_names),
            n_shared=int(shared.sum()),
            fraction=float(shared.mean()) if len(reference_var_names) else 0.0,
            missing=tuple(map(str, reference_var_names[~shared])),
            n_extra=int((~query_var_names.isin(reference_var_names)).sum()),
        )

    def describe(self) -> str:
        """One line for logs and error messages."""
        text = (
            f"{self.n_shared} of {self.n_reference} reference genes "
            f"({self.fraction:.1%}) are in the query"
        )
        if self.missing:
            text += (
                f"; {len(self.missing)} missing (filled with zeros): {name_head(self.missing, 10)}"
            )
        if self.n_extra:
            text += f"; {self.n_extra} query genes unknown to the reference are dropped"
        return text

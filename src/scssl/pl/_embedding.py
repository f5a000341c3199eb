"""UMAP of an embedding stored in ``.obsm``."""

from __future__ import annotations

from pathlib import Path

from anndata import AnnData

from ._figure import pyplot, save_figure


def umap(
    adata: AnnData,
    *,
    use_rep: str,
    color: str | list[str],
    save: str | Path | None = None,
    n_neighbors: int = 15,
    seed: int = 0,
    title: str | None = None,
):
    """Compute neighbours and UMAP on ``use_rep`` and plot them coloured by ``color``.

    Works on a light copy: ``adata`` itself is not modified. Returns the matplotlib
    figure; with ``save`` it is also written (PNG, 150 dpi).

    Examples
    --------
    >>> import scssl
    >>> fig = scssl.pl.umap(adata, use_rep="X_scssl_mae", color="bulk_labels")  # doctest: +SKIP
    """
    plt = pyplot()
    import scanpy as sc

    if use_rep not in adata.obsm:
        raise KeyError(f"{use_rep!r} not in adata.obsm; run the scssl.tl function first")
    colors = [color] if isinstance(color, str) else list(color)
    work = AnnData(obs=adata.obs[colors].copy(), obsm={use_rep: adata.obsm[use_rep]})
    sc.pp.neighbors(work, use_rep=use_rep, n_neighbors=n_neighbors, random_state=seed)
    sc.tl.umap(work, random_state=seed)
    fig, axes = plt.subplots(1, len(colors), figsize=(5.5 * len(colors), 4.5), squeeze=False)
    for ax, key in zip(axes[0], colors):
        sc.pl.umap(work, color=key, ax=ax, show=False, title=title or f"{use_rep}: {key}")
    fig.tight_layout()
    save_figure(fig, save)
    return fig

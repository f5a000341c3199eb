"""Gene attributions of a :class:`~scssl.model.DrugResponseTransfer` (integrated gradients)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from scssl._options import AttributionBaseline, ResponseClass, check_option
from scssl.data import get_matrix


def _integrated_gradients_cls():
    try:
        from captum.attr import IntegratedGradients
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "gene attributions need captum: pip install 'scssl[interpret]' (or pip install captum)"
        ) from err
    return IntegratedGradients


def drug_response_attributions(
    adata: AnnData,
    model,
    *,
    target: ResponseClass = "resistant",
    cells: Sequence[int] | np.ndarray | None = None,
    baseline: AttributionBaseline = "zeros",
    n_steps: int = 50,
    batch_size: int = 256,
    layer: str | None = None,
    key_added: str = "drug_response_ig",
) -> pd.DataFrame:
    """Integrated-gradient attributions of predicted resistance (or sensitivity) to genes.

    The attributed output is the predictor's logit (``-logit`` for ``"resistant"``), so a
    positive attribution means the gene's value pushes the cell towards ``target``. The
    default baseline is an all-zero profile, which for z-scored inputs is the average
    gene level of the cell itself; ``"bulk_mean"`` uses the mean labelled bulk profile.

    Per-cell attributions go to ``adata.layers[key_added]`` (``NaN`` for rows not
    attributed); per-gene summaries over the attributed cells to
    ``adata.var[f"{key_added}_mean"]`` (signed mean) and ``adata.var[f"{key_added}_mean_abs"]``;
    parameters to ``adata.uns[key_added]``.

    Parameters
    ----------
    adata
        The AnnData the model was trained on (or one set up the same way).
    model
        A trained :class:`~scssl.model.DrugResponseTransfer`.
    target
        Attribute the score of ``"resistant"`` (default) or ``"sensitive"``.
    cells
        Integer row indices to attribute; ``None`` attributes every single cell.
    baseline
        ``"zeros"`` or ``"bulk_mean"``.
    n_steps
        Integration steps of integrated gradients.
    batch_size
        Cells per captum call.
    layer
        Layer holding the model inputs; ``None`` uses ``X``.
    key_added
        Key for the layer, ``.var`` columns and ``.uns`` entry.

    Returns
    -------
    Per-gene summary, sorted by mean attribution (genes driving ``target`` first), with
    columns ``mean``, ``mean_abs`` and ``convergence_delta`` (mean absolute IG
    completeness error over cells, a check on ``n_steps``).

    Raises
    ------
    ImportError
        When captum is not installed (``pip install 'scssl[interpret]'``).

    Examples
    --------
    >>> import scssl
    >>> cells = np.flatnonzero(model.single_cell_mask)[:100]  # a few cells, to be quick
    >>> top = scssl.tl.drug_response_attributions(adata, model, cells=cells)
    >>> genes = top.index[:10]  # the genes pushing cells most towards predicted resistance
    """
    integrated_gradients = _integrated_gradients_cls()
    check_option("target", target, ResponseClass)
    check_option("baseline", baseline, AttributionBaseline)
    if not getattr(model, "is_trained_", False):
        raise ValueError("the model is not trained; call model.train() first")
    if adata.n_vars != model.module.n_input:
        raise ValueError(
            f"adata has {adata.n_vars} genes but the model was trained on "
            f"{model.module.n_input}; pass the AnnData the model was trained on."
        )
    if "_scssl_domain" not in adata.obs:
        raise KeyError("adata is not set up; run DrugResponseTransfer.setup_anndata first")
    is_sc = adata.obs["_scssl_domain"].to_numpy() > 0.5
    rows = np.flatnonzero(is_sc) if cells is None else np.asarray(cells, dtype=int)
    if rows.size == 0:
        raise ValueError("no cells to attribute")

    matrix = get_matrix(adata, layer)
    module = model.module
    device = module.device
    sign = -1.0 if target == "resistant" else 1.0

    def forward(x: torch.Tensor) -> torch.Tensor:
        return sign * module.forward_logit(x)

    if baseline == "bulk_mean":
        labelled = (~is_sc) & adata.obs["_scssl_response"].notna().to_numpy()
        base_row = np.asarray(matrix[np.flatnonzero(labelled)].mean(axis=0)).reshape(1, -1)
    else:
        base_row = np.zeros((1, adata.n_vars))
    base = torch.as_tensor(base_row, dtype=torch.float32, device=device)

    was_training = module.training
    module.eval()
    ig = integrated_gradients(forward)
    out = np.full((adata.n_obs, adata.n_vars), np.nan, dtype=np.float32)
    deltas = []
    try:
        for start in range(0, rows.size, batch_size):
            idx = rows[start : start + batch_size]
            chunk = matrix[idx]
            chunk = chunk.toarray() if hasattr(chunk, "toarray") else np.asarray(chunk)
            x = torch.as_tensor(chunk, dtype=torch.float32, device=device)
            attr, delta = ig.attribute(
                x,
                baselines=base.expand_as(x),
                n_steps=n_steps,
                return_convergence_delta=True,
            )
            out[idx] = attr.detach().cpu().numpy()
            deltas.append(delta.detach().abs().cpu().numpy())
    finally:
        module.train(was_training)

    attributed = out[rows]
    summary = pd.DataFrame(
        {"mean": attributed.mean(0), "mean_abs": np.abs(attributed).mean(0)},
        index=adata.var_names,
    )
    summary["convergence_delta"] = float(np.concatenate(deltas).mean())
    adata.layers[key_added] = out
    adata.var[f"{key_added}_mean"] = summary["mean"].to_numpy()
    adata.var[f"{key_added}_mean_abs"] = summary["mean_abs"].to_numpy()
    adata.uns[key_added] = {
        "params": {
            "target": target,
            "baseline": baseline,
            "n_steps": n_steps,
            "n_cells": int(rows.size),
        }
    }
    return summary.sort_values("mean", ascending=False)

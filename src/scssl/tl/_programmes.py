"""Per-programme and per-TF evaluation of a trained masked autoencoder, as tidy tables."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from scssl._options import ProgrammeEvaluation, TFContext, check_option
from scssl.data import GeneProgrammes, as_programmes

logger = logging.getLogger("scssl")


def _aligned_to_model(model, programmes, need_tfs: bool) -> GeneProgrammes:
    if programmes is None:
        programmes = getattr(model, "programmes_", None)
        if programmes is None:
            raise ValueError(
                "the model was trained with random masking and has no programmes; pass "
                "programmes= (a GeneProgrammes or a dict name -> genes)"
            )
    gp = as_programmes(programmes)
    var_names = pd.Index(model.adata.var_names.astype(str))
    if not gp.is_aligned_to(var_names):
        gp = gp.align(list(var_names), min_genes=1)
    if need_tfs and gp.tfs is None:
        raise ValueError(
            "per-TF evaluation needs TF programmes (scssl.data.read_regulons or "
            "GeneProgrammes.from_gmt(path, tf_from_name=True))"
        )
    return gp


def _held_out(model, indices: Sequence[int] | None, adata: AnnData | None) -> np.ndarray | None:
    if indices is not None or adata is not None:
        return None if indices is None else np.asarray(indices)
    held = getattr(model, "validation_indices", None)
    if held is None or len(held) == 0:
        logger.warning(
            "the model has no validation cells (train_size=1?); evaluating on all cells, "
            "which were seen in training"
        )
        return None
    return np.asarray(held)


def _evaluation_setup(model, programmes, indices, adata, need_tfs: bool):
    """Programmes aligned to the model, the cells to score, membership on the model's device."""
    model._check_if_trained(warn=True)
    gp = _aligned_to_model(model, programmes, need_tfs=need_tfs)
    membership = torch.as_tensor(gp.membership_dense(), device=model.module.device)
    return gp, _held_out(model, indices, adata), membership


def _predict_with_mask(module, tensors: dict, hidden: torch.Tensor) -> tuple[torch.Tensor, ...]:
    inputs = module._get_inference_input(tensors)
    inference_outputs = module.inference(**inputs, hidden=hidden)
    generative_inputs = module._get_generative_input(tensors, inference_outputs)
    predicted = module.predict_log_expression(module.generative(**generative_inputs))
    return inference_outputs["x_norm"], predicted


@torch.inference_mode()
def programme_reconstruction(
    model,
    programmes: GeneProgrammes | dict[str, list[str]] | None = None,
    *,
    adata: AnnData | None = None,
    indices: Sequence[int] | None = None,
    mode: ProgrammeEvaluation = "masked",
    batch_size: int | None = 256,
) -> pd.DataFrame:
    """How well each programme's genes are predicted when they are hidden, per programme.

    For every programme and every evaluated cell, the programme is masked
    (``mode="masked"``: its genes hidden, the rest of the cell visible; scored on
    its genes) or isolated (``mode="isolated"``: only its genes visible; scored on
    all other genes, the ``gp_to_gp`` task). Values are log1p-normalised
    expression. By default the cells are the model's validation cells, which
    training never fitted.

    Parameters
    ----------
    model
        A trained :class:`~scssl.model.MaskedAE`.
    programmes
        Programmes to evaluate; ``None`` uses those the model was trained with.
        Aligned to the model's genes without size filters.
    adata
        Cells to evaluate (set up like the training data); ``None``: training data.
    indices
        Cells of ``adata`` to evaluate; ``None``: the model's validation cells when
        ``adata`` is ``None``, otherwise all cells.
    mode
        ``"masked"`` or ``"isolated"`` (see above).
    batch_size
        Cells per forward pass.

    Returns
    -------
    One row per programme, sorted by ``explained_variance`` (best first):
    ``n_genes`` (programme genes in the data), ``n_scored_genes``, ``n_cells``,
    ``explained_variance`` (1 - SSE / SST, SST around each gene's mean over the
    evaluated cells: 0 means no better than the per-gene mean), ``gene_r``
    (Pearson correlation between predicted and observed values across cells,
    averaged over the scored genes that vary), ``pooled_r`` (correlation over all
    scored entries, which also rewards getting gene means right) and ``mse``.

    Examples
    --------
    >>> import scssl
    >>> table = scssl.tl.programme_reconstruction(model)
    >>> list(table.columns[:4])
    ['n_genes', 'n_scored_genes', 'n_cells', 'explained_variance']
    >>> fig = scssl.pl.programme_ranking(table)
    """
    check_option("mode", mode, ProgrammeEvaluation)
    gp, cells, membership = _evaluation_setup(model, programmes, indices, adata, need_tfs=False)
    module = model.module
    scored = membership if mode == "masked" else ~membership
    n_prog, n_genes = membership.shape
    # per programme x gene sufficient statistics over cells
    stats = {
        k: torch.zeros(n_prog, n_genes, dtype=torch.float64) for k in ("o", "oo", "p", "pp", "op")
    }
    n_cells = 0
    was_training = module.training
    module.eval()
    try:
        for tensors in model._iterate_minibatches(adata, cells, batch_size):
            n = tensors[next(iter(tensors))].shape[0]
            n_cells += n
            for i in range(n_prog):
                hidden = membership[i] if mode == "masked" else ~membership[i]
                hidden = hidden.expand(n, n_genes)
                observed, predicted = _predict_with_mask(module, tensors, hidden)
                observed = observed.double().cpu()
                predicted = predicted.double().cpu()
                stats["o"][i] += observed.sum(0)
                stats["oo"][i] += (observed**2).sum(0)
                stats["p"][i] += predicted.sum(0)
                stats["pp"][i] += (predicted**2).sum(0)
                stats["op"][i] += (observed * predicted).sum(0)
    finally:
        module.train(was_training)
    scored = scored.cpu()
    rows = []
    for i, name in enumerate(gp.names):
        s = {k: v[i][scored[i]] for k, v in stats.items()}
        sse = (s["oo"] - 2 * s["op"] + s["pp"]).sum().item()
        sst_gene = s["oo"] - s["o"] ** 2 / n_cells
        spp_gene = s["pp"] - s["p"] ** 2 / n_cells
        cov_gene = s["op"] - s["o"] * s["p"] / n_cells
        varying = (sst_gene > 1e-12) & (spp_gene > 1e-12)
        gene_r = (cov_gene[varying] / torch.sqrt(sst_gene[varying] * spp_gene[varying])).mean()
        n_entries = n_cells * int(scored[i].sum())
        o_sum, p_sum = s["o"].sum(), s["p"].sum()
        pooled_cov = s["op"].sum() - o_sum * p_sum / n_entries
        pooled_o = s["oo"].sum() - o_sum**2 / n_entries
        pooled_p = s["pp"].sum() - p_sum**2 / n_entries
        pooled_r = pooled_cov / torch.sqrt(pooled_o * pooled_p) if pooled_o * pooled_p > 0 else None
        sst = sst_gene.sum().item()
        rows.append(
            {
                "programme": name,
                "n_genes": int(membership[i].sum()),
                "n_scored_genes": int(scored[i].sum()),
                "n_cells": n_cells,
                "explained_variance": 1.0 - sse / sst if sst > 0 else np.nan,
                "gene_r": float(gene_r) if varying.any() else np.nan,
                "pooled_r": float(pooled_r) if pooled_r is not None else np.nan,
                "mse": sse / n_entries,
            }
        )
    table = pd.DataFrame(rows).set_index("programme")
    table.attrs["mode"] = mode
    return table.sort_values("explained_variance", ascending=False)


@torch.inference_mode()
def tf_prediction(
    model,
    programmes: GeneProgrammes | None = None,
    *,
    adata: AnnData | None = None,
    indices: Sequence[int] | None = None,
    context: TFContext = "targets",
    batch_size: int | None = 256,
) -> pd.DataFrame:
    """How well each TF's expression is predicted from its targets, per TF programme.

    For every TF programme and evaluated cell the TF is hidden and predicted from
    its targets only (``context="targets"``, the ``gp_to_tf`` task) or from every
    other gene (``context="all"``). By default the cells are the model's
    validation cells.

    Parameters
    ----------
    model
        A trained :class:`~scssl.model.MaskedAE`.
    programmes
        TF programmes (``read_regulons`` or ``from_gmt(..., tf_from_name=True)``);
        ``None`` uses those the model was trained with (``masking="gp_to_tf"``).
    adata, indices
        Cells to evaluate, as in :func:`programme_reconstruction`.
    context
        ``"targets"`` or ``"all"`` (see above).
    batch_size
        Cells per forward pass.

    Returns
    -------
    One row per programme, sorted by ``pearson_r`` (best first): ``tf``,
    ``n_targets``, ``n_cells``, ``frac_expressed`` (cells with the TF detected),
    ``mean_observed``, ``pearson_r`` and ``spearman_r`` between predicted and
    observed log-normalised TF expression across cells, ``explained_variance`` and
    ``mse``. Correlations are NaN where the TF or its prediction does not vary.

    Examples
    --------
    >>> import scssl
    >>> table = scssl.tl.tf_prediction(model)
    >>> best = table[["tf", "pearson_r"]].head()
    """
    check_option("context", context, TFContext)
    gp, cells, membership = _evaluation_setup(model, programmes, indices, adata, need_tfs=True)
    module = model.module
    device = module.device
    tf_index = torch.as_tensor(gp.tf_indices(), device=device)
    tfs = gp.tfs or {}  # need_tfs=True: every programme has its TF
    n_prog, n_genes = membership.shape
    observed_all, predicted_all = [], []
    was_training = module.training
    module.eval()
    try:
        for tensors in model._iterate_minibatches(adata, cells, batch_size):
            n = tensors[next(iter(tensors))].shape[0]
            obs = torch.zeros(n, n_prog)
            pred = torch.zeros(n, n_prog)
            for i in range(n_prog):
                if context == "targets":
                    hidden = ~membership[i]
                else:
                    hidden = torch.zeros(n_genes, dtype=torch.bool, device=device)
                    hidden[tf_index[i]] = True
                observed, predicted = _predict_with_mask(module, tensors, hidden.expand(n, -1))
                obs[:, i] = observed[:, tf_index[i]].cpu()
                pred[:, i] = predicted[:, tf_index[i]].cpu()
            observed_all.append(obs)
            predicted_all.append(pred)
    finally:
        module.train(was_training)
    observed_values = torch.cat(observed_all).double().numpy()
    predicted_values = torch.cat(predicted_all).double().numpy()
    rows = []
    for i, name in enumerate(gp.names):
        o, p = observed_values[:, i], predicted_values[:, i]
        varies = o.std() > 1e-12 and p.std() > 1e-12
        sst = ((o - o.mean()) ** 2).sum()
        sse = ((o - p) ** 2).sum()
        rows.append(
            {
                "programme": name,
                "tf": tfs[name],
                "n_targets": int(membership[i].sum()),
                "n_cells": o.size,
                "frac_expressed": float((o > 0).mean()),
                "mean_observed": float(o.mean()),
                "pearson_r": float(np.corrcoef(o, p)[0, 1]) if varies else np.nan,
                "spearman_r": float(pd.Series(o).corr(pd.Series(p), method="spearman"))
                if varies
                else np.nan,
                "explained_variance": float(1 - sse / sst) if sst > 0 else np.nan,
                "mse": float(sse / o.size),
            }
        )
    table = pd.DataFrame(rows).set_index("programme")
    table.attrs["context"] = context
    return table.sort_values("pearson_r", ascending=False)

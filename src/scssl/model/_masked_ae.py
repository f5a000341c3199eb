"""MaskedAE: masked autoencoder pretraining on raw counts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from scssl._options import LossOn, MaskingKind, ReconstructionKind, check_option
from scssl.data import GeneProgrammes, as_programmes
from scssl.module import MaskedAEModule
from scssl.nn import MASKING_STRATEGIES, MaskingStrategy, is_sparse_csr
from scssl.nn._programme_masking import check_programme_fraction

from ._base import ScsslModelMixin
from ._mudata import MuDataSetupMixin
from ._query import QueryMappingMixin

logger = logging.getLogger("scssl")


def align_model_programmes(
    adata: AnnData,
    masking: str,
    programmes: GeneProgrammes | dict | None,
    programme_tfs: dict | None,
) -> GeneProgrammes | None:
    """Check the masking options and align the programmes to the model's genes.

    Programmes already aligned to exactly these genes are used as they are;
    otherwise they are aligned with no size filter (``min_genes=1``): filter them
    yourself with :meth:`GeneProgrammes.align` to choose sizes.
    """
    check_option("masking", masking, MaskingKind)
    needs = MASKING_STRATEGIES[masking].needs
    if needs is None:
        if programmes is not None or programme_tfs is not None:
            raise ValueError(
                f"programmes were given but masking={masking!r} does not use them; set "
                "masking='gene_programme', 'gp_to_gp' or 'gp_to_tf'"
            )
        return None
    if programmes is None:
        raise ValueError(
            f"masking={masking!r} needs programmes=: a GeneProgrammes (for example "
            "scssl.data.GeneProgrammes.from_gmt(path)) or a dict name -> genes"
        )
    gp = as_programmes(programmes, programme_tfs)
    if needs == "tf_programmes" and gp.tfs is None:
        raise ValueError(
            "masking='gp_to_tf' needs TF programmes: read them with scssl.data.read_regulons, "
            "GeneProgrammes.from_gmt(path, tf_from_name=True), or pass programme_tfs="
        )
    var_names = adata.var_names.astype(str)
    if not gp.is_aligned_to(var_names):
        gp = gp.align(list(var_names), min_genes=1)
        coverage = gp.coverage()
        if coverage["programmes_dropped"]:
            logger.warning(
                "%d of %d programmes dropped when aligning to the model's genes: %s",
                coverage["programmes_dropped"],
                coverage["programmes_in"],
                coverage["dropped_by_reason"],
            )
    if needs != "tf_programmes" and gp.tfs is not None:
        # the TF plays no role in these strategies; keep the programme genes only
        gp = GeneProgrammes(gp.to_dict(), source=gp.source).align(list(var_names), min_genes=1)
    return gp


def build_masking(
    masking: str, programmes: GeneProgrammes | None, mask_ratio: float, programme_fraction: float
) -> MaskingStrategy:
    """The masking strategy named ``masking`` for aligned ``programmes``."""
    check_programme_fraction(programme_fraction)  # for every strategy: no silent bad value
    return MASKING_STRATEGIES[masking].from_settings(
        programmes, mask_ratio=mask_ratio, programme_fraction=programme_fraction
    )


class MaskedAE(
    QueryMappingMixin, MuDataSetupMixin, ScsslModelMixin, UnsupervisedTrainingMixin, BaseModelClass
):
    """Masked autoencoder for single-cell RNA-seq counts.

    For every cell and step a random subset of genes is hidden; the model learns
    to reconstruct the hidden genes from the rest. The encoder output is a
    deterministic cell embedding for clustering, label transfer and integration.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    n_latent
        Embedding size.
    n_hidden
        Width of the hidden layers.
    n_layers
        Number of hidden layers in encoder and decoder.
    decoder_n_hidden
        Width of the decoder's hidden layers (``None``: ``n_hidden``).
    dropout_rate
        Dropout in the encoder.
    mask_ratio
        Fraction of genes hidden per cell and step (``masking="random"`` or
        ``"random_shared"``).
    masking
        ``"random"`` (default): random genes, drawn per cell; ``"random_shared"``: the
        same random genes in every cell of a minibatch, drawn afresh each step (on
        sparse input the decoder then evaluates only those genes: 1.3x-1.4x faster on
        all genes in ``benchmarks/results/scale_shared_mask_speed.md``, but 0.014 lower
        leave-one-donor-out macro-F1 on Baron, ``scale_shared_mask.md``);
        ``"gene_programme"``: all genes of a random ``programme_fraction`` of the
        programmes, per cell, loss on them;
        ``"gp_to_gp"``: one programme visible per cell, loss on all other genes;
        ``"gp_to_tf"``: one TF's targets visible per cell, loss on the TF.
    programmes
        Gene programmes for the programme strategies: a
        :class:`~scssl.data.GeneProgrammes` (TF programmes for ``gp_to_tf``) or a
        dict name -> genes. They are aligned to the genes of ``adata`` (without size
        filters; use :meth:`~scssl.data.GeneProgrammes.align` to filter) and stored
        as plain lists, so that ``save``/``load`` rebuild the same masks.
    programme_tfs
        ``{programme: TF}`` when ``programmes`` is a dict and ``masking="gp_to_tf"``.
    programme_fraction
        Fraction of programmes masked per cell (``masking="gene_programme"``).
    mask_value
        Value written into hidden entries of the log-normalised input.
    loss_on
        ``"masked"`` (default): reconstruction loss on hidden genes only; ``"all"``.
    reconstruction
        ``"mse"`` on log-normalised values (default) or ``"nb"`` (negative binomial on counts).
    encode_covariates
        Also feed batch and categorical covariates to the encoder.
    **module_kwargs
        Further arguments of :class:`~scssl.module.MaskedAEModule`.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> scssl.model.MaskedAE.setup_anndata(adata, layer="counts")
    >>> model = scssl.model.MaskedAE(adata)
    >>> model.train(max_epochs=5)
    >>> adata.obsm["X_scssl_mae"] = model.get_latent_representation()

    Gene-programme masking with MSigDB Hallmark sets:

    >>> path = scssl.data.data_dir() / "gene_programs/h.all.v7.0.symbols.gmt"
    >>> gp = scssl.data.GeneProgrammes.from_gmt(path).align(adata, min_genes=3)
    >>> model = scssl.model.MaskedAE(adata, masking="gene_programme", programmes=gp)
    """

    _module_cls = MaskedAEModule
    _default_batch_size = 128
    _reads_sparse_minibatches = True

    def __init__(
        self,
        adata: AnnData,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 2,
        decoder_n_hidden: int | None = None,
        dropout_rate: float = 0.1,
        mask_ratio: float = 0.5,
        mask_value: float = 0.0,
        loss_on: LossOn = "masked",
        reconstruction: ReconstructionKind = "mse",
        encode_covariates: bool = False,
        masking: MaskingKind = "random",
        programmes: GeneProgrammes | dict[str, list[str]] | None = None,
        programme_tfs: dict[str, str] | None = None,
        programme_fraction: float = 0.2,
        **module_kwargs,
    ):
        super().__init__(adata)
        if "masking" in module_kwargs:
            raise TypeError("masking is set by name (masking='gene_programme', ...)")
        aligned = align_model_programmes(self.adata, masking, programmes, programme_tfs)
        strategy = build_masking(masking, aligned, mask_ratio, programme_fraction)
        self.programmes_ = aligned
        # plain built-in types in the init parameters: save/load rebuild the same masks
        if aligned is not None:
            programmes = aligned.to_dict()
            programme_tfs = dict(aligned.tfs) if aligned.tfs is not None else None
        self.module = self._module_cls(
            n_input=self.summary_stats.n_vars,
            **self._covariate_sizes(),
            n_latent=n_latent,
            n_hidden=n_hidden,
            n_layers=n_layers,
            decoder_n_hidden=decoder_n_hidden,
            dropout_rate=dropout_rate,
            mask_ratio=mask_ratio,
            mask_value=mask_value,
            loss_on=loss_on,
            reconstruction=reconstruction,
            encode_covariates=encode_covariates,
            masking=strategy,
            **module_kwargs,
        )
        detail = f"mask_ratio={mask_ratio}" if aligned is None else f"{len(aligned)} programmes"
        self._model_summary_string = (
            f"MaskedAE: n_latent={n_latent}, n_hidden={n_hidden}, n_layers={n_layers}, "
            f"masking={masking!r} ({detail}), loss_on={loss_on!r}, "
            f"reconstruction={reconstruction!r}"
        )
        self.init_params_ = self._get_init_params(locals())

    # -- reconstruction / imputation -------------------------------------------------------
    def get_normalized_expression(
        self,
        adata: AnnData | None = None,
        indices: Sequence[int] | None = None,
        library_size: float = 1e4,
        batch_size: int | None = None,
        return_numpy: bool = False,
    ) -> pd.DataFrame | np.ndarray:
        """Denoised expression: the reconstruction of each cell from its full profile.

        Values are on the scale of counts per ``library_size`` (not log).

        Examples
        --------
        >>> denoised = model.get_normalized_expression(return_numpy=True)
        >>> adata.layers["scssl_denoised"] = denoised
        """
        self._check_if_trained(warn=True)
        module = self.module

        def reconstruct(tensors):
            inputs = module._get_inference_input(tensors)
            inference_outputs = module.inference(**inputs, **module._embedding_kwargs)
            generative_inputs = module._get_generative_input(tensors, inference_outputs)
            log_expr = module.predict_log_expression(module.generative(**generative_inputs))
            return torch.expm1(log_expr).clamp_min(0) * (library_size / module.target_sum)

        values = self._map_cells(reconstruct, adata, indices, batch_size)
        if return_numpy:
            return values
        genes = (self.adata if adata is None else adata).var_names
        return pd.DataFrame(values, index=self._obs_names(adata, indices), columns=genes)

    def get_masked_reconstruction(
        self,
        adata: AnnData | None = None,
        indices: Sequence[int] | None = None,
        mask_ratio: float = 0.15,
        seed: int = 0,
        batch_size: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Hide a random share of entries, predict them, and return truth and prediction.

        Use on held-out cells with :func:`scssl.metrics.masked_reconstruction_error`.

        Returns
        -------
        ``{"observed": ..., "predicted": ..., "hidden": ...}``: log-normalised observed
        values, the model's predictions (same scale) and the boolean mask of hidden
        entries, each ``(n_cells, n_genes)``.

        Examples
        --------
        >>> held_out = model.validation_indices
        >>> out = model.get_masked_reconstruction(indices=held_out)
        >>> error = scssl.metrics.masked_reconstruction_error(**out)
        """
        self._check_if_trained(warn=True)
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must lie strictly between 0 and 1, got {mask_ratio}")
        module = self.module
        generator = torch.Generator().manual_seed(seed)
        observed, predicted, hidden_all = [], [], []

        def run(tensors):
            inputs = module._get_inference_input(tensors)
            if is_sparse_csr(inputs["x"]):
                inputs["x"] = inputs["x"].to_dense()  # the evaluation returns every gene
            x = inputs["x"]
            hidden = torch.rand(x.shape, generator=generator) < mask_ratio
            inference_outputs = module.inference(**inputs, hidden=hidden.to(module.device))
            generative_inputs = module._get_generative_input(tensors, inference_outputs)
            log_expr = module.predict_log_expression(module.generative(**generative_inputs))
            observed.append(inference_outputs["x_norm"].cpu())
            hidden_all.append(hidden)
            return log_expr

        predicted = self._map_cells(run, adata, indices, batch_size)
        return {
            "observed": torch.cat(observed).numpy(),
            "predicted": predicted,
            "hidden": torch.cat(hidden_all).numpy(),
        }

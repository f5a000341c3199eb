"""Masked autoencoder module: hide genes, encode, reconstruct the hidden ones."""

from __future__ import annotations

import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import LossOutput, auto_move_data
from torch import nn

from scssl._options import LossOn, ReconstructionKind, check_option
from scssl.nn import (
    ExpressionDecoder,
    MaskDraw,
    MaskingStrategy,
    RandomMasking,
    SharedRandomMasking,
    SparseMaskDraw,
    csr_column_positions,
    csr_columns_dense,
    csr_keep,
    csr_rows,
    is_sparse_csr,
    masked_mean,
    mse_per_entry,
    nb_negative_log_likelihood,
    normalize_counts,
)

from ._base import EncoderModule


class MaskedAEModule(EncoderModule):
    """Masked autoencoder on raw counts.

    Counts are library-size normalised and log1p-transformed inside the module.
    During training (and for the validation loss) a masking strategy hides genes
    per cell; hidden entries are replaced by ``mask_value`` and the encoder maps
    the masked profile to an embedding, from which the decoder reconstructs the
    expression. The embedding used downstream is computed without masking.

    Parameters
    ----------
    n_input
        Number of genes.
    n_batch
        Number of batches (0 or 1: no batch covariate).
    n_cats_per_cov
        Number of categories of each extra categorical covariate.
    n_continuous_cov
        Number of continuous covariates.
    n_latent
        Embedding size.
    n_hidden
        Width of the hidden layers.
    n_layers
        Number of hidden layers of the encoder and of the decoder.
    decoder_n_hidden
        Width of the decoder's hidden layers (``None``: ``n_hidden``). Its last layer
        is a ``decoder_n_hidden x n_input`` product for every cell, the largest cost of
        a step over all genes.
    dropout_rate
        Dropout in the encoder.
    masking
        Masking strategy; defaults to :class:`~scssl.nn.RandomMasking` at ``mask_ratio``.
    mask_ratio
        Fraction of genes hidden per cell by the default random masking.
    mask_value
        Value written into hidden entries of the (log-normalised) input.
    loss_on
        ``"masked"``: reconstruction loss on the strategy's loss positions only;
        ``"all"``: on every gene.
    reconstruction
        ``"mse"`` on log-normalised values, or ``"nb"``: negative binomial on counts
        with the observed library size and one dispersion per gene.
    encode_covariates
        Whether the encoder also receives the batch and categorical covariates
        (the decoder always does).
    target_sum
        Library size the counts are normalised to before log1p.
    decoder_gene_fraction
        Sparse minibatches only: share of the genes, drawn afresh each training step,
        on which the decoder is evaluated and the loss computed (each weighted by
        ``1 / decoder_gene_fraction``, so the loss equals the all-gene loss in
        expectation). ``1.0`` (default) evaluates every gene: the dense path's exact
        objective. Smaller values train faster per step but learn less per step: on
        Baron with all genes, 0.25 lowered leave-one-donor-out kNN macro-F1 from 0.793
        to 0.72 at the default 100 epochs (``benchmarks/results/scale_sparse_quality.md``,
        the rule that set this default was fixed before that run). Validation and
        inference always use every gene.

    Notes
    -----
    **Sparse minibatches** (a ``torch.sparse_csr`` ``x``, as scssl's models load a
    sparse count matrix) never become a dense cells x genes tensor when the masking
    is random, ``mask_value=0`` and ``reconstruction="mse"``: counts are normalised on
    the stored entries, the mask is drawn on them (hiding an implicit zero leaves the
    input unchanged), the encoder's first layer reads the visible non-zeros only, and
    the decoder computes the genes of ``decoder_gene_fraction`` (under
    :class:`~scssl.nn.SharedRandomMasking`, the minibatch's hidden genes). The number of each
    cell's hidden zeros is drawn from its binomial distribution, so the per-cell
    normaliser is distributed as in the dense path, and each hidden zero counts as
    the mean squared prediction over the cell's zeros: the dense loss in expectation,
    without building a dense mask. The negative binomial
    and the programme strategies need every gene: with them a sparse minibatch is
    made dense on its device first.
    """

    def __init__(
        self,
        n_input: int,
        n_batch: int = 0,
        n_cats_per_cov: list[int] | None = None,
        n_continuous_cov: int = 0,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 2,
        decoder_n_hidden: int | None = None,
        dropout_rate: float = 0.1,
        masking: MaskingStrategy | None = None,
        mask_ratio: float = 0.5,
        mask_value: float = 0.0,
        loss_on: LossOn = "masked",
        reconstruction: ReconstructionKind = "mse",
        encode_covariates: bool = False,
        use_batch_norm: bool = False,
        use_layer_norm: bool = True,
        target_sum: float = 1e4,
        decoder_gene_fraction: float = 1.0,
    ):
        super().__init__()
        if decoder_n_hidden is not None and int(decoder_n_hidden) < 1:
            raise ValueError(f"decoder_n_hidden must be at least 1, got {decoder_n_hidden}")
        if not 0.0 < decoder_gene_fraction <= 1.0:
            raise ValueError(
                f"decoder_gene_fraction must lie in (0, 1], got {decoder_gene_fraction}"
            )
        if decoder_gene_fraction < 1.0 and isinstance(masking, SharedRandomMasking):
            raise ValueError(
                "decoder_gene_fraction does not combine with masking='random_shared', whose "
                "decoder already evaluates only the hidden genes; leave it at 1.0"
            )
        check_option("loss_on", loss_on, LossOn)
        check_option("reconstruction", reconstruction, ReconstructionKind)
        self.n_input = n_input
        self.n_batch = n_batch
        self.n_latent = n_latent
        self.mask_value = float(mask_value)
        self.loss_on = loss_on
        self.reconstruction = reconstruction
        self.target_sum = float(target_sum)
        self.decoder_gene_fraction = float(decoder_gene_fraction)
        self.masking = masking if masking is not None else RandomMasking(mask_ratio)

        cat_list = self._build_encoder(locals())
        self.x_decoder = ExpressionDecoder(
            n_latent,
            n_input,
            n_cat_list=cat_list,
            n_continuous=n_continuous_cov,
            n_layers=n_layers,
            n_hidden=n_hidden if decoder_n_hidden is None else int(decoder_n_hidden),
            use_batch_norm=use_batch_norm,
            use_layer_norm=use_layer_norm,
            output="proportions" if reconstruction == "nb" else "values",
        )
        if reconstruction == "nb":
            # log inverse dispersion, one per gene
            self.px_r = nn.Parameter(torch.zeros(n_input))

    # -- scvi-tools plumbing -------------------------------------------------------------
    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict, **kwargs
    ) -> dict:
        return {
            "z": inference_outputs["z"],
            "library": inference_outputs["library"],
            "batch_index": tensors.get(REGISTRY_KEYS.BATCH_KEY),
            "cat_covs": tensors.get(REGISTRY_KEYS.CAT_COVS_KEY),
            "cont_covs": tensors.get(REGISTRY_KEYS.CONT_COVS_KEY),
            "genes": self._loss_genes(inference_outputs),
        }

    def reads_sparse(self, masked: bool) -> bool:
        """Whether a CSR minibatch stays sparse (``masked``: a training/validation step)."""
        if not masked:
            return True
        return (
            self.reconstruction == "mse"
            and self.mask_value == 0.0
            and getattr(self.masking, "reads_sparse", False)
        )

    def _loss_genes(self, inference_outputs: dict) -> torch.Tensor | None:
        """Genes the decoder evaluates in a sparse masked step; ``None``: every gene.

        A mask shared by the minibatch's cells: its hidden genes (all a masked loss
        needs); else, in training, a fresh ``decoder_gene_fraction`` of the genes.
        """
        draw = inference_outputs["mask"]
        if not (isinstance(draw, SparseMaskDraw) and draw.hidden is None):
            return None
        if draw.genes is not None and self.loss_on == "masked":
            return draw.genes
        if not self.training:
            return None
        if self.decoder_gene_fraction >= 1.0:
            return None
        n_genes = max(1, round(self.decoder_gene_fraction * self.n_input))
        device = inference_outputs["z"].device
        return torch.randperm(self.n_input, device=device)[:n_genes].sort().values

    # -- forward pieces ------------------------------------------------------------------
    @auto_move_data
    def inference(
        self,
        x: torch.Tensor,
        batch_index: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        apply_mask: bool = True,
        hidden: torch.Tensor | None = None,
    ) -> dict:
        """Normalise counts, mask, and encode.

        ``apply_mask=False`` gives the deterministic embedding used downstream;
        ``hidden`` (boolean, cells x genes) imposes a given mask instead of drawing one.
        A CSR ``x`` stays sparse where the objective allows it (see the class notes).
        """
        masked = apply_mask or hidden is not None
        if is_sparse_csr(x) and not self.reads_sparse(masked):
            x = x.to_dense()
        x_norm, library = normalize_counts(x, self.target_sum)
        draw = self.draw_mask(x_norm, hidden) if masked else None
        x_in = x_norm if draw is None else self.hide(x_norm, draw)
        z = self.encode(x_in, batch_index, cat_covs, cont_covs)
        return {"z": z, "x_norm": x_norm, "library": library, "mask": draw}

    def draw_mask(
        self, x_norm: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> MaskDraw | SparseMaskDraw:
        """The strategy's mask for ``x_norm`` (dense or CSR), or the imposed ``hidden``."""
        if hidden is None:
            if is_sparse_csr(x_norm):
                return self.masking.draw_stored(x_norm)
            return self.masking.draw(x_norm)
        hidden = hidden.bool()
        if is_sparse_csr(x_norm):
            stored = hidden[csr_rows(x_norm), x_norm.col_indices().long()]
            return SparseMaskDraw(stored=stored, zero_ratio=0.0, hidden=hidden)
        return MaskDraw(hidden=hidden, loss=hidden)

    def hide(self, x_norm: torch.Tensor, draw: MaskDraw | SparseMaskDraw) -> torch.Tensor:
        """``x_norm`` with the hidden entries set to ``mask_value`` (CSR: dropped, value 0)."""
        if isinstance(draw, SparseMaskDraw):
            return csr_keep(x_norm, ~draw.stored)
        return x_norm.masked_fill(draw.hidden, self.mask_value)

    @auto_move_data
    def generative(
        self,
        z: torch.Tensor,
        library: torch.Tensor,
        batch_index: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        genes: torch.Tensor | None = None,
    ) -> dict:
        """Decode the embedding: log-normalised values (``mse``) or NB parameters (``nb``).

        ``genes`` (``mse`` only) restricts ``x_hat`` to those genes' columns.
        """
        covs = self._covariates(batch_index, cat_covs)
        # float32 whatever the autocast: the loss's sums over 20k genes stay exact in bf16-mixed
        out = self.x_decoder(z, *covs, cont=cont_covs, genes=genes).float()
        if self.reconstruction == "mse":
            return {"x_hat": out, "genes": genes}
        return {"px_scale": out, "px_rate": out * library, "px_r": torch.exp(self.px_r)}

    def _sparse_loss(self, inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Masked squared error of a CSR minibatch on the decoder's genes (see class notes)."""
        x_norm = inference_outputs["x_norm"]
        draw: SparseMaskDraw | None = inference_outputs["mask"]
        genes = generative_outputs["genes"]
        if draw is not None and draw.genes is not None and self.loss_on == "masked":
            # the decoder's genes are the ones every cell hid: the plain mean over them
            target = csr_columns_dense(x_norm, genes)
            per_cell = mse_per_entry(generative_outputs["x_hat"], target).mean(dim=1)
            return self._masked_loss_output(per_cell, torch.full_like(per_cell, genes.numel()))
        if draw is not None and draw.hidden is None and self.loss_on == "masked":
            return self._random_mask_loss(x_norm, draw, generative_outputs["x_hat"], genes)

        def columns(matrix: torch.Tensor) -> torch.Tensor:
            """The dense block of the evaluated genes (every gene: a plain to_dense)."""
            return matrix.to_dense() if genes is None else csr_columns_dense(matrix, genes)

        # each evaluated gene stands for n_input / len(genes) genes
        weight = 1.0 if genes is None else self.n_input / genes.numel()
        per_entry = mse_per_entry(generative_outputs["x_hat"], columns(x_norm))
        if draw is None or self.loss_on == "all":
            per_cell = per_entry.sum(dim=1) * weight / self.n_input
            return LossOutput(loss=per_cell.mean(), reconstruction_loss=per_cell)
        hidden = draw.hidden
        assert hidden is not None  # a drawn mask took the branch above
        on_genes = hidden if genes is None else hidden[:, genes]
        n_hidden = hidden.sum(dim=1).float()
        per_cell = (per_entry * on_genes).sum(dim=1) * weight / n_hidden.clamp_min(1.0)
        return self._masked_loss_output(per_cell, n_hidden)

    def _masked_loss_output(self, per_cell: torch.Tensor, n_hidden: torch.Tensor) -> LossOutput:
        """The loss of a masked step, with the hidden share as extra metrics."""
        hidden_fraction = (n_hidden.sum() / (n_hidden.numel() * self.n_input)).detach()
        extra = {"masked_fraction": hidden_fraction, "loss_fraction": hidden_fraction}
        return LossOutput(loss=per_cell.mean(), reconstruction_loss=per_cell, extra_metrics=extra)

    def _random_mask_loss(
        self,
        x_norm: torch.Tensor,
        draw: SparseMaskDraw,
        x_hat: torch.Tensor,
        genes: torch.Tensor | None,
    ) -> LossOutput:
        """Masked squared error of a drawn random mask, without a dense mask or target.

        The stored entries are read where they lie. The hidden zeros are not drawn one
        by one: their number per cell is drawn as the dense mask would hide them
        (binomial), and each counts as the mean squared prediction over the cell's
        zeros in the evaluated genes (a zero's target is 0). Given that number, a
        random subset of the zeros has exactly this expected error, so the per-cell
        loss equals the dense path's in expectation, with less variance, and the
        cost is one pass over ``x_hat`` instead of several dense cells x genes masks.
        """
        n_cells = x_norm.shape[0]

        def per_cell(entries: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            return x_hat.new_zeros(n_cells).index_add_(0, rows, entries)

        n_stored = x_norm.crow_indices().diff().float()
        stored_rows = csr_rows(x_norm)
        n_stored_hidden = per_cell(draw.stored.float(), stored_rows)
        n_zeros_hidden = torch.binomial(
            self.n_input - n_stored, torch.full_like(n_stored, draw.zero_ratio)
        )
        values, hidden = x_norm.values(), draw.stored
        if genes is None:
            n_evaluated = self.n_input
            rows, columns = stored_rows, x_norm.col_indices().long()
        else:  # the stored entries of the evaluated genes, at their block columns
            n_evaluated = genes.numel()
            rows, columns, chosen = csr_column_positions(x_norm, genes)
            values, hidden = values[chosen], hidden[chosen]
        predicted = x_hat[rows, columns]
        stored_error = per_cell(mse_per_entry(predicted, values) * hidden, rows)
        stored_square = per_cell(predicted.square(), rows)
        n_zeros_evaluated = n_evaluated - torch.bincount(rows, minlength=n_cells)
        zero_error = (x_hat.square().sum(dim=1) - stored_square) / n_zeros_evaluated.clamp_min(1.0)
        # each evaluated stored entry stands for n_input / n_evaluated of them
        numerator = stored_error * (self.n_input / n_evaluated) + n_zeros_hidden * zero_error
        n_hidden = n_stored_hidden + n_zeros_hidden
        return self._masked_loss_output(numerator / n_hidden.clamp_min(1.0), n_hidden)

    def loss(self, tensors: dict, inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Reconstruction loss on the loss positions of the mask (or on all genes)."""
        if is_sparse_csr(inference_outputs["x_norm"]):
            return self._sparse_loss(inference_outputs, generative_outputs)
        draw: MaskDraw | None = inference_outputs["mask"]
        if self.reconstruction == "mse":
            per_entry = mse_per_entry(generative_outputs["x_hat"], inference_outputs["x_norm"])
        else:
            counts = tensors[REGISTRY_KEYS.X_KEY]
            per_entry = nb_negative_log_likelihood(
                counts.to_dense() if is_sparse_csr(counts) else counts,
                generative_outputs["px_rate"],
                generative_outputs["px_r"],
            )
        positions = draw.loss if (self.loss_on == "masked" and draw is not None) else None
        per_cell = masked_mean(per_entry, positions)
        extra = {}
        if draw is not None:
            extra["masked_fraction"] = draw.hidden.float().mean().detach()
            extra["loss_fraction"] = draw.loss.float().mean().detach()
        return LossOutput(loss=per_cell.mean(), reconstruction_loss=per_cell, extra_metrics=extra)

    @torch.inference_mode()
    def predict_log_expression(self, generative_outputs: dict) -> torch.Tensor:
        """Reconstruction on the log1p(normalised to ``target_sum``) scale."""
        if self.reconstruction == "mse":
            return generative_outputs["x_hat"]
        return torch.log1p(generative_outputs["px_scale"] * self.target_sum)

    def sample(self, *args, **kwargs):  # noqa: D102
        raise NotImplementedError("MaskedAEModule is not a generative model; nothing to sample.")

"""Multimodal masked autoencoder: RNA and protein (or any second count modality) encoded jointly."""

from __future__ import annotations

from typing import Literal

import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data

from scssl.nn import DeterministicEncoder, ExpressionDecoder, normalize_counts, nt_xent_loss

Modality = Literal["rna", "protein"]
#: which modalities the encoders see: both, or one alone
EmbeddingSource = Literal["joint", "rna", "protein"]


def centred_log_ratio(counts: torch.Tensor) -> torch.Tensor:
    """``log1p`` counts minus each cell's mean over features (CLR, the usual ADT scale).

    Examples
    --------
    >>> import torch
    >>> centred_log_ratio(torch.tensor([[0.0, 0.0]])).tolist()
    [[0.0, 0.0]]
    """
    logged = torch.log1p(counts)
    return logged - logged.mean(dim=1, keepdim=True)


class MultimodalMAEModule(BaseModuleClass):
    """Two encoders, one shared embedding, two decoders; masks hide features and modalities.

    RNA counts are library-size normalised and ``log1p``-transformed; protein counts
    are put on the centred-log-ratio scale (:func:`centred_log_ratio`). Each modality
    has its own encoder; a cell's embedding is the mean of the embeddings of the
    modalities it shows. In training, per cell, ``mask_ratio`` of the genes and
    ``protein_mask_ratio`` of the proteins are hidden, and with probability
    ``modality_mask_prob`` a whole modality (RNA or protein, even odds) is hidden
    (cross-modal masking), so the model must predict it from the other. The loss is
    the squared error on the hidden entries only: genes + ``protein_weight`` x proteins.

    With ``contrastive_weight > 0`` the two modalities of a cell are also two views of
    it: NT-Xent (:func:`~scssl.nn.nt_xent_loss`) between the RNA and the protein
    embedding of every cell that shows both in the step (the other cells' embeddings
    are the negatives) is added with that weight, pulling each cell's two embeddings
    together in the shared space.

    A cell whose protein counts are all zero has no protein measurement (as in
    totalVI): its proteins are always hidden and never scored.

    Parameters
    ----------
    n_genes, n_proteins
        Features of the two modalities.
    n_batch
        Batches (0 or 1: none); the batch is given to both decoders.
    n_latent, n_hidden, n_layers, dropout_rate
        Architecture of the encoders and decoders.
    mask_ratio, protein_mask_ratio
        Share of genes / proteins hidden per cell in training.
    modality_mask_prob
        Probability that a cell with both modalities has one of them hidden whole.
    protein_weight
        Weight of the protein term of the loss.
    contrastive_weight, temperature
        Weight and temperature of the cross-modal NT-Xent term (0: off).
    """

    def __init__(
        self,
        n_genes: int,
        n_proteins: int,
        n_batch: int = 0,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        mask_ratio: float = 0.25,
        protein_mask_ratio: float = 0.25,
        modality_mask_prob: float = 0.5,
        protein_weight: float = 1.0,
        contrastive_weight: float = 0.0,
        temperature: float = 0.1,
    ):
        super().__init__()
        for name, value in (("mask_ratio", mask_ratio), ("protein_mask_ratio", protein_mask_ratio)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {value}")
        if not 0.0 <= modality_mask_prob <= 1.0:
            raise ValueError(f"modality_mask_prob must lie in [0, 1], got {modality_mask_prob}")
        if n_genes < 1 or n_proteins < 1:
            raise ValueError("both modalities need at least one feature")
        if contrastive_weight < 0 or temperature <= 0:
            raise ValueError(
                "contrastive_weight must be >= 0 and temperature > 0, got "
                f"{contrastive_weight}, {temperature}"
            )
        self.contrastive_weight, self.temperature = contrastive_weight, temperature
        self.n_genes, self.n_proteins = n_genes, n_proteins
        self.mask_ratio, self.protein_mask_ratio = mask_ratio, protein_mask_ratio
        self.modality_mask_prob, self.protein_weight = modality_mask_prob, protein_weight
        self.rna_encoder = DeterministicEncoder(
            n_genes, n_latent, dropout_rate=dropout_rate, n_layers=n_layers, n_hidden=n_hidden
        )
        self.protein_encoder = DeterministicEncoder(
            n_proteins, n_latent, dropout_rate=dropout_rate, n_layers=n_layers, n_hidden=n_hidden
        )
        cat_list = [n_batch]
        self.rna_decoder = ExpressionDecoder(
            n_latent, n_genes, n_cat_list=cat_list, n_layers=n_layers, n_hidden=n_hidden
        )
        self.protein_decoder = ExpressionDecoder(
            n_latent, n_proteins, n_cat_list=cat_list, n_layers=n_layers, n_hidden=n_hidden
        )

    # -- data in ------------------------------------------------------------------------------
    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict:
        return {
            "x": tensors[REGISTRY_KEYS.X_KEY],  # dense: the model reads no sparse minibatches
            "y": tensors[REGISTRY_KEYS.PROTEIN_EXP_KEY],
            "batch_index": tensors[REGISTRY_KEYS.BATCH_KEY],
        }

    def _get_generative_input(self, tensors: dict, inference_outputs: dict, **kwargs) -> dict:
        return {"z": inference_outputs["z"], "batch_index": tensors[REGISTRY_KEYS.BATCH_KEY]}

    def _draw_masks(
        self, x: torch.Tensor, has_protein: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per cell: hidden genes, hidden proteins, RNA hidden whole, protein hidden whole."""
        n_cells = x.shape[0]
        hide_one = (torch.rand(n_cells, device=x.device) < self.modality_mask_prob) & has_protein
        rna_hidden = hide_one & (torch.rand(n_cells, device=x.device) < 0.5)
        protein_hidden = (hide_one & ~rna_hidden) | ~has_protein
        genes = torch.rand(n_cells, self.n_genes, device=x.device) < self.mask_ratio
        proteins = torch.rand(n_cells, self.n_proteins, device=x.device) < self.protein_mask_ratio
        genes = genes | rna_hidden[:, None]
        proteins = proteins | protein_hidden[:, None]
        return genes, proteins, rna_hidden, protein_hidden

    @auto_move_data
    def inference(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_index: torch.Tensor,
        apply_mask: bool = True,
        source: EmbeddingSource = "joint",
    ) -> dict:
        """Embed the visible parts; ``apply_mask=False`` embeds from ``source`` without masks."""
        x_norm, _ = normalize_counts(x)
        y_norm = centred_log_ratio(y)
        has_protein = y.sum(dim=1) > 0
        n_cells = x.shape[0]
        if apply_mask:  # training and the validation loss
            genes, proteins, rna_hidden, protein_hidden = self._draw_masks(x, has_protein)
        else:
            genes = torch.zeros_like(x_norm, dtype=torch.bool)
            proteins = torch.zeros_like(y_norm, dtype=torch.bool)
            rna_hidden = torch.full((n_cells,), source == "protein", device=x.device)
            protein_hidden = ~has_protein | (source == "rna")
        z_rna = self.rna_encoder(x_norm.masked_fill(genes, 0.0))
        z_protein = self.protein_encoder(y_norm.masked_fill(proteins, 0.0))
        rna_seen = (~rna_hidden).float()[:, None]
        protein_seen = (~protein_hidden).float()[:, None]
        z = (rna_seen * z_rna + protein_seen * z_protein) / (rna_seen + protein_seen).clamp(min=1)
        return {
            "z": z,
            "x_norm": x_norm,
            "y_norm": y_norm,
            "hidden_genes": genes,
            "hidden_proteins": proteins & has_protein[:, None],
            "z_rna": z_rna,
            "z_protein": z_protein,
            "both_seen": (~rna_hidden) & (~protein_hidden),
        }

    @auto_move_data
    def generative(self, z: torch.Tensor, batch_index: torch.Tensor) -> dict:
        """Predicted log-normalised genes and CLR proteins."""
        return {
            "rna": self.rna_decoder(z, batch_index),
            "protein": self.protein_decoder(z, batch_index),
        }

    def loss(self, tensors: dict, inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Squared error on the hidden genes plus ``protein_weight`` x on the hidden proteins."""

        def hidden_mse(prediction, target, hidden) -> torch.Tensor:
            per_entry = (prediction - target) ** 2 * hidden
            return per_entry.sum(dim=1) / hidden.sum(dim=1).clamp(min=1)

        rna = hidden_mse(
            generative_outputs["rna"],
            inference_outputs["x_norm"],
            inference_outputs["hidden_genes"],
        )
        protein = hidden_mse(
            generative_outputs["protein"],
            inference_outputs["y_norm"],
            inference_outputs["hidden_proteins"],
        )
        per_cell = rna + self.protein_weight * protein
        metrics = {"rna_term": rna.mean(), "protein_term": protein.mean()}
        loss = per_cell.mean()
        if self.contrastive_weight > 0:
            contrastive = self._cross_modal_term(inference_outputs)
            metrics["contrastive_term"] = contrastive
            loss = loss + self.contrastive_weight * contrastive
        return LossOutput(loss=loss, reconstruction_loss=per_cell, extra_metrics=metrics)

    def _cross_modal_term(self, inference_outputs: dict) -> torch.Tensor:
        """NT-Xent between the RNA and protein embeddings of the cells showing both (0 if < 2)."""
        both = inference_outputs["both_seen"]
        if int(both.sum()) < 2:  # no negatives to tell a cell from
            return inference_outputs["z_rna"].sum() * 0.0
        return nt_xent_loss(
            inference_outputs["z_rna"][both],
            inference_outputs["z_protein"][both],
            temperature=self.temperature,
        )

    @torch.no_grad()
    def embed(self, tensors: dict[str, torch.Tensor], source: EmbeddingSource = "joint"):
        """Deterministic embedding of a minibatch from both modalities or from one."""
        inputs = self._get_inference_input(tensors)
        return self.inference(**inputs, apply_mask=False, source=source)["z"]

    @torch.no_grad()
    def predict(
        self, tensors: dict[str, torch.Tensor], source: EmbeddingSource, target: Modality
    ) -> torch.Tensor:
        """``target`` (log-normalised genes or CLR proteins) decoded from ``source`` alone."""
        inputs = self._get_inference_input(tensors)
        z = self.inference(**inputs, apply_mask=False, source=source)["z"]
        return self.generative(z, inputs["batch_index"])[target]

    def sample(self, *args, **kwargs):  # noqa: D102
        raise NotImplementedError("MultimodalMAEModule is not a generative model")

"""Bulk-to-single-cell drug response module: denoising AE + response head + alignment."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn

from scssl._constants import SCSSL_REGISTRY_KEYS
from scssl.nn import (
    Augmentation,
    DeterministicEncoder,
    ExpressionDecoder,
    GaussianNoise,
    MLPHead,
    RandomGeneMasking,
    cluster_consistency_loss,
    mmd_rbf,
)

DOMAIN_KEY = SCSSL_REGISTRY_KEYS.DOMAIN_KEY
RESPONSE_KEY = SCSSL_REGISTRY_KEYS.RESPONSE_KEY
CLUSTER_KEY = SCSSL_REGISTRY_KEYS.CLUSTER_KEY


class DrugResponseModule(BaseModuleClass):
    """Shared denoising autoencoder for two domains with a response predictor on bulk.

    One encoder embeds bulk profiles and single cells (the inputs are already on the
    same scale, see :func:`scssl.data.build_drug_response_adata`); sharing it means the
    response predictor, trained on bulk embeddings, reads the same space the cells are
    mapped to. During training each input is corrupted (Gaussian noise and random gene
    dropout) and the decoder, which is told the domain, reconstructs the clean profile;
    giving the domain to the decoder lets the embedding drop domain-specific offsets.

    The loss on a minibatch is

    ``reconstruction_weight * MSE`` (all rows)
    ``+ class-weighted BCE`` (labelled bulk rows only)
    ``+ align_weight * (mmd_weight * MMD(z_bulk, z_sc)``
    ``+ cluster_weight * cluster_consistency(z_sc))``

    where ``align_weight`` ramps from 0 to 1 over the warm-up (scvi's ``kl_weight``
    schedule, ``n_epochs_kl_warmup``), the MMD is multi-kernel RBF
    (:func:`scssl.nn.mmd_rbf`) and the cluster term (:func:`scssl.nn.cluster_consistency_loss`)
    keeps pre-computed single-cell clusters apart, so the MMD cannot collapse the cells.

    Parameters
    ----------
    n_input
        Number of genes.
    n_latent
        Embedding size.
    n_hidden
        Width of the hidden layers of encoder and decoder.
    n_layers
        Number of hidden layers of encoder and decoder.
    dropout_rate
        Dropout in the encoder.
    n_hidden_predictor
        Hidden width of the response predictor; 0 gives a linear predictor.
    predictor_dropout
        Dropout before the predictor's layers.
    input_noise
        Standard deviation of the Gaussian noise added to inputs in training.
    input_dropout
        Share of genes set to 0 per row in training.
    reconstruction_weight, mmd_weight, cluster_weight
        Loss weights (``mmd_weight`` 0 by default: see
        :class:`~scssl.model.DrugResponseTransfer` for why).
    pos_weight
        Weight of the sensitive class in the BCE (typically ``n_resistant / n_sensitive``).
    """

    def __init__(
        self,
        n_input: int,
        n_latent: int = 32,
        n_hidden: int = 128,
        n_layers: int = 1,
        dropout_rate: float = 0.2,
        n_hidden_predictor: int = 0,
        predictor_dropout: float = 0.2,
        input_noise: float = 0.5,
        input_dropout: float = 0.2,
        reconstruction_weight: float = 1.0,
        mmd_weight: float = 0.0,
        cluster_weight: float = 0.1,
        pos_weight: float = 1.0,
    ):
        super().__init__()
        for name, value in (
            ("input_dropout", input_dropout),
            ("dropout_rate", dropout_rate),
            ("predictor_dropout", predictor_dropout),
        ):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {value}")
        for name, value in (
            ("input_noise", input_noise),
            ("reconstruction_weight", reconstruction_weight),
            ("mmd_weight", mmd_weight),
            ("cluster_weight", cluster_weight),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if pos_weight <= 0:
            raise ValueError(f"pos_weight must be > 0, got {pos_weight}")
        self.n_input = n_input
        self.n_latent = n_latent
        # denoising corruption, every row in training (the augmentations' transforms)
        corruption: list[nn.Module] = []
        if input_noise > 0:
            corruption.append(GaussianNoise(std=input_noise, p=1.0))
        if input_dropout > 0:
            corruption.append(RandomGeneMasking(drop_fraction=input_dropout, p=1.0))
        self.corruption = nn.ModuleList(corruption)
        self.reconstruction_weight = float(reconstruction_weight)
        self.mmd_weight = float(mmd_weight)
        self.cluster_weight = float(cluster_weight)
        self.register_buffer("pos_weight", torch.tensor(float(pos_weight)))

        self.z_encoder = DeterministicEncoder(
            n_input,
            n_latent,
            n_layers=n_layers,
            n_hidden=n_hidden,
            dropout_rate=dropout_rate,
        )
        self.x_decoder = ExpressionDecoder(
            n_latent, n_input, n_cat_list=[2], n_layers=n_layers, n_hidden=n_hidden
        )
        self.predictor = MLPHead(
            n_latent,
            max(n_hidden_predictor, 1),
            1,
            n_layers=int(n_hidden_predictor > 0),
            batch_norm=False,
            dropout=predictor_dropout,
            input_dropout=True,
        )

    # -- scvi-tools plumbing ----------------------------------------------------------------
    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict:
        return {"x": tensors[REGISTRY_KEYS.X_KEY]}

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict, **kwargs
    ) -> dict:
        return {"z": inference_outputs["z"], "domain": tensors[DOMAIN_KEY]}

    # -- forward pieces ---------------------------------------------------------------------
    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """Denoising corruption (training only): Gaussian noise and random gene dropout."""
        if not self.training:
            return x
        for augmentation in cast(list[Augmentation], self.corruption):
            x = augmentation.transform(x)
        return x

    def logit(self, z: torch.Tensor) -> torch.Tensor:
        """Response logit (sensitive > 0) from the embedding, shape ``(n,)``."""
        return self.predictor(z).squeeze(-1)

    def forward_logit(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of sensitivity straight from scaled expression (for attributions)."""
        return self.logit(self.z_encoder(x))

    def embed(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """Shared embedding of a minibatch, without corruption."""
        return self.inference(tensors[REGISTRY_KEYS.X_KEY], corrupt=False)["z"]

    @auto_move_data
    def inference(self, x: torch.Tensor, corrupt: bool = True) -> dict:
        """Embed (corrupted, in training) inputs; ``corrupt=False`` for downstream use."""
        x_in = self.corrupt(x) if corrupt else x
        z = self.z_encoder(x_in)
        return {"z": z, "logit": self.logit(z)}

    @auto_move_data
    def generative(self, z: torch.Tensor, domain: torch.Tensor) -> dict:
        """Reconstruct the clean profile, told the domain."""
        return {"x_hat": self.x_decoder(z, domain.long())}

    def loss(
        self,
        tensors: dict,
        inference_outputs: dict,
        generative_outputs: dict,
        kl_weight: float = 1.0,
    ) -> LossOutput:
        """Reconstruction + weighted BCE on labelled bulk + warm-up-scaled alignment terms."""
        x = tensors[REGISTRY_KEYS.X_KEY]
        domain = tensors[DOMAIN_KEY].reshape(-1)
        response = tensors[RESPONSE_KEY].reshape(-1)
        z, logit = inference_outputs["z"], inference_outputs["logit"]
        is_bulk = domain < 0.5

        per_cell_rec = ((generative_outputs["x_hat"] - x) ** 2).mean(-1)
        rec = per_cell_rec.mean()

        labelled = is_bulk & ~torch.isnan(response)
        if labelled.any():
            bce = F.binary_cross_entropy_with_logits(
                logit[labelled], response[labelled], pos_weight=self.pos_weight
            )
        else:
            bce = z.new_zeros(())

        mmd = mmd_rbf(z[is_bulk], z[~is_bulk]) if self.mmd_weight > 0 else z.new_zeros(())
        if self.cluster_weight > 0 and CLUSTER_KEY in tensors:
            clusters = tensors[CLUSTER_KEY].reshape(-1).long()
            clusters = torch.where(is_bulk, torch.full_like(clusters, -1), clusters)
            cluster = cluster_consistency_loss(z, clusters)
        else:
            cluster = z.new_zeros(())

        align = float(kl_weight) * (self.mmd_weight * mmd + self.cluster_weight * cluster)
        total = self.reconstruction_weight * rec + bce + align
        extra = {
            "response_bce": bce.detach(),
            "mmd": mmd.detach(),
            "cluster_consistency": cluster.detach(),
            "alignment_weight": torch.tensor(float(kl_weight)),
            "n_labelled": labelled.sum().float().detach(),
        }
        return LossOutput(loss=total, reconstruction_loss=per_cell_rec, extra_metrics=extra)

    def sample(self, *args, **kwargs):  # noqa: D102
        raise NotImplementedError("DrugResponseModule is not a generative model.")

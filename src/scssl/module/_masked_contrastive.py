"""Hybrid objective: masked reconstruction plus a contrastive term between two masked views."""

from __future__ import annotations

import torch
from scvi.module.base import LossOutput, auto_move_data

from scssl._options import SymmetricContrastiveMethod, check_option
from scssl.nn import MLPHead, contrastive_objective

from ._masked_ae import MaskedAEModule


class MaskedContrastiveModule(MaskedAEModule):
    """:class:`MaskedAEModule` with an added joint-embedding term.

    Two masks are drawn per cell: the first masked view is reconstructed as in
    the masked autoencoder; the projections of both masked views are pulled
    together by a SimCLR, Barlow Twins or VICReg loss, weighted by
    ``contrastive_weight``. ``inference(..., apply_mask=False)`` is unchanged:
    the deterministic embedding of the unmasked cell.

    Parameters
    ----------
    contrastive_method
        ``"simclr"``, ``"barlow_twins"`` or ``"vicreg"``.
    contrastive_weight
        Weight of the contrastive term relative to the reconstruction loss
        (0 gives the plain masked autoencoder).
    temperature
        NT-Xent temperature (``"simclr"``).
    off_diagonal_weight
        Barlow Twins redundancy weight.
    invariance_weight, variance_weight, covariance_weight
        VICReg weights.
    projector_hidden, projector_output
        Projector head sizes (used for the contrastive term only).
    **kwargs
        Arguments of :class:`MaskedAEModule` (``mask_ratio``, ``reconstruction``, ...).
    """

    def __init__(
        self,
        n_input: int,
        contrastive_method: SymmetricContrastiveMethod = "vicreg",
        contrastive_weight: float = 0.1,
        temperature: float = 0.1,
        off_diagonal_weight: float = 5e-3,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
        projector_hidden: int = 256,
        projector_output: int = 128,
        **kwargs,
    ):
        super().__init__(n_input, **kwargs)
        check_option("contrastive_method", contrastive_method, SymmetricContrastiveMethod)
        if contrastive_weight < 0:
            raise ValueError(f"contrastive_weight must be >= 0, got {contrastive_weight}")
        self.contrastive_method = contrastive_method
        self.contrastive_weight = float(contrastive_weight)
        self.objective_kwargs = {
            "temperature": float(temperature),
            "off_diagonal_weight": float(off_diagonal_weight),
            "invariance_weight": float(invariance_weight),
            "variance_weight": float(variance_weight),
            "covariance_weight": float(covariance_weight),
        }
        self.projector = MLPHead(self.n_latent, projector_hidden, projector_output, 1)

    @auto_move_data
    def inference(
        self,
        x: torch.Tensor,
        batch_index: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        apply_mask: bool = True,
        **kwargs,
    ) -> dict:
        """As :meth:`MaskedAEModule.inference`, plus ``z_second`` (second masked view)."""
        out = super().inference(
            x, batch_index, cat_covs, cont_covs, apply_mask=apply_mask, **kwargs
        )
        if apply_mask and kwargs.get("hidden") is None and self.contrastive_weight > 0:
            x_second = self.hide(out["x_norm"], self.draw_mask(out["x_norm"]))
            out["z_second"] = self.encode(x_second, batch_index, cat_covs, cont_covs)
        return out

    def loss(self, tensors: dict, inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Reconstruction loss + ``contrastive_weight`` x contrastive loss of the two views."""
        reconstruction = super().loss(tensors, inference_outputs, generative_outputs)
        z_second = inference_outputs.get("z_second")
        z_first = inference_outputs["z"]
        if z_second is None or z_first.shape[0] < 2:
            return reconstruction
        p1, p2 = self.projector(torch.cat([z_first, z_second])).chunk(2)
        parts = contrastive_objective(self.contrastive_method, p1, p2, **self.objective_kwargs)
        extra = dict(reconstruction.extra_metrics or {})
        extra["reconstruction_term"] = reconstruction.loss.detach()
        extra["contrastive_term"] = parts["loss"].detach()
        return LossOutput(
            loss=reconstruction.loss + self.contrastive_weight * parts["loss"],
            reconstruction_loss=reconstruction.reconstruction_loss,
            extra_metrics=extra,
        )

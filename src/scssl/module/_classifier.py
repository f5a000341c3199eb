"""Cell-type classifier module: a (pretrained) scssl encoder and a classification head."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.module.base import LossOutput, auto_move_data
from torch import nn

from scssl.nn import MLPHead, normalize_counts

from ._base import EncoderModule


class Standardize(nn.BatchNorm1d):
    """Per-dimension standardisation of the embedding (batch statistics, no affine weights).

    Makes a linear probe insensitive to the scale of a pretrained embedding. A
    minibatch of one cell uses the running statistics.
    """

    def __init__(self, n_features: int):
        super().__init__(n_features, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.training and x.shape[0] < 2:
            return F.batch_norm(x, self.running_mean, self.running_var, training=False)
        return super().forward(x)


class ClassifierModule(EncoderModule):
    """Encoder (same architecture as the scssl SSL encoders) followed by a classification head.

    Counts are normalised inside the module exactly as in the SSL modules
    (:func:`~scssl.nn.normalize_counts` to ``target_sum``, log1p), encoded by
    ``z_encoder``, standardised per dimension and classified by ``head``. Cells whose label index is
    ``n_labels`` (the unlabelled category) do not enter the loss.

    Parameters
    ----------
    n_input
        Number of genes.
    n_labels
        Number of classes (the unlabelled category excluded).
    n_batch, n_cats_per_cov, n_continuous_cov
        Covariate sizes; used by the encoder only with ``encode_covariates=True``.
    n_latent, n_hidden, n_layers, dropout_rate, use_batch_norm, use_layer_norm
        Encoder architecture (copied from the pretrained model by
        :meth:`scssl.model.CellTypeClassifier.from_pretrained`).
    encode_covariates
        Whether the encoder receives batch and categorical covariates.
    target_sum
        Library size of the normalisation.
    n_hidden_head
        ``0``: linear head on the embedding; otherwise one hidden layer of this width.
    head_dropout
        Dropout before the head's output layer.
    freeze_encoder
        Linear probing: the encoder gets no gradient and stays in eval mode.
    class_weights
        Weight of each class in the cross-entropy (``None``: equal weights).
    """

    def __init__(
        self,
        n_input: int,
        n_labels: int,
        n_batch: int = 0,
        n_cats_per_cov: list[int] | None = None,
        n_continuous_cov: int = 0,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        use_batch_norm: bool = False,
        use_layer_norm: bool = True,
        encode_covariates: bool = False,
        target_sum: float = 1e4,
        n_hidden_head: int = 0,
        head_dropout: float = 0.1,
        freeze_encoder: bool = False,
        class_weights: list[float] | None = None,
    ):
        super().__init__()
        if n_labels < 2:
            raise ValueError(f"a classifier needs at least two classes, got {n_labels}")
        self.n_labels = n_labels
        self.target_sum = float(target_sum)
        self._build_encoder(locals())
        self.head = nn.Sequential(
            Standardize(n_latent),
            MLPHead(
                n_latent,
                max(n_hidden_head, 1),
                n_labels,
                n_layers=int(n_hidden_head > 0),
                batch_norm=False,
                dropout=head_dropout,
            ),
        )
        weights = torch.ones(n_labels) if class_weights is None else torch.tensor(class_weights)
        if weights.shape != (n_labels,) or not torch.all(weights >= 0):
            raise ValueError(f"class_weights must be {n_labels} non-negative numbers")
        self.register_buffer("class_weights", weights.float())
        self.freeze_encoder = False
        self.set_encoder_frozen(freeze_encoder)

    def set_encoder_frozen(self, frozen: bool) -> None:
        """Linear probing (``True``) or full fine-tuning (``False``)."""
        self.freeze_encoder = bool(frozen)
        for parameter in self.z_encoder.parameters():
            parameter.requires_grad = not frozen
        if frozen:
            self.z_encoder.eval()

    def train(self, mode: bool = True):  # noqa: D102
        super().train(mode)
        if self.freeze_encoder:
            self.z_encoder.eval()  # no dropout / batch-norm updates in a frozen encoder
        return self

    # -- scvi-tools plumbing -------------------------------------------------------------
    _embedding_kwargs: ClassVar[dict[str, Any]] = {}  # inference has no mask to switch off

    def _get_generative_input(self, tensors, inference_outputs, **kwargs) -> dict:
        return {"z": inference_outputs["z"]}

    @auto_move_data
    def inference(
        self,
        x: torch.Tensor,
        batch_index: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
    ) -> dict:
        """Normalise and encode the counts."""
        x_norm, _ = normalize_counts(x, self.target_sum)
        if self.freeze_encoder:
            with torch.no_grad():
                z = self.encode(x_norm, batch_index, cat_covs, cont_covs)
        else:
            z = self.encode(x_norm, batch_index, cat_covs, cont_covs)
        return {"z": z}

    @auto_move_data
    def generative(self, z: torch.Tensor) -> dict:
        """Class logits of the embedding."""
        return {"logits": self.head(z)}

    def loss(self, tensors: dict, inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Class-weighted cross-entropy over the labelled cells of the minibatch."""
        logits = generative_outputs["logits"]
        labels = tensors[REGISTRY_KEYS.LABELS_KEY].view(-1).long()
        labelled = labels < self.n_labels
        safe = torch.where(labelled, labels, torch.zeros_like(labels))
        per_cell = F.cross_entropy(logits, safe, reduction="none") * labelled
        weights = self.class_weights[safe] * labelled
        loss = (per_cell * weights).sum() / weights.sum().clamp_min(1e-8)
        with torch.no_grad():
            correct = ((logits.argmax(-1) == labels) & labelled).sum()
            accuracy = correct / labelled.sum().clamp_min(1)
        return LossOutput(
            loss=loss,
            reconstruction_loss=per_cell,
            extra_metrics={"accuracy": accuracy.float().detach()},
        )

    def sample(self, *args, **kwargs):  # noqa: D102
        raise NotImplementedError("ClassifierModule is not generative; nothing to sample.")

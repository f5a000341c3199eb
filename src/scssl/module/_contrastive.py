"""Joint-embedding module: SimCLR, BYOL, Barlow Twins or VICReg on augmented count views."""

from __future__ import annotations

import itertools
from dataclasses import asdict

import torch
from scvi.module.base import LossOutput, auto_move_data
from torch.func import functional_call

from scssl._constants import SCSSL_REGISTRY_KEYS
from scssl._options import ContrastiveMethod, check_option
from scssl.nn import (
    AugmentationPipeline,
    AugmentationSettings,
    MLPHead,
    NeighbourView,
    byol_loss,
    byol_momentum,
    contrastive_objective,
    csr_index_rows,
    csr_stack,
    draw_partner,
    is_sparse_csr,
    normalize_counts,
)

from ._base import EncoderModule

MNN_PARTNER_KEY = SCSSL_REGISTRY_KEYS.MNN_PARTNER_KEY
KNN_PARTNERS_KEY = SCSSL_REGISTRY_KEYS.KNN_PARTNERS_KEY
#: the online networks BYOL keeps a momentum (target) copy of
BYOL_ONLINE_NETWORKS: tuple[str, ...] = ("z_encoder", "projector")


def _target_key(network: str, name: str) -> str:
    """Buffer name of a target-network tensor (buffer names may not contain dots)."""
    return f"target_{network}:{name.replace('.', ':')}"


class ContrastiveModule(EncoderModule):
    """Two augmented views of each cell, one encoder, a projector and a joint-embedding loss.

    Counts are augmented (binomial thinning, negative-binomial noise, optionally a
    neighbour as the second view: one of the cell's nearest neighbours, or its
    mutual-nearest-neighbour partner from another batch), library-size normalised
    and log1p-transformed, augmented again (crossover, gene swap, masking, Gaussian
    noise) and encoded. The projector (and BYOL's predictor) is used for the loss
    only; ``inference(..., apply_mask=False)`` returns the encoder's deterministic
    embedding of the unaugmented cell.

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
    method
        ``"simclr"`` (NT-Xent), ``"byol"`` (online/target networks, predictor, EMA),
        ``"barlow_twins"`` (cross-correlation) or ``"vicreg"``.
    n_latent
        Embedding size (encoder output).
    n_hidden
        Width of the encoder's hidden layers.
    n_layers
        Number of hidden layers of the encoder.
    dropout_rate
        Dropout in the encoder.
    projector_hidden, projector_output, projector_layers
        Projector head sizes.
    predictor_hidden
        Width of BYOL's predictor.
    temperature
        NT-Xent temperature (SimCLR).
    base_momentum
        Starting EMA momentum of BYOL's target network (cosine schedule up to 1).
    off_diagonal_weight
        Barlow Twins weight of the redundancy term.
    invariance_weight, variance_weight, covariance_weight
        VICReg weights.
    augmentations
        Settings of the augmentations (:class:`~scssl.nn.AugmentationSettings`; a
        probability of 0 turns one off). With ``noise_nonzero_only=True`` the default
        augmentations all leave zeros at zero, and a sparse (CSR) minibatch stays sparse
        up to the encoder's first layer; with noise on every gene it stays sparse through
        thinning and masking and is made dense on its device just before the noise.
    mnn_prob
        Probability that the second view is the cell's mutual nearest neighbour from
        another batch (needs partners registered and reference counts set with
        :meth:`set_partner_reference`).
    knn_prob
        Probability that the second view is one of the cell's nearest neighbours, drawn
        anew at every step (needs neighbours registered and reference counts set). Where
        both apply, the MNN partner takes precedence.
    encode_covariates
        Feed batch and categorical covariates to the encoder (scVI-style injection).
    use_batch_norm, use_layer_norm
        Normalisation in the encoder.
    target_sum
        Library size counts are normalised to before log1p.
    **augmentation_settings
        Single fields of :class:`~scssl.nn.AugmentationSettings` (``mask_prob=0.5``, ...),
        applied on top of ``augmentations``.
    """

    def __init__(
        self,
        n_input: int,
        n_batch: int = 0,
        n_cats_per_cov: list[int] | None = None,
        n_continuous_cov: int = 0,
        method: ContrastiveMethod = "vicreg",
        n_latent: int = 128,
        n_hidden: int = 512,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        projector_hidden: int = 256,
        projector_output: int = 128,
        projector_layers: int = 1,
        predictor_hidden: int = 256,
        temperature: float = 0.1,
        base_momentum: float = 0.99,
        off_diagonal_weight: float = 5e-3,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
        augmentations: AugmentationSettings | None = None,
        mnn_prob: float = 0.0,
        knn_prob: float = 0.0,
        encode_covariates: bool = False,
        use_batch_norm: bool = False,
        use_layer_norm: bool = True,
        target_sum: float = 1e4,
        **augmentation_settings,
    ):
        super().__init__()
        check_option("method", method, ContrastiveMethod)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 0.0 <= base_momentum <= 1.0:
            raise ValueError(f"base_momentum must lie in [0, 1], got {base_momentum}")
        self.method = method
        self.n_input = n_input
        self.n_batch = n_batch
        self.n_latent = n_latent
        self.target_sum = float(target_sum)
        self.base_momentum = float(base_momentum)
        self.objective_kwargs = {
            "temperature": float(temperature),
            "off_diagonal_weight": float(off_diagonal_weight),
            "invariance_weight": float(invariance_weight),
            "variance_weight": float(variance_weight),
            "covariance_weight": float(covariance_weight),
        }

        self._build_encoder(locals())
        self.projector = MLPHead(n_latent, projector_hidden, projector_output, projector_layers)
        settings = AugmentationSettings(
            **{**asdict(augmentations or AugmentationSettings()), **augmentation_settings}
        )
        self.augment = AugmentationPipeline(settings.build(), self._normalize)
        self.mnn_pair = NeighbourView(mnn_prob)
        self.knn_pair = NeighbourView(knn_prob)
        # BYOL's target network follows the online one by EMA; a frozen scArches query
        # model switches this off so that no reference weight moves (see QueryMappingMixin)
        self.target_follows_online = True
        # CSR counts of the cells partner positions refer to, set by the model: not a
        # buffer, so never saved nor broadcast under DDP; moved to a step's device on use
        self.partner_counts: torch.Tensor | None = None
        if method == "byol":
            self.predictor = MLPHead(projector_output, predictor_hidden, projector_output, 1)
            # The target network has the online networks' shapes but its own weights, held
            # as buffers: saved with the model, never optimised (also under DDP), and left
            # alone by scArches freezing, which hooks every FCLayers *parameter*.
            # tensor names per network, fixed at construction (looked up at every step)
            self._target_names = {
                network: tuple(self._online_state(network)) for network in BYOL_ONLINE_NETWORKS
            }
            for network in BYOL_ONLINE_NETWORKS:
                for name, tensor in self._online_state(network).items():
                    self.register_buffer(_target_key(network, name), tensor.detach().clone())

    def _normalize(self, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return normalize_counts(counts, self.target_sum)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: D102
        # a BYOL target saved before gene-major first layers holds ``weight`` (out x in)
        for network, names in getattr(self, "_target_names", {}).items():
            for name in names:
                if name.endswith(".weight_t"):
                    new = prefix + _target_key(network, name)
                    old = prefix + _target_key(network, name.removesuffix("_t"))
                    if old in state_dict and new not in state_dict:
                        state_dict[new] = state_dict.pop(old).T
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _online_state(self, network: str) -> dict[str, torch.Tensor]:
        net = getattr(self, network)
        return dict(itertools.chain(net.named_parameters(), net.named_buffers()))

    def target_weights(self, network: str) -> dict[str, torch.Tensor]:
        """BYOL's target copy of ``network`` (``"z_encoder"`` or ``"projector"``), by name."""
        return {
            name: getattr(self, _target_key(network, name)) for name in self._target_names[network]
        }

    # -- scvi-tools plumbing -------------------------------------------------------------
    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict:
        inputs = super()._get_inference_input(tensors)
        if MNN_PARTNER_KEY in tensors:
            inputs["mnn_partner"] = tensors[MNN_PARTNER_KEY]
        if KNN_PARTNERS_KEY in tensors:
            inputs["knn_partners"] = tensors[KNN_PARTNERS_KEY]
        return inputs

    def _get_generative_input(self, tensors: dict, inference_outputs: dict, **kwargs) -> dict:
        return {}

    def set_partner_reference(self, counts: torch.Tensor) -> None:
        """Counts of all registered cells, indexed by the MNN and kNN partner positions.

        Dense or CSR; kept as CSR (float32), so that an atlas's reference costs its
        stored entries rather than cells x genes.
        """
        if counts.ndim != 2 or counts.shape[1] != self.n_input:
            raise ValueError(
                f"partner reference counts must be cells x {self.n_input} genes, "
                f"got {tuple(counts.shape)}"
            )
        csr = counts if is_sparse_csr(counts) else counts.to_sparse_csr()
        self.partner_counts = csr.to(torch.float32)

    def _partner_rows(self, positions: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The reference counts of the cells at ``positions``, CSR or dense as ``like``."""
        if self.partner_counts is None:
            raise RuntimeError(
                "partners are registered but no reference counts are set; "
                "call module.set_partner_reference(counts) (the model does this)."
            )
        if self.partner_counts.device != like.device:
            self.partner_counts = self.partner_counts.to(like.device)
        rows = csr_index_rows(self.partner_counts, positions)
        return rows if is_sparse_csr(like) else rows.to_dense()

    # -- forward pieces ------------------------------------------------------------------
    def _second_view_counts(
        self,
        x: torch.Tensor,
        mnn_partner: torch.Tensor | None,
        knn_partners: torch.Tensor | None,
    ) -> torch.Tensor:
        """The counts the second view starts from: the cell's own, or a partner's."""
        view = x
        # kNN first, so that an MNN partner, where drawn, replaces it
        for partners, pair in ((knn_partners, self.knn_pair), (mnn_partner, self.mnn_pair)):
            if partners is None or pair.p == 0.0 or not self.training:
                continue
            position, has_partner = draw_partner(partners)
            view = pair(view, self._partner_rows(position, like=view), has_partner)
        return view

    @auto_move_data
    def inference(
        self,
        x: torch.Tensor,
        batch_index: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        apply_mask: bool = True,
        mnn_partner: torch.Tensor | None = None,
        knn_partners: torch.Tensor | None = None,
    ) -> dict:
        """Encode cells; with ``apply_mask=True`` also two augmented views.

        ``apply_mask=False`` gives the deterministic embedding ``{"z": ...}`` of the
        unaugmented cells (augmentations are also off whenever the module is in eval
        mode). With ``apply_mask=True`` the outputs hold ``views`` (the two
        log-normalised inputs), ``stacked_views`` (both, one above the other, as the
        encoder reads them) and ``z_views`` (their embeddings); ``z`` is then the
        embedding of the first view.
        """
        if not apply_mask:
            x_norm, library = self._normalize(x)
            z = self.encode(x_norm, batch_index, cat_covs, cont_covs)
            return {"z": z, "x_norm": x_norm, "library": library}
        v1 = self.augment(x)
        v2 = self.augment(self._second_view_counts(x, mnn_partner, knn_partners))
        covs = (batch_index, cat_covs, cont_covs)
        both = csr_stack(v1, v2) if is_sparse_csr(v1) else torch.cat([v1, v2])
        z_views = self.encode(both, *_repeat_all(covs)).chunk(2)
        return {
            "z": z_views[0],
            "views": (v1, v2),
            "stacked_views": both,
            "z_views": z_views,
            "covs": covs,
        }

    @auto_move_data
    def generative(self, **kwargs) -> dict:
        """No generative part: the objective lives in the embedding space."""
        return {}

    def loss(self, tensors: dict, inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Joint-embedding loss between the projections of the two views."""
        z1, z2 = inference_outputs["z_views"]
        n = z1.shape[0]
        if n < 2:
            # batch statistics (projector batch norm, Barlow Twins, VICReg) need two cells
            zero = (z1.sum() + z2.sum()) * 0.0
            return LossOutput(loss=zero, n_obs_minibatch=n)
        p1, p2 = self.projector(torch.cat([z1, z2])).chunk(2)
        if self.method == "byol":
            q1, q2 = self.predictor(torch.cat([p1, p2])).chunk(2)
            with torch.no_grad():
                # both views as the online encoder read them (CSR views stay CSR)
                batch2, cat2, cont2 = _repeat_all(inference_outputs["covs"])
                h = self.encode(
                    inference_outputs["stacked_views"],
                    batch2,
                    cat2,
                    cont2,
                    self.target_weights("z_encoder"),
                )
                t1, t2 = functional_call(
                    self.projector, self.target_weights("projector"), (h,)
                ).chunk(2)
            loss = (byol_loss(q1, t2) + byol_loss(q2, t1)) / 2.0
            parts = {"loss": loss}
        else:
            parts = contrastive_objective(self.method, p1, p2, **self.objective_kwargs)
        extra = {f"{self.method}_{k}": v.detach() for k, v in parts.items() if k != "loss"}
        with torch.no_grad():
            extra["embedding_std"] = z1.std(dim=0).mean().detach()
        return LossOutput(loss=parts["loss"], n_obs_minibatch=n, extra_metrics=extra)

    @torch.no_grad()
    def update_target(self, step: int, total_steps: int) -> None:
        """EMA update of BYOL's target network (no-op for the other methods)."""
        if self.method != "byol" or not self.target_follows_online:
            return
        tau = byol_momentum(step, total_steps, self.base_momentum)
        for network in BYOL_ONLINE_NETWORKS:
            target, online = self.target_weights(network), getattr(self, network)
            for name, weight in online.named_parameters():
                target[name].mul_(tau).add_(weight.detach(), alpha=1.0 - tau)
            # batch-norm running statistics follow the online network
            for name, buffer in online.named_buffers():
                target[name].copy_(buffer)

    def sample(self, *args, **kwargs):  # noqa: D102
        raise NotImplementedError("ContrastiveModule is not a generative model; nothing to sample.")


def _repeat(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """Stack a covariate twice, matching two views concatenated along the cells."""
    return None if tensor is None else torch.cat([tensor, tensor])


Covariates = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]


def _repeat_all(covs: Covariates) -> Covariates:
    """Batch, categorical and continuous covariates, each stacked twice."""
    batch, cat, cont = covs
    return _repeat(batch), _repeat(cat), _repeat(cont)

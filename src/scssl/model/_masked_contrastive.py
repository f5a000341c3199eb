"""MaskedContrastive: masked reconstruction plus a contrastive term between two masked views."""

from __future__ import annotations

from anndata import AnnData
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from scssl._options import LossOn, ReconstructionKind, SymmetricContrastiveMethod
from scssl.module import MaskedContrastiveModule

from ._base import ScsslModelMixin
from ._mudata import MuDataSetupMixin
from ._query import QueryMappingMixin


class MaskedContrastive(
    QueryMappingMixin, MuDataSetupMixin, ScsslModelMixin, UnsupervisedTrainingMixin, BaseModelClass
):
    """Masked autoencoder with an added joint-embedding (contrastive) term.

    For each cell two random masks are drawn. The first masked view is decoded
    and the hidden genes reconstructed (as in :class:`~scssl.model.MaskedAE`); the
    projections of the two masked views are pulled together by a SimCLR, Barlow
    Twins or VICReg loss with weight ``contrastive_weight``. Reconstruction and
    invariance are thus learned together; embeddings come from the encoder on
    unmasked cells.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    n_latent, n_hidden, n_layers, dropout_rate
        Encoder (and decoder) architecture.
    mask_ratio
        Fraction of genes hidden per cell and view.
    mask_value
        Value written into hidden entries of the log-normalised input.
    loss_on
        ``"masked"``: reconstruction loss on hidden genes only; ``"all"``.
    reconstruction
        ``"mse"`` on log-normalised values or ``"nb"`` on counts.
    encode_covariates
        Also feed batch and categorical covariates to the encoder.
    contrastive_method
        ``"simclr"``, ``"barlow_twins"`` or ``"vicreg"``.
    contrastive_weight
        Weight of the contrastive term (0: plain masked autoencoder).
    temperature, off_diagonal_weight, invariance_weight, variance_weight, covariance_weight
        Objective settings (see :class:`~scssl.model.Contrastive`).
    projector_hidden, projector_output
        Projector head sizes (training only).
    **module_kwargs
        Further arguments of :class:`~scssl.module.MaskedContrastiveModule`.

    Examples
    --------
    >>> import scssl
    >>> adata = scssl.data.pbmc68k_counts()
    >>> scssl.model.MaskedContrastive.setup_anndata(adata, layer="counts")
    >>> model = scssl.model.MaskedContrastive(adata, contrastive_weight=0.1)
    >>> model.train(max_epochs=20)
    >>> adata.obsm["X_scssl_hybrid"] = model.get_latent_representation()
    """

    _module_cls = MaskedContrastiveModule
    _reads_sparse_minibatches = True

    def __init__(
        self,
        adata: AnnData,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        mask_ratio: float = 0.5,
        mask_value: float = 0.0,
        loss_on: LossOn = "masked",
        reconstruction: ReconstructionKind = "mse",
        encode_covariates: bool = False,
        contrastive_method: SymmetricContrastiveMethod = "vicreg",
        contrastive_weight: float = 0.1,
        temperature: float = 0.1,
        off_diagonal_weight: float = 5e-3,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
        projector_hidden: int = 256,
        projector_output: int = 128,
        **module_kwargs,
    ):
        super().__init__(adata)
        self.module = self._module_cls(
            n_input=self.summary_stats.n_vars,
            **self._covariate_sizes(),
            n_latent=n_latent,
            n_hidden=n_hidden,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            mask_ratio=mask_ratio,
            mask_value=mask_value,
            loss_on=loss_on,
            reconstruction=reconstruction,
            encode_covariates=encode_covariates,
            contrastive_method=contrastive_method,
            contrastive_weight=contrastive_weight,
            temperature=temperature,
            off_diagonal_weight=off_diagonal_weight,
            invariance_weight=invariance_weight,
            variance_weight=variance_weight,
            covariance_weight=covariance_weight,
            projector_hidden=projector_hidden,
            projector_output=projector_output,
            **module_kwargs,
        )
        self._model_summary_string = (
            f"MaskedContrastive: n_latent={n_latent}, mask_ratio={mask_ratio}, "
            f"{contrastive_method} weight={contrastive_weight}"
        )
        self.init_params_ = self._get_init_params(locals())

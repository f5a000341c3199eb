"""Reusable network pieces: encoders, decoders, masking strategies, losses."""

from ._augmentation_pipeline import (
    AugmentationPipeline,
    AugmentationSettings,
    NeighbourView,
    build_augmentations,
    draw_partner,
)
from ._augmentations import (
    Augmentation,
    BinomialThinning,
    Crossover,
    GaussianNoise,
    GeneSwap,
    NegativeBinomialNoise,
    RandomGeneMasking,
)
from ._contrastive_losses import (
    barlow_twins_loss,
    byol_loss,
    byol_momentum,
    contrastive_objective,
    nt_xent_loss,
    vicreg_loss,
)
from ._domain import GradientReversal, cluster_consistency_loss, mmd_rbf
from ._heads import MLPHead
from ._losses import full_precision, masked_mean, mse_per_entry, nb_negative_log_likelihood
from ._masking import MaskDraw, MaskingStrategy, RandomMasking, SparseMaskDraw
from ._networks import DeterministicEncoder, ExpressionDecoder, normalize_counts
from ._programme_masking import (
    MASKING_STRATEGIES,
    GeneProgrammeMasking,
    IsolatedProgrammeMasking,
    ProgrammeMaskDraw,
    ProgrammeToTFMasking,
)
from ._sparse import (
    csr_column_positions,
    csr_columns_dense,
    csr_keep,
    csr_like,
    csr_rows,
    csr_stack,
    fc_layers_forward,
    is_sparse_csr,
    normalize_sparse_counts,
    row_sums,
    sparse_linear,
)

__all__ = [
    "GradientReversal",
    "cluster_consistency_loss",
    "mmd_rbf",
    "GeneProgrammeMasking",
    "IsolatedProgrammeMasking",
    "MASKING_STRATEGIES",
    "ProgrammeMaskDraw",
    "ProgrammeToTFMasking",
    "DeterministicEncoder",
    "ExpressionDecoder",
    "MaskDraw",
    "MaskingStrategy",
    "RandomMasking",
    "SparseMaskDraw",
    "full_precision",
    "masked_mean",
    "mse_per_entry",
    "nb_negative_log_likelihood",
    "normalize_counts",
    "Augmentation",
    "AugmentationPipeline",
    "BinomialThinning",
    "Crossover",
    "GaussianNoise",
    "GeneSwap",
    "NeighbourView",
    "NegativeBinomialNoise",
    "RandomGeneMasking",
    "build_augmentations",
    "draw_partner",
    "AugmentationSettings",
    "barlow_twins_loss",
    "byol_loss",
    "byol_momentum",
    "contrastive_objective",
    "nt_xent_loss",
    "vicreg_loss",
    "MLPHead",
    "csr_column_positions",
    "csr_columns_dense",
    "csr_keep",
    "csr_like",
    "csr_rows",
    "csr_stack",
    "fc_layers_forward",
    "is_sparse_csr",
    "normalize_sparse_counts",
    "row_sums",
    "sparse_linear",
]

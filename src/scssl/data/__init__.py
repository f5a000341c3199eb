"""Data helpers: input checks, example datasets, gene programmes."""

from ._datamodule import CollectionDataModule
from ._datasets import (
    baron_pancreas,
    cite_pbmc,
    data_dir,
    human_mouse_orthologues,
    mouse_pancreas,
    pbmc68k_counts,
    pbmc_3tech,
)
from ._drug_response import (
    average_duplicates,
    binarize_ln_ic50,
    entrez_to_symbol,
    gdsc_bulk_expression,
    gdsc_ln_ic50,
    ln_ic50_threshold,
    pc9_erlotinib,
    ssda4drug_target,
)
from ._drug_response_build import build_drug_response_adata, smooth_cells, zscore_rows
from ._few_shot import sample_per_label
from ._gene_map import GeneMapLike, GeneMapping, map_gene_names, read_gene_map
from ._gene_programmes import GeneProgrammes, as_programmes
from ._gene_sets import read_gmt, read_regulons, read_tf_list, tf_candidates
from ._genes import DEFAULT_N_TOP_GENES, describe_gene_selection, highly_variable_genes
from ._minibatch_sampling import (
    GroupedBatchSampler,
    MinibatchSampling,
    check_datamodule_sampling,
)
from ._normalize import log_normalize
from ._samplers import Block, BlockShuffleSampler, make_blocks
from ._soma import soma_schema_anndata
from ._sparse_loading import SparseDataSplitter, csr_tensor, is_csr_matrix
from ._store import AnnDataCollection
from ._store_genes import GeneAlignment, read_gene_list
from ._validation import (
    check_count_values,
    check_obs_columns,
    check_raw_counts,
    check_unique_names,
    get_matrix,
)

__all__ = [
    "average_duplicates",
    "binarize_ln_ic50",
    "build_drug_response_adata",
    "entrez_to_symbol",
    "gdsc_bulk_expression",
    "gdsc_ln_ic50",
    "ln_ic50_threshold",
    "pc9_erlotinib",
    "smooth_cells",
    "ssda4drug_target",
    "zscore_rows",
    "GeneProgrammes",
    "as_programmes",
    "read_gmt",
    "read_regulons",
    "read_tf_list",
    "tf_candidates",
    "baron_pancreas",
    "cite_pbmc",
    "check_count_values",
    "check_obs_columns",
    "check_unique_names",
    "check_raw_counts",
    "log_normalize",
    "data_dir",
    "get_matrix",
    "pbmc68k_counts",
    "pbmc_3tech",
    "mouse_pancreas",
    "human_mouse_orthologues",
    "SparseDataSplitter",
    "soma_schema_anndata",
    "DEFAULT_N_TOP_GENES",
    "highly_variable_genes",
    "describe_gene_selection",
    "AnnDataCollection",
    "Block",
    "BlockShuffleSampler",
    "GroupedBatchSampler",
    "MinibatchSampling",
    "check_datamodule_sampling",
    "CollectionDataModule",
    "GeneAlignment",
    "make_blocks",
    "read_gene_list",
    "csr_tensor",
    "is_csr_matrix",
    "GeneMapLike",
    "GeneMapping",
    "map_gene_names",
    "read_gene_map",
    "sample_per_label",
]

"""Names shared across scssl: registry keys of the fields it adds, and the AnnData keys it writes.

scvi-tools' own registry keys stay in :data:`scvi.REGISTRY_KEYS`; the ones here are
the fields scssl models register on top, and the default ``.obs`` / ``.obsm`` /
``.uns`` keys its functions write. Defined once so that a model, its module and the
tools that read their output cannot disagree on a spelling.
"""

from __future__ import annotations

from typing import NamedTuple


class _RegistryKeys(NamedTuple):
    # contrastive partners (positions of other cells) travelling in minibatches
    MNN_PARTNER_KEY: str = "mnn_partner"
    KNN_PARTNERS_KEY: str = "knn_partners"
    # DrugResponseTransfer's two-domain fields
    DOMAIN_KEY: str = "domain"
    RESPONSE_KEY: str = "response"
    CLUSTER_KEY: str = "cluster"


class _ObsColumns(NamedTuple):
    # derived columns DrugResponseTransfer.setup_anndata writes to adata.obs
    DOMAIN: str = "_scssl_domain"
    RESPONSE: str = "_scssl_response"
    CLUSTER: str = "_scssl_cluster"


class _OutputKeys(NamedTuple):
    MASKED_AE: str = "X_scssl_mae"  # tl.masked_ae embedding
    CONTRASTIVE_PREFIX: str = "X_scssl_"  # tl.contrastive embedding, + method name
    REFERENCE: str = "X_scssl"  # embedding of mapped query cells (tl.map_query)
    PCA_BASELINE: str = "X_pca_baseline"
    BENCHMARK_PREFIX: str = "X_scssl_benchmark_"  # scssl.benchmark, + "<method>_<seed>"
    MNN_PARTNER: str = "scssl_mnn_partner"  # tl.mnn_pairs (.obs)
    KNN_PARTNERS: str = "scssl_knn_partners"  # tl.knn_pairs (.obsm)
    QUERY_GENES: str = "scssl_query_genes"  # prepare_query_anndata's overlap (.uns)
    DRUG_RESPONSE: str = "drug_response"  # DrugResponseTransfer.predict (.obs prefix, .uns)
    UNCERTAINTY_SUFFIX: str = "_uncertainty"  # tl.transfer_labels
    TRANSFERRED_SUFFIX: str = "_transferred"  # tl.transfer_labels


SCSSL_REGISTRY_KEYS = _RegistryKeys()
OBS_COLUMNS = _ObsColumns()
OUTPUT_KEYS = _OutputKeys()

#: ``setup_anndata`` arguments that name an ``.obsm`` entry (other ``*_key(s)`` name ``.obs``)
OBSM_SETUP_ARGUMENTS = frozenset({"knn_key", "protein_expression_obsm_key"})

# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # Tutorial 10: mapping mouse cells onto a human reference
#
# A reference of one species, a query of another: the genes differ in name, and only
# one-to-one orthologues carry over. `prepare_query_anndata(..., gene_map=...)` renames
# the query's genes through a 1:1 orthologue table (pairs that are not one-to-one are
# dropped and reported), then maps the query as for a new donor. Here the reference is
# Baron's human pancreas, the query the mouse pancreas endocrinogenesis data set, and
# the mouse cell types are used only to score the transferred labels.
#
# This is the hardest transfer in the project: in `benchmarks/results/cross_species.md`
# (3 seeds) scssl's mapping reached a macro-F1 of 0.370 over the five shared types,
# scANVI's 0.465 and a joint PCA of both species 0.579. The target (scssl at least
# scANVI) is not met; the tutorial shows the workflow and where it fails. Needs the
# shared data folder. A few minutes on 2 CPU cores.

# %%
import pandas as pd
from _settings import EPOCHS, OUT

import scssl

orthologues = scssl.data.human_mouse_orthologues()  # a CSV of 1:1 human-mouse pairs
human = scssl.data.baron_pancreas()
mouse = scssl.data.mouse_pancreas()
renamed, report = scssl.data.map_gene_names(mouse.var_names, orthologues)
print(report.describe())
shared = [gene for gene in human.var_names if gene in set(renamed)]
reference = human[:, shared].copy()  # the reference in the orthologue space
query = mouse.copy()
truth = query.obs["cell_type_inferred"].astype(str).to_numpy()
query.obs = query.obs[[]].assign(donor="mouse")  # the mouse labels are hidden from here on
print(f"reference: {reference.n_obs} human cells x {reference.n_vars} orthologous genes")

# %% [markdown]
# ## The reference, and the mapped query
#
# The reference encoder sees the donor (`encode_covariates=True`), so the query's new
# "donor" (here a species) gets parameters of its own in `load_query_data`, while
# every reference weight stays fixed.

# %%
scssl.model.MaskedAE.setup_anndata(reference, batch_key="donor")
model = scssl.model.MaskedAE(reference, encode_covariates=True)
model.train(max_epochs=EPOCHS)
reference.obsm["X_mae"] = model.get_latent_representation()

scssl.model.MaskedAE.prepare_query_anndata(query, model, gene_map=orthologues)
mapped = scssl.model.MaskedAE.load_query_data(query, model)
mapped.train(max_epochs=EPOCHS or 20)
query.obsm["X_mae"] = mapped.get_latent_representation()
print(query.uns["scssl_query_genes"]["fraction"], "of the reference genes found in the query")

# %% [markdown]
# ## Transfer labels and compare with the mouse annotation
#
# Rows: the mouse annotation; columns: the human label transferred by kNN. Alpha,
# beta, delta, epsilon and ductal cells exist in both; the mouse progenitor stages
# (Ngn3 low / high EP, Pre-endocrine) have no counterpart in the adult human
# reference, so whatever they receive is the nearest adult type.

# %%
scssl.tl.transfer_labels(
    reference, query, use_rep="X_mae", labels_key="cell_type1", key_added="human_label"
)
table = pd.crosstab(
    truth, query.obs["human_label"].to_numpy(), rownames=["mouse"], colnames=["human"]
)
print(table)
shared_types = {"Alpha": "alpha", "Beta": "beta", "Delta": "delta", "Ductal": "ductal"}
for mouse_type, human_type in shared_types.items():
    cells = truth == mouse_type
    agree = (query.obs["human_label"].to_numpy()[cells] == human_type).mean()
    print(f"{mouse_type}: {agree:.0%} of {cells.sum()} cells labelled {human_type}")

# %%
query.obs["mouse cell type"] = truth
fig = scssl.pl.umap(
    query,
    use_rep="X_mae",
    color=["mouse cell type", "human_label"],
    save=OUT / "mouse_on_human.png",
)

# %% [markdown]
# In this run alpha and ductal cells carried over (95% and 98% of them given the
# matching human type), while most mouse beta cells were called alpha (38% beta) and no
# delta cell was called delta: the endocrine types are close to each other, and the
# reference model, trained on human cells alone, does not keep them apart in the mouse
# cells. The mouse progenitors went to the nearest adult types (ductal, stellate,
# alpha), as expected without a counterpart. A joint embedding of both species (joint
# PCA in the benchmark) did better, at the price of refitting on the reference each
# time a query arrives; scANVI's mapping also did better. Use the transferred labels
# across species as a first guess to check with markers, and
# prefer a joint embedding when the reference can be refitted.

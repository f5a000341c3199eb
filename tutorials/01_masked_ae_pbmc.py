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
# # Tutorial 1: a masked autoencoder on PBMCs
#
# Pretrain {class}`scssl.model.MaskedAE` on unlabelled cells, write its embedding and
# denoised expression into the AnnData, look at a UMAP, score the embedding against
# PCA with held-out cells, and save / reload the model. Runs anywhere: the data are
# scanpy's bundled `pbmc68k_reduced` PBMCs (700 cells), with their integer counts
# recovered exactly by {func}`scssl.data.pbmc68k_counts`. About a minute on 2 CPU cores.
#
# Open it as a notebook with jupytext (`jupytext --to notebook 01_masked_ae_pbmc.py`)
# or run it as a script from the `tutorials/` folder.

# %%
import numpy as np
import scanpy as sc
from _settings import EPOCHS, OUT

import scssl

adata = scssl.data.pbmc68k_counts()
print(adata)  # raw counts in .layers["counts"]; cell types in .obs["bulk_labels"]

# %% [markdown]
# ## Register the counts and train
#
# `setup_anndata` checks that the layer holds raw counts (non-negative integers) and
# refuses anything else before training starts. Training uses scvi-tools' trainer,
# with a progress bar; `max_epochs=None` picks a budget from the number of cells.

# %%
scssl.model.MaskedAE.setup_anndata(adata, layer="counts")
model = scssl.model.MaskedAE(adata)  # random masking of 50% of the genes per cell
print(model)
model.train(max_epochs=EPOCHS)
print(model.history["train_loss"].tail())

# %% [markdown]
# ## Results back into the AnnData
#
# The embedding is computed without masking, in eval mode, so it is deterministic. The
# decoder's output on unmasked cells is a denoised expression, on the scale of counts
# per `library_size` (not log).

# %%
adata.obsm["X_scssl_mae"] = model.get_latent_representation()
adata.layers["denoised"] = model.get_normalized_expression(return_numpy=True)
adata.obsm["X_pca"] = scssl.tl.pca_embedding(adata, layer="counts")  # the peer
fig = scssl.pl.umap(adata, use_rep="X_scssl_mae", color="bulk_labels", save=OUT / "mae_umap.png")

# %% [markdown]
# ## Denoised expression of marker genes
#
# A marker's observed count is zero in many cells of the very type that expresses it:
# a shallow sample of its mRNA caught none. The denoised value is the model's
# reconstruction of the cell from all its genes, so it fills those zeros in from the
# rest of the profile. Below, the mean per cell type of known markers, observed
# (log-normalised counts) and denoised (`log1p` of the denoised layer), each gene
# scaled to [0, 1] across types.

# %%
markers = ["CD3E", "IL7R", "NKG7", "GNLY", "MS4A1", "CD79A", "LYZ", "S100A8", "FCGR3A", "CST3"]
observed = adata.copy()
observed.X = observed.layers["counts"].copy()
sc.pp.normalize_total(observed, target_sum=1e4)
sc.pp.log1p(observed)
adata.layers["log_observed"] = observed.X
adata.layers["log_denoised"] = np.log1p(adata.layers["denoised"])
for layer in ["log_observed", "log_denoised"]:
    sc.pl.matrixplot(
        adata,
        markers,
        groupby="bulk_labels",
        layer=layer,
        standard_scale="var",
        title=layer,
        show=False,
    )
b_cells = (adata.obs["bulk_labels"] == "CD19+ B").to_numpy()
counts = adata[b_cells, "MS4A1"].layers["counts"]
counts = np.asarray(counts.toarray() if hasattr(counts, "toarray") else counts).ravel()
print(f"MS4A1 in B cells: {np.mean(counts == 0):.0%} of the cells have a zero count")

# %% [markdown]
# ## Is the embedding any good? Held-out cells only
#
# {func}`scssl.metrics.knn_cross_validation` transfers labels by kNN (k = 15) from four
# folds of the cells to the fifth, in turn; no cell is scored by a classifier that saw
# its label. PCA on the same cells is the reference point.

# %%
labels = adata.obs["bulk_labels"].to_numpy()
for key in ["X_scssl_mae", "X_pca"]:
    score = scssl.metrics.knn_cross_validation(adata.obsm[key], labels)
    print(f"{key}: 5-fold kNN macro-F1 {score['macro_f1']:.3f}")

# %% [markdown]
# ## Save and reload
#
# The folder holds the weights, the constructor arguments and the AnnData setup; the
# reloaded model gives the same embedding.

# %%
model.save(OUT / "mae_pbmc", overwrite=True)
reloaded = scssl.model.MaskedAE.load(str(OUT / "mae_pbmc"), adata=adata)
assert np.allclose(reloaded.get_latent_representation(), adata.obsm["X_scssl_mae"], atol=1e-5)

# %% [markdown]
# The same in one scanpy-style call, which writes `.obsm["X_scssl_mae"]` and
# `.uns["scssl_mae"]["params"]` and nothing else:
#
# ```python
# scssl.tl.masked_ae(adata, layer="counts")
# ```

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
# decoder's output on unmasked cells is a denoised expression (log-normalised scale).

# %%
adata.obsm["X_scssl_mae"] = model.get_latent_representation()
adata.layers["denoised"] = model.get_normalized_expression(return_numpy=True)
adata.obsm["X_pca"] = scssl.tl.pca_embedding(adata, layer="counts")  # the peer
fig = scssl.pl.umap(adata, use_rep="X_scssl_mae", color="bulk_labels", save=OUT / "mae_umap.png")

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

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
# # Tutorial 8: pretrain once from files on disk, map new studies onto it
#
# An atlas does not fit in memory, and it is trained once and reused by many. scssl
# trains from `.h5ad` files read backed ({func}`scssl.tl.pretrain`, or
# `scssl pretrain` on the command line): the files are read as one collection in
# shuffled blocks, never loaded whole, and the result is a *reference folder* (model,
# checkpoints, the reference cells' embedding and labels, a manifest with the genes and
# the throughput). {func}`scssl.tl.map_query` (`scssl map`) then maps a new study onto
# it and transfers labels with an uncertainty per cell.
#
# Here the "atlas" is three donors of Baron's pancreas written as three files, and the
# new study the fourth donor; the same calls take files of millions of cells. Needs the
# shared data folder. A few minutes on 2 CPU cores.

# %%
import resource

import numpy as np
import scipy.sparse as sp
from _settings import EPOCHS, OUT

import scssl

baron = scssl.data.baron_pancreas()
baron.X = sp.csr_matrix(baron.X)  # raw counts, CSR: what the on-disk reader expects
files = []
for donor in ["human1", "human2", "human3"]:
    path = OUT / f"atlas_{donor}.h5ad"
    baron[baron.obs["donor"] == donor].copy().write_h5ad(path)
    files.append(path)
new_study = baron[baron.obs["donor"] == "human4"].copy()
truth = new_study.obs["cell_type1"].to_numpy()
new_study.obs["cell_type1"] = "Unknown"  # its labels are hidden from here on
print([path.name for path in files], new_study.n_obs, "cells in the new study")

# %% [markdown]
# ## Pretrain from the files
#
# The 2000 genes are chosen from a sample of blocks read from the files
# (`n_top_genes`, batch-aware with `batch_key`); training reads minibatches of CSR
# rows, and the log shows cells/s and the time left. `encode_covariates=True` gives the
# donor to the encoder, so that mapping a new donor can correct its batch effect. A
# checkpoint is written every `checkpoint_every_n_steps`; `resume_from="latest"`
# continues an interrupted run.

# %%
reference = OUT / "pancreas_reference"
scssl.tl.pretrain(
    files,
    reference,
    batch_key="donor",
    model_kwargs={"encode_covariates": True},  # the encoder sees the donor: query mapping adapts
    max_epochs=EPOCHS,
    overwrite=True,
    enable_progress_bar=False,
)
manifest = scssl.tl.read_reference(reference)
print({key: manifest[key] for key in ("n_cells", "train_seconds", "train_cells_per_second")})
peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"peak resident memory of this Python process so far: {peak_gib:.2f} GiB")

# %% [markdown]
# The memory figure covers everything this notebook did, the in-memory copy of Baron
# used to write the files included; `benchmarks/results/scale_memory.md` measures the
# training alone at 1e5 and 1e6 cells, where it stays flat while the dense in-memory
# path grows with the data.
#
# ## Map the new study and transfer labels
#
# The query is aligned to the reference genes, the reference model is extended to the
# new donor with its weights frozen and trained briefly on the query, then every query
# cell gets the majority label of its 15 nearest reference cells and the share that
# disagree.

# %%
mapped = scssl.tl.map_query(reference, new_study, labels_key="cell_type1", max_epochs=EPOCHS or 20)
predicted = mapped.obs["cell_type1_transferred"].to_numpy()
report = scssl.metrics.classification_report(truth, predicted)
print(f"label transfer to the new donor: macro-F1 {report.macro_f1:.3f}")
uncertain = mapped.obs["cell_type1_transferred_uncertainty"].to_numpy() > 0.5
print(
    f"{uncertain.mean():.1%} of the cells have an uncertainty above 0.5; "
    f"accuracy there {np.mean(predicted[uncertain] == truth[uncertain]):.2f}, "
    f"elsewhere {np.mean(predicted[~uncertain] == truth[~uncertain]):.2f}"
)

# %%
mapped.obs["true cell type"] = truth
fig = scssl.pl.umap(
    mapped,
    use_rep="X_scssl",
    color=["cell_type1_transferred", "cell_type1_transferred_uncertainty"],
    save=OUT / "mapped_umap.png",
)

# %% [markdown]
# The uncertainty is where to look first: cells whose neighbours disagree are the ones
# most often mislabelled. On the command line the same workflow is
#
# ```bash
# scssl pretrain --input atlas_*.h5ad --model masked_ae --batch-key donor --output ref/
# scssl map --reference ref/ --query new.h5ad --labels-key cell_type1 --output mapped.h5ad
# ```

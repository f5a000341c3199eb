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
# # Tutorial 4: which method suits my data?
#
# Published benchmarks of single-cell self-supervised learning disagree, because the
# best method depends on the data and on the task (cell typing, batch mixing,
# reconstruction). {func}`scssl.benchmark` answers the question on *your* AnnData: it
# trains each method with several seeds on the same cells and genes, scores every
# embedding the same way and ranks the methods. Here on Baron's human pancreas (2142
# cells, four donors, 14 cell types). Needs the shared data folder
# (`$SCSSL_DATA_DIR`, default `../shared/data`). With every method at its default
# budget this takes about half an hour on 2 CPU cores; `time_budget=` shortens it.

# %%
from _settings import EPOCHS, OUT

import scssl

adata = scssl.data.baron_pancreas()  # raw counts in .X; obs: donor, cell_type1

# %% [markdown]
# ## One call
#
# The methods are MaskedAE, the four contrastive objectives, PCA and scVI, each with
# its defaults and the donor as batch covariate. Every method sees the 2000
# donor-aware highly variable genes. Label transfer is scored leave-one-donor-out
# (each donor in turn is the query), so the score says how well cell types carry
# over to a donor the reference never contained. The scib-metrics scores add
# bio conservation and batch mixing; their weighted total (0.6 bio + 0.4 batch)
# ranks the methods.
#
# `time_budget` (seconds of training for the whole call) is split equally among the
# trained runs; each stops at the end of the epoch after which the next would
# overrun its share. The tutorial's fast mode (`SCSSL_TUTORIAL_EPOCHS`) caps every
# model's epochs instead.

# %%
methods = ["masked_ae", "simclr", "vicreg", "byol", "barlow_twins", "pca", "scvi"]
if EPOCHS is not None:  # the test suite's fast mode
    methods = {m: ({} if m == "pca" else {"max_epochs": EPOCHS}) for m in methods}
result = scssl.benchmark(
    adata,
    batch_key="donor",
    labels_key="cell_type1",
    methods=methods,
    seeds=[0, 1] if EPOCHS is None else [0],
    time_budget=900 if EPOCHS is None else None,
)

# %% [markdown]
# ## The ranking
#
# `summary()` holds the mean over seeds of every metric, best aggregate first;
# `table()` the headline metrics as `mean ± sd`. `result.notes` says what was
# skipped or cut short (cell types found in one donor only, which no embedding can
# transfer; runs stopped by the time budget).

# %%
print(result.table().to_string())
for note in result.notes:
    print("-", note)

# %% [markdown]
# ## Figures
#
# One panel per metric group, with the spread over seeds, and the results table in
# the style of scib-metrics (each column shaded from its worst to its best value).
# Look at more than the total: a method that mixes donors well but scores low on
# label transfer has merged cell types.

# %%
scssl.pl.benchmark(result, save=OUT / "benchmark.png")
scssl.pl.benchmark_table(result, save=OUT / "benchmark_table.png")

# %% [markdown]
# ## Keep the evidence
#
# `write` stores the tidy scores (method, seed, metric, value), the runs with their
# epochs and times, a markdown summary and the settings with package versions. The
# command line does the same in one line:
#
# ```bash
# scssl benchmark --input my.h5ad --batch-key donor --labels-key cell_type --output report/
# ```

# %%
paths = result.write(OUT / "benchmark_report")
print(sorted(p.name for p in paths.values()))

#!/usr/bin/env bash
# Execute the tutorial notebooks in place, so that their outputs (printed results,
# figures) can be committed and rendered in the docs (which never train a model).
#   bash scripts/notebooks.sh                                   # every notebook
#   SCSSL_TUTORIAL_EPOCHS=5 bash scripts/notebooks.sh tutorials/01_masked_ae_pbmc.ipynb
# Budgets: each model's own default, except where REDUCED below caps the epochs (a
# tutorial whose full run takes over ten minutes on 2 cores); SCSSL_TUTORIAL_EPOCHS, when
# set, caps every notebook. The percent scripts are synced into the notebooks first.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SCSSL_VENV:-.venv}"
declare -A REDUCED=([04_choose_a_method]=20)
if [ "$#" -eq 0 ]; then set -- tutorials/[0-9][0-9]_*.ipynb; fi
"$VENV/bin/jupytext" --sync tutorials/[0-9][0-9]_*.py
for notebook in "$@"; do
  name="$(basename "$notebook" .ipynb)"
  epochs="${SCSSL_TUTORIAL_EPOCHS:-${REDUCED[$name]:-}}"
  echo "executing $notebook (epochs: ${epochs:-the models own defaults})"
  SCSSL_TUTORIAL_EPOCHS="$epochs" "$VENV/bin/python" scripts/_execute_notebook.py "$notebook"
done

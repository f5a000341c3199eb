#!/usr/bin/env bash
# The documentation: sphinx HTML into docs/_build/html, warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/_env.sh
VENV="${SCSSL_VENV:-.venv}"
"$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[docs]"
# autosummary pages are regenerated from docs/api.md each build (stale ones would warn)
rm -rf docs/generated
# the executed tutorial notebooks live in tutorials/; sphinx reads them from docs/notebooks
rm -rf docs/notebooks && mkdir -p docs/notebooks && cp tutorials/[0-9][0-9]_*.ipynb docs/notebooks/
exec "$VENV/bin/sphinx-build" -b html -W --keep-going docs docs/_build/html "$@"

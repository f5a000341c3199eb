#!/usr/bin/env bash
# The test suite: lint (ruff, incl. the ban on private scvi modules outside _compat.py),
# format check, type check, then pytest (real data from $SCSSL_DATA_DIR, default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/_env.sh
VENV="${SCSSL_VENV:-.venv}"
"$VENV/bin/ruff" check src tests benchmarks tutorials
"$VENV/bin/ruff" format --check src tests benchmarks tutorials
"$VENV/bin/mypy"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"

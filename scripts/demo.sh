#!/usr/bin/env bash
# The demo: train MaskedAE on scanpy's bundled PBMCs, compare with PCA; writes ./scssl_demo/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/_env.sh
VENV="${SCSSL_VENV:-.venv}"
exec "$VENV/bin/scssl" demo --output "${1:-scssl_demo}"

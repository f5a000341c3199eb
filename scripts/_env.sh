#!/usr/bin/env bash
# Create .venv (if missing) and install scssl with its test extras.
# Every package, torch included, is pinned through constraints.txt (scripts/lock.sh writes
# it): pip never pulls a multi-GB CUDA build, and installs reproduce.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SCSSL_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
stamp="$VENV/.scssl-installed"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# reinstall when the dependency declarations changed since the last install
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt "torch==2.13.0"
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[test]"
  touch "$stamp"
fi

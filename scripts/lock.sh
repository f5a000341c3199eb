#!/usr/bin/env bash
# Rewrite constraints.txt from the packages installed in .venv, so that every later
# install of the project's own environment (tests, CI, benchmarks) gets the same versions.
# Run it after `bash scripts/test.sh` passed in that .venv; commit the result.
# The local tag of torch is dropped: "torch==2.13.0" matches the CPU wheel on disk.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SCSSL_VENV:-.venv}"
{
  echo "# Exact versions of the project's own environment (written by scripts/lock.sh from a"
  echo "# .venv in which scripts/test.sh passed; Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'), Linux x86_64)."
  echo "# Used as pip constraints by scripts/_env.sh, so benchmark results reproduce across"
  echo "# installs; users installing scssl get the ranges of pyproject.toml instead."
  "$VENV/bin/python" -m pip freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/'
} > constraints.txt

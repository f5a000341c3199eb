"""scssl: self-supervised learning for single-cell RNA-seq on top of scvi-tools."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scssl")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

logger = logging.getLogger("scssl")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(levelname)s [scssl] %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

from . import data, metrics, model, module, nn, pl, tl  # noqa: E402
from .tl import BenchmarkResult, benchmark  # noqa: E402  (the one-call method comparison)

__all__ = [
    "BenchmarkResult",
    "benchmark",
    "data",
    "metrics",
    "model",
    "module",
    "nn",
    "pl",
    "tl",
    "logger",
    "__version__",
]

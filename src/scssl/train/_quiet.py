"""Quiet training: Lightning's banners and tips are hidden unless asked for."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

#: the loggers whose INFO messages repeat at every ``train`` call (device banners, tips)
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning")


@contextmanager
def quiet_lightning(verbose: bool = False) -> Iterator[None]:
    """Raise Lightning's loggers to WARNING inside the block (unless ``verbose``).

    Warnings and errors still show; the progress bar is not a log message and stays.

    Examples
    --------
    >>> import logging
    >>> with quiet_lightning():
    ...     logging.getLogger("lightning.pytorch").getEffectiveLevel() >= logging.WARNING
    True
    """
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(max(log.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)

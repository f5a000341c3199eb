"""Training callbacks: throughput and ETA for long runs, checkpoints, a time budget."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
from lightning.pytorch.callbacks import Callback
from scvi import REGISTRY_KEYS

logger = logging.getLogger("scssl")


class ThroughputProgress(Callback):
    """Log cells/s, the step count and the estimated time left every ``every_n_steps`` steps.

    Written to the ``scssl`` logger (standard error), so that a command's standard
    output stays clean.

    Examples
    --------
    >>> from scssl.train import ThroughputProgress
    >>> ThroughputProgress(every_n_steps=100).every_n_steps
    100
    """

    def __init__(self, every_n_steps: int = 50):
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be at least 1, got {every_n_steps}")
        self.every_n_steps = int(every_n_steps)
        self.cells = 0
        self.start = None
        self.cells_per_second = float("nan")

    def on_train_start(self, trainer, pl_module):  # noqa: D102
        self.start, self.cells = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):  # noqa: D102
        self.cells += int(batch[REGISTRY_KEYS.X_KEY].shape[0])
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        elapsed = time.perf_counter() - self.start
        self.cells_per_second = self.cells / max(elapsed, 1e-9)
        total = trainer.estimated_stepping_batches
        eta = elapsed / max(step, 1) * max(total - step, 0)
        logger.info(
            "step %d/%d, epoch %d: %.0f cells/s, %.0f s elapsed, ETA %.0f s",
            step,
            total,
            trainer.current_epoch,
            self.cells_per_second,
            elapsed,
            eta,
        )

    def on_train_epoch_end(self, trainer, pl_module):  # noqa: D102
        elapsed = time.perf_counter() - self.start
        logger.info(
            "epoch %d/%d done: %.0f cells/s, %.0f s elapsed",
            trainer.current_epoch + 1,
            trainer.max_epochs,
            self.cells / max(elapsed, 1e-9),
            elapsed,
        )

    def on_train_end(self, trainer, pl_module):  # noqa: D102
        self.cells_per_second = self.cells / max(time.perf_counter() - self.start, 1e-9)


class PeriodicCheckpoint(Callback):
    """Write a Lightning checkpoint (weights, optimiser and loop state) every ``every_n_steps``.

    Files are ``<dirpath>/step<N>.ckpt``; Lightning resumes from one with
    ``ckpt_path=``. Only the global-zero process writes under DDP (Lightning's rule).

    Examples
    --------
    >>> from scssl.train import PeriodicCheckpoint
    >>> PeriodicCheckpoint("checkpoints", every_n_steps=500).every_n_steps
    500
    """

    def __init__(self, dirpath: str | Path, every_n_steps: int = 1000):
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be at least 1, got {every_n_steps}")
        self.dirpath = str(dirpath)
        self.every_n_steps = int(every_n_steps)
        self.paths: list[str] = []

    # the model's history lives in scvi-tools' logger, not in Lightning's checkpoint: it
    # travels in the checkpoint as plain lists, so a resumed run's history is whole
    def on_save_checkpoint(self, trainer, pl_module, checkpoint):  # noqa: D102
        history = _logged_history(trainer)
        if history is not None:
            checkpoint["scssl_history"] = {
                name: {
                    "index": [int(i) for i in frame.index],
                    "index_name": frame.index.name,
                    "values": [float(v) for v in frame[name]],
                }
                for name, frame in history.items()
            }

    def on_load_checkpoint(self, trainer, pl_module, checkpoint):  # noqa: D102
        history = _logged_history(trainer)
        if history is None:
            return
        for name, saved in checkpoint.get("scssl_history", {}).items():
            frame = pd.DataFrame({name: saved["values"]}, index=saved["index"], dtype=object)
            frame.index.name = saved["index_name"]
            history[name] = frame

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):  # noqa: D102
        step = trainer.global_step
        if step == 0 or step % self.every_n_steps:
            return
        path = f"{self.dirpath}/step{step}.ckpt"
        trainer.save_checkpoint(path)
        self.paths.append(path)


def _logged_history(trainer) -> dict | None:
    """scvi-tools' logged history (``{metric: DataFrame}``), or ``None`` for other loggers."""
    experiment = getattr(getattr(trainer, "logger", None), "experiment", None)
    data = getattr(experiment, "data", None)
    return data if isinstance(data, dict) else None


class EpochTimeBudget(Callback):
    """Stop training at the end of the epoch after which the next one would overrun ``seconds``.

    The next epoch's length is estimated as the mean of the epochs so far; at least
    one epoch always runs, and an epoch is never cut in the middle. After training,
    ``epochs_run`` holds the number of completed epochs, ``max_epochs`` the number
    planned and ``stopped`` whether the budget ended training before ``max_epochs``.

    Examples
    --------
    >>> from scssl.train import EpochTimeBudget
    >>> EpochTimeBudget(seconds=60).seconds
    60.0
    """

    def __init__(self, seconds: float):
        if not seconds > 0:
            raise ValueError(f"seconds must be positive, got {seconds}")
        self.seconds = float(seconds)
        self.start = 0.0
        self.epochs_run = 0
        self.max_epochs = 0
        self.stopped = False

    def on_train_start(self, trainer, pl_module):  # noqa: D102
        self.start, self.epochs_run, self.stopped = time.perf_counter(), 0, False
        self.max_epochs = int(trainer.max_epochs)

    def on_train_epoch_end(self, trainer, pl_module):  # noqa: D102
        self.epochs_run += 1
        elapsed = time.perf_counter() - self.start
        per_epoch = elapsed / self.epochs_run
        if self.epochs_run < trainer.max_epochs and elapsed + per_epoch > self.seconds:
            trainer.should_stop = True
            self.stopped = True

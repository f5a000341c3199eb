"""Training plans and callbacks, only where scvi-tools' own are not enough."""

from ._callbacks import EpochTimeBudget, PeriodicCheckpoint, ThroughputProgress
from ._plans import EMATrainingPlan, FineTuningPlan, SSLTrainingPlan
from ._quiet import quiet_lightning

__all__ = [
    "EMATrainingPlan",
    "EpochTimeBudget",
    "FineTuningPlan",
    "PeriodicCheckpoint",
    "SSLTrainingPlan",
    "ThroughputProgress",
    "quiet_lightning",
]

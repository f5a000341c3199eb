"""Training plans and callbacks, only where scvi-tools' own are not enough."""

from ._callbacks import PeriodicCheckpoint, ThroughputProgress
from ._plans import EMATrainingPlan, SSLTrainingPlan

__all__ = ["EMATrainingPlan", "PeriodicCheckpoint", "SSLTrainingPlan", "ThroughputProgress"]

"""Training plans and callbacks, only where scvi-tools' own are not enough."""

from ._ema import EMATrainingPlan

__all__ = ["EMATrainingPlan"]

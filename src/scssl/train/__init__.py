"""Training plans, only where scvi-tools' own are not enough."""

from ._plans import EMATrainingPlan, SSLTrainingPlan

__all__ = ["EMATrainingPlan", "SSLTrainingPlan"]

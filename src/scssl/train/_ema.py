"""Training plan that updates a target network by exponential moving average."""

from __future__ import annotations

from scvi.train import TrainingPlan


class EMATrainingPlan(TrainingPlan):
    """scvi-tools' :class:`~scvi.train.TrainingPlan` plus a target-network update.

    After every optimizer step it calls ``module.update_target(step, total_steps)``
    when the module defines it (BYOL's momentum encoder). The update runs on the
    module's device; nothing leaves it.

    Examples
    --------
    >>> from scssl.train import EMATrainingPlan
    >>> EMATrainingPlan.__mro__[1].__name__
    'TrainingPlan'
    """

    def on_train_batch_end(self, outputs, batch, batch_idx):  # noqa: D102
        super().on_train_batch_end(outputs, batch, batch_idx)
        update = getattr(self.module, "update_target", None)
        if update is None:
            return
        total = getattr(self.trainer, "estimated_stepping_batches", 0) or 0
        update(step=int(self.global_step), total_steps=int(total))

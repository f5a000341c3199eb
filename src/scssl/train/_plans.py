"""Training plans: scvi-tools' TrainingPlan with extra metrics that also log under DDP."""

from __future__ import annotations

import torch
from scvi.module.base import LossOutput
from scvi.train import TrainingPlan


class SSLTrainingPlan(TrainingPlan):
    """scvi-tools' :class:`~scvi.train.TrainingPlan`, with distributed-safe extra metrics.

    scvi-tools (1.4) logs a module's ``extra_metrics`` from inside
    ``torch.inference_mode()``, so Lightning's epoch accumulators for them become
    inference tensors; under DDP Lightning then averages them across processes in
    place, which torch refuses ("Inplace update to inference tensor outside
    InferenceMode"). This plan lets scvi log the loss and its ELBO metrics and logs
    the extra metrics itself, outside inference mode, with the same names
    (``<key>_train`` / ``<key>_validation``) and the same reduction.

    Examples
    --------
    >>> from scssl.train import SSLTrainingPlan
    >>> SSLTrainingPlan.__mro__[1].__name__
    'TrainingPlan'
    """

    def get_optimizer_creator(self):
        """Adam / AdamW as scvi-tools builds them, fused by torch where the device allows.

        Same update rule; on CPU the fused step is several times faster for the
        millions of first- and last-layer weights of an all-gene model.
        """
        if self.optimizer_name not in ("Adam", "AdamW"):
            return super().get_optimizer_creator()
        optimizer_cls = torch.optim.Adam if self.optimizer_name == "Adam" else torch.optim.AdamW

        def create(params):
            params = list(params)
            fused = all(p.device.type in ("cpu", "cuda") for p in params)
            return optimizer_cls(
                params, lr=self.lr, eps=self.eps, weight_decay=self.weight_decay, fused=fused
            )

        return create

    def compute_and_log_metrics(self, loss_output: LossOutput, metrics: dict, mode: str):  # noqa: D102
        extra = loss_output.extra_metrics
        held = dict(extra)
        extra.clear()  # scvi's logging below then skips them
        try:
            super().compute_and_log_metrics(loss_output, metrics, mode)
        finally:
            extra.update(held)
        for key, value in held.items():
            if isinstance(value, torch.Tensor):
                if value.dim() != 0:
                    continue  # as in scvi: only 0-d tensors are logged
                value = value.detach()
            self.log(
                f"{key}_{mode}",
                value,
                on_step=self.on_step,
                on_epoch=self.on_epoch,
                batch_size=loss_output.n_obs_minibatch,
                sync_dist=self.use_sync_dist,
            )


class EMATrainingPlan(SSLTrainingPlan):
    """:class:`SSLTrainingPlan` plus a target-network update.

    After every optimizer step it calls ``module.update_target(step, total_steps)``
    when the module defines it (BYOL's momentum encoder). The update runs on the
    module's device; nothing leaves it.

    Examples
    --------
    >>> from scssl.train import EMATrainingPlan
    >>> EMATrainingPlan.__mro__[1].__name__
    'SSLTrainingPlan'
    """

    def on_train_batch_end(self, outputs, batch, batch_idx):  # noqa: D102
        super().on_train_batch_end(outputs, batch, batch_idx)
        update = getattr(self.module, "update_target", None)
        if update is None:
            return
        total = getattr(self.trainer, "estimated_stepping_batches", 0) or 0
        update(step=int(self.global_step), total_steps=int(total))


class FineTuningPlan(SSLTrainingPlan):
    """:class:`SSLTrainingPlan` with a smaller learning rate for the encoder than for the head.

    Parameters named ``z_encoder.*`` learn at ``encoder_lr_ratio`` times ``lr``.

    Examples
    --------
    >>> from scssl.train import FineTuningPlan
    >>> FineTuningPlan.__mro__[1].__name__
    'SSLTrainingPlan'
    """

    def __init__(self, module, *, encoder_lr_ratio: float = 0.1, **kwargs):
        super().__init__(module, **kwargs)
        self.encoder_lr_ratio = encoder_lr_ratio

    def configure_optimizers(self):  # noqa: D102
        head, encoder = [], []
        for name, parameter in self.module.named_parameters():
            if parameter.requires_grad:
                (encoder if name.startswith("z_encoder.") else head).append(parameter)
        groups = [{"params": head, "lr": self.lr}]
        if encoder:
            groups.append({"params": encoder, "lr": self.lr * self.encoder_lr_ratio})
        optimizer = torch.optim.Adam(groups, eps=self.eps, weight_decay=self.weight_decay)
        return {"optimizer": optimizer}

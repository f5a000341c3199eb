"""Projector and predictor heads used during self-supervised training only.

Embeddings for downstream use come from the encoder; these heads map them into
the space where the joint-embedding objective is computed.
"""

from __future__ import annotations

from torch import nn


class MLPHead(nn.Module):
    """``Linear -> BatchNorm -> ReLU`` blocks followed by a linear output layer.

    Used as the projector (SimCLR, BYOL, Barlow Twins, VICReg) and as BYOL's
    predictor. Batch normalisation needs at least two cells per minibatch in
    training mode; the modules skip the objective for smaller minibatches.

    Parameters
    ----------
    n_input
        Input size (the encoder's embedding size).
    n_hidden
        Width of the hidden layers.
    n_output
        Output size.
    n_layers
        Number of hidden blocks (0 gives a single linear map).
    batch_norm
        Batch normalisation in the hidden blocks.

    Examples
    --------
    >>> import torch
    >>> MLPHead(16, 64, 8)(torch.randn(5, 16)).shape
    torch.Size([5, 8])
    """

    def __init__(
        self,
        n_input: int,
        n_hidden: int = 256,
        n_output: int = 128,
        n_layers: int = 1,
        batch_norm: bool = True,
    ):
        super().__init__()
        if min(n_input, n_hidden, n_output) < 1 or n_layers < 0:
            raise ValueError(
                f"head sizes must be positive and n_layers >= 0, got n_input={n_input}, "
                f"n_hidden={n_hidden}, n_output={n_output}, n_layers={n_layers}"
            )
        layers: list[nn.Module] = []
        width = n_input
        for _ in range(n_layers):
            layers.append(nn.Linear(width, n_hidden, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_hidden))
            layers.append(nn.ReLU())
            width = n_hidden
        layers.append(nn.Linear(width, n_output))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):  # noqa: D102
        return self.layers(x)

"""Fully connected heads: projectors, predictors, the classifier head, the response predictor.

Embeddings for downstream use come from the encoder; these heads map them into
the space where an objective is computed.
"""

from __future__ import annotations

from torch import nn


class MLPHead(nn.Module):
    """``Linear -> [BatchNorm] -> ReLU`` blocks followed by a linear output layer.

    Used as the projector (SimCLR, BYOL, Barlow Twins, VICReg), as BYOL's predictor,
    as the cell-type classification head and as the drug-response predictor. Batch
    normalisation needs at least two cells per minibatch in training mode; the
    modules skip the objective for smaller minibatches.

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
    dropout
        Dropout before the output layer.
    input_dropout
        Also apply ``dropout`` to the input (before the first hidden block; with
        ``n_layers=0`` the output layer is that block, and a single dropout is applied).

    Examples
    --------
    >>> import torch
    >>> MLPHead(16, 64, 8)(torch.randn(5, 16)).shape
    torch.Size([5, 8])
    >>> MLPHead(16, 64, 1, n_layers=0, batch_norm=False, dropout=0.2)
    MLPHead(
      (layers): Sequential(
        (0): Dropout(p=0.2, inplace=False)
        (1): Linear(in_features=16, out_features=1, bias=True)
      )
    )
    """

    def __init__(
        self,
        n_input: int,
        n_hidden: int = 256,
        n_output: int = 128,
        n_layers: int = 1,
        batch_norm: bool = True,
        dropout: float = 0.0,
        input_dropout: bool = False,
    ):
        super().__init__()
        if min(n_input, n_hidden, n_output) < 1 or n_layers < 0:
            raise ValueError(
                f"head sizes must be positive and n_layers >= 0, got n_input={n_input}, "
                f"n_hidden={n_hidden}, n_output={n_output}, n_layers={n_layers}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        if input_dropout and dropout > 0 and n_layers > 0:
            layers.append(nn.Dropout(dropout))
        width = n_input
        for _ in range(n_layers):
            layers.append(nn.Linear(width, n_hidden, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_hidden))
            layers.append(nn.ReLU())
            width = n_hidden
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, n_output))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):  # noqa: D102
        return self.layers(x)

"""Encoder and decoder built from scvi-tools' ``FCLayers``.

The attribute names ``encoder`` / ``decoder`` / ``fc_layers`` matter: scArches-style
freezing in scvi-tools finds parameters by these names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from scvi.nn import FCLayers
from torch import nn

from scssl._options import DecoderOutput, check_option

from ._sparse import fc_layers_forward, is_sparse_csr, normalize_sparse_counts


def normalize_counts(
    counts: torch.Tensor, target_sum: float = 1e4, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Library-size normalise and log1p-transform counts.

    Returns ``(log1p(counts / library * target_sum), library)`` with the library
    as a column vector. A CSR tensor stays CSR (only its stored entries change).

    Examples
    --------
    >>> import torch
    >>> x, lib = normalize_counts(torch.tensor([[1.0, 3.0]]), target_sum=4.0)
    >>> torch.allclose(x, torch.log1p(torch.tensor([[1.0, 3.0]])))
    True
    """
    if is_sparse_csr(counts):
        return normalize_sparse_counts(counts, target_sum, eps)
    library = counts.sum(dim=1, keepdim=True)
    return torch.log1p(counts / (library + eps) * target_sum), library


class GeneMajorLinear(nn.Linear):
    """``nn.Linear`` whose weight is stored gene-major: ``weight_t`` (in x out), contiguous.

    ``weight`` is its transpose, a view, so the layer computes exactly what
    ``nn.Linear`` does. The layout serves the sparse first layer: an embedding-bag over a
    CSR minibatch's stored genes reads and writes whole rows of ``weight_t``, where the
    usual out x in weight cost a transposed copy of the matrix every step, in the forward
    pass and again when its gradient was accumulated (on Baron's 20,125 genes, about a
    quarter of a sparse MaskedAE step). The state dict keeps ``nn.Linear``'s layout
    (``weight``, out x in), so model files and scArches' weight surgery are unchanged.

    Examples
    --------
    >>> import torch
    >>> dense = torch.nn.Linear(6, 3)
    >>> layer = GeneMajorLinear.from_linear(dense)
    >>> x = torch.randn(2, 6)
    >>> torch.allclose(layer(x), dense(x)), layer.weight_t.shape
    (True, torch.Size([6, 3]))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        nn.Module.__init__(self)  # nn.Linear.__init__ would register ``weight``
        self.in_features, self.out_features = in_features, out_features
        self.weight_t = nn.Parameter(torch.empty(in_features, out_features))
        self.register_parameter("bias", nn.Parameter(torch.empty(out_features)) if bias else None)
        self.reset_parameters()

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> GeneMajorLinear:
        """The same layer (same weights) in the gene-major layout.

        Draws no random numbers, so the layers built after it initialise as before.
        """
        with torch.random.fork_rng(devices=[]):
            layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            layer.weight_t.copy_(linear.weight.T)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    @property
    def weight(self) -> torch.Tensor:  # type: ignore[override]
        """The out x in weight, a view of ``weight_t``."""
        return self.weight_t.T

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: D102
        super()._save_to_state_dict(destination, prefix, keep_vars)
        stored = destination.pop(prefix + "weight_t")
        destination[prefix + "weight"] = stored.T

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: D102
        if prefix + "weight" in state_dict:
            state_dict[prefix + "weight_t"] = state_dict.pop(prefix + "weight").T
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class EncoderLayers(FCLayers):
    """``FCLayers`` whose first linear layer (the one that reads the genes) is gene-major.

    Same layers, same initial weights and the same scArches freezing as ``FCLayers``
    (:class:`GeneMajorLinear` explains the layout).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fc_layers[0][0] = GeneMajorLinear.from_linear(self.fc_layers[0][0])

    def set_online_update_hooks(self, hook_first_layer: bool = True) -> None:
        """scvi-tools' freezing hooks; the first layer's act on its stored ``weight_t``.

        scvi-tools hooks ``layer.weight``, which is a fresh view here: its hook would
        never run. The same rule (only the categorical covariates' weights learn) is
        applied to ``weight_t``, whose covariate weights are its last rows.
        """
        super().set_online_update_hooks(hook_first_layer)
        if not hook_first_layer:
            return
        n_categorical = sum(self.n_cat_list)

        def keep_covariate_rows(grad: torch.Tensor) -> torch.Tensor:
            kept = torch.zeros_like(grad)
            if n_categorical > 0:
                kept[-n_categorical:] = grad[-n_categorical:]
            return kept

        self.hooks.append(self.fc_layers[0][0].weight_t.register_hook(keep_covariate_rows))


def fully_connected(
    arguments: dict[str, Any], layers_cls: type[FCLayers] = FCLayers
) -> tuple[FCLayers, nn.Linear]:
    """The one stack of encoders and decoders: ``FCLayers`` hidden layers, then a linear map.

    ``arguments`` are the network's ``__init__`` arguments (its ``locals()``):
    ``n_input``, ``n_output``, ``n_cat_list``, ``n_continuous``, ``n_layers``,
    ``n_hidden``, ``dropout_rate``, ``use_batch_norm``, ``use_layer_norm``. The
    continuous covariates are appended to the input; the categorical ones are
    injected into every hidden layer (``n_cat_list``), as in scvi-tools.
    """
    a = arguments
    hidden = layers_cls(
        n_in=a["n_input"] + a["n_continuous"],
        n_out=a["n_hidden"],
        n_cat_list=a["n_cat_list"],
        n_layers=a["n_layers"],
        n_hidden=a["n_hidden"],
        dropout_rate=a["dropout_rate"],
        use_batch_norm=a["use_batch_norm"],
        use_layer_norm=a["use_layer_norm"],
    )
    return hidden, nn.Linear(a["n_hidden"], a["n_output"])


class DeterministicEncoder(nn.Module):
    """Map (normalised) expression and covariates to a deterministic embedding.

    ``FCLayers`` (hidden layers, covariates injected through ``n_cat_list``) followed
    by a linear map to ``n_output``. A CSR input (cells x genes) is read through its
    non-zero entries only (:func:`~scssl.nn.fc_layers_forward`): same weights, same
    embedding, with work proportional to the non-zeros.

    Examples
    --------
    >>> import torch
    >>> enc = DeterministicEncoder(100, 8, n_cat_list=[3])
    >>> enc(torch.randn(4, 100), torch.zeros(4, 1, dtype=torch.long)).shape
    torch.Size([4, 8])
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        n_cat_list: Iterable[int] | None = None,
        n_continuous: int = 0,
        n_layers: int = 2,
        n_hidden: int = 256,
        dropout_rate: float = 0.1,
        use_batch_norm: bool = False,
        use_layer_norm: bool = True,
    ):
        super().__init__()
        # the name `encoder` is the one scArches-style freezing looks for
        self.encoder, self.output = fully_connected(locals(), EncoderLayers)

    def forward(
        self, x: torch.Tensor, *cat_list: torch.Tensor, cont: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Embed ``x`` (dense or CSR); ``cat_list``: integer covariates; ``cont``: continuous."""
        return self.output(fc_layers_forward(self.encoder, x, *cat_list, dense_tail=cont))


class ExpressionDecoder(nn.Module):
    """Map an embedding (and covariates) back to per-gene expression.

    ``output="values"`` returns unconstrained per-gene values (for a squared error on
    log-normalised expression); ``output="proportions"`` returns a softmax over genes
    (the mean of a negative binomial once multiplied by the library size).
    ``genes=`` (indices) computes the values of those genes only, from the matching
    rows of the last layer, so a loss that needs a few genes does not pay for all.

    Examples
    --------
    >>> import torch
    >>> dec = ExpressionDecoder(8, 100, output="proportions")
    >>> dec(torch.randn(4, 8)).sum(-1)
    tensor([1.0000, 1.0000, 1.0000, 1.0000], grad_fn=<SumBackward1>)
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        n_cat_list: Iterable[int] | None = None,
        n_continuous: int = 0,
        n_layers: int = 2,
        n_hidden: int = 256,
        dropout_rate: float = 0.0,
        use_batch_norm: bool = False,
        use_layer_norm: bool = True,
        output: DecoderOutput = "values",
    ):
        super().__init__()
        check_option("output", output, DecoderOutput)
        self.output_kind = output
        self.decoder, self.output = fully_connected(locals())

    def forward(
        self,
        z: torch.Tensor,
        *cat_list: torch.Tensor,
        cont: torch.Tensor | None = None,
        genes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decode ``z`` into per-gene values or proportions (of ``genes`` only, if given)."""
        if genes is not None and self.output_kind == "proportions":
            raise ValueError("proportions need every gene (a softmax); genes= is for values")
        if cont is not None:
            z = torch.cat([z, cont], dim=-1)
        hidden = self.decoder(z, *cat_list)
        if genes is None:
            out = self.output(hidden)
        else:
            out = torch.nn.functional.linear(
                hidden, self.output.weight[genes], self.output.bias[genes]
            )
        if self.output_kind == "proportions":
            out = torch.softmax(out, dim=-1)
        return out

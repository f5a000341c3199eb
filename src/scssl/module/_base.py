"""What every scssl encoder module shares: counts and covariates in, ``z_encoder`` out."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass
from torch.func import functional_call

from scssl.nn import DeterministicEncoder


class EncoderModule(BaseModuleClass):
    """Base of the scssl modules: a deterministic ``z_encoder`` with scVI-style covariates.

    Subclasses call :meth:`_build_encoder` in ``__init__``. With
    ``encode_covariates=True`` the batch and categorical covariates are injected into
    every encoder layer (``n_cat_list``) and continuous covariates are appended to
    the input; otherwise the encoder sees expression only. The attribute names
    (``z_encoder`` holding an ``FCLayers`` named ``encoder``) are the ones
    scArches-style freezing looks for.
    """

    #: ``inference`` arguments that give the deterministic embedding (no mask, no views)
    _embedding_kwargs: ClassVar[dict[str, Any]] = {"apply_mask": False}

    def embed(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """Deterministic embedding ``z`` of a minibatch (``get_latent_representation``)."""
        inputs = self._get_inference_input(tensors)
        return self.inference(**inputs, **self._embedding_kwargs)["z"]

    def _build_encoder(self, arguments: dict[str, Any]) -> list[int]:
        """Create ``self.z_encoder`` from the module's ``__init__`` arguments (its ``locals()``).

        Reads ``n_input``, ``n_latent``, the covariate sizes (``n_batch``,
        ``n_cats_per_cov``, ``n_continuous_cov``), ``encode_covariates`` and the
        architecture (``n_layers``, ``n_hidden``, ``dropout_rate``, ``use_batch_norm``,
        ``use_layer_norm``); returns the covariate category counts (for a decoder).
        """
        a = arguments
        for name in ("n_input", "n_latent", "n_hidden", "n_layers"):
            if int(a[name]) < 1:
                raise ValueError(f"{name} must be at least 1, got {a[name]}")
        n_input, n_latent, encode_covariates = a["n_input"], a["n_latent"], a["encode_covariates"]
        n_continuous_cov = a["n_continuous_cov"]
        self.encode_covariates = encode_covariates
        cat_list = [a["n_batch"]] + list(a["n_cats_per_cov"] or [])
        self.z_encoder = DeterministicEncoder(
            n_input,
            n_latent,
            n_cat_list=cat_list if encode_covariates else None,
            n_continuous=n_continuous_cov if encode_covariates else 0,
            n_layers=a["n_layers"],
            n_hidden=a["n_hidden"],
            dropout_rate=a["dropout_rate"],
            use_batch_norm=a["use_batch_norm"],
            use_layer_norm=a["use_layer_norm"],
        )
        return cat_list

    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict:
        return {
            "x": tensors[REGISTRY_KEYS.X_KEY],
            "batch_index": tensors.get(REGISTRY_KEYS.BATCH_KEY),
            "cat_covs": tensors.get(REGISTRY_KEYS.CAT_COVS_KEY),
            "cont_covs": tensors.get(REGISTRY_KEYS.CONT_COVS_KEY),
        }

    def _covariates(
        self, batch_index: torch.Tensor | None, cat_covs: torch.Tensor | None
    ) -> list[torch.Tensor]:
        """Batch and categorical covariates as the list of columns ``FCLayers`` takes."""
        if batch_index is None:
            raise ValueError("the batch tensor is missing from the minibatch")
        covs = [batch_index]
        if cat_covs is not None:
            covs += list(torch.split(cat_covs, 1, dim=1))
        return covs

    def encode(
        self,
        x_norm: torch.Tensor,
        batch_index: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        weights: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Embed log-normalised expression with ``z_encoder`` (or with other ``weights``)."""
        args: tuple[torch.Tensor, ...] = (x_norm,)
        kwargs: dict[str, torch.Tensor | None] = {}
        if self.encode_covariates:
            args, kwargs = (x_norm, *self._covariates(batch_index, cat_covs)), {"cont": cont_covs}
        if weights is None:
            return self.z_encoder(*args, **kwargs)
        return functional_call(self.z_encoder, weights, args, kwargs)

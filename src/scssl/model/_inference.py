"""Running a trained module over cells: minibatches in eval mode, results to memory or zarr."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS

from scssl.data import AnnDataCollection

if TYPE_CHECKING:
    # the mixins are used with scvi-tools' BaseModelClass; type-check them as such
    from scvi.model.base import BaseModelClass as _ModelBase
else:
    _ModelBase = object


def _zarr_output(path: str, n_cells: int, first: np.ndarray):
    """A new zarr array at ``path`` for ``n_cells`` rows shaped like ``first``'s rows."""
    import zarr

    shape = (n_cells, *first.shape[1:])
    chunks = (min(n_cells, 65536), *first.shape[1:])
    return zarr.open_array(str(path), mode="w", shape=shape, chunks=chunks, dtype=first.dtype)


def registered_covariates(model) -> dict:
    """The categorical (with their categories) and continuous covariates a model registered."""
    registry = model.adata_manager.data_registry
    out: dict = {"categorical": [], "categories": {}, "continuous": []}
    if REGISTRY_KEYS.CAT_COVS_KEY in registry:
        state = model.adata_manager.get_state_registry(REGISTRY_KEYS.CAT_COVS_KEY)
        out["categorical"] = list(state.field_keys)
        out["categories"] = {k: [str(c) for c in v] for k, v in state.mappings.items()}
    if REGISTRY_KEYS.CONT_COVS_KEY in registry:
        state = model.adata_manager.get_state_registry(REGISTRY_KEYS.CONT_COVS_KEY)
        out["continuous"] = list(state.columns)
    return out


def _model_codes(
    model_categories: list[str], categories: list[str], what: str, hint: str = ""
) -> np.ndarray:
    """The model's code of each of ``categories``; categories the model lacks are refused."""
    unknown = sorted(set(categories) - set(model_categories))
    if unknown:
        raise ValueError(
            f"{what} {unknown[:5]} of the collection are not among the model's "
            f"{model_categories[:10]}" + (f"; {hint}" if hint else "")
        )
    return np.array([model_categories.index(c) for c in categories], dtype=np.int64)


class CellMappingMixin(_ModelBase):
    """``_map_cells``: apply a function of a minibatch to every cell, in eval mode.

    The cells come from an AnnData set up like the training data, from an on-disk
    :class:`~scssl.data.AnnDataCollection` (streamed) or from any dataloader.
    """

    def _collection_batch_codes(self, collection: AnnDataCollection) -> np.ndarray:
        """Model batch code of each of the collection's batch categories."""
        if collection.var_names.tolist() != list(self.adata.var_names):
            raise ValueError(
                "the collection's genes differ from the model's (names or order); build it "
                "with genes=list(model.adata.var_names)"
            )
        mapping = self.adata_manager.get_state_registry(REGISTRY_KEYS.BATCH_KEY)
        categories = [str(c) for c in mapping.categorical_mapping]
        if self.summary_stats.n_batch <= 1 and collection.batch_key is None:
            return np.zeros(len(collection.batch_categories), dtype=np.int64)
        return _model_codes(
            categories,
            collection.batch_categories,
            "batches",
            "map a new study with load_query_data instead",
        )

    def _collection_covariate_maps(self, collection: AnnDataCollection) -> list[np.ndarray]:
        """Per categorical covariate, the model code of each of the collection's categories.

        The collection must hold the covariates the model was set up with, by the same
        keys in the same order; unknown categories are refused.
        """
        ours, theirs = registered_covariates(self), collection.covariates
        if ours["categorical"] != list(theirs.categorical_keys) or ours["continuous"] != list(
            theirs.continuous_keys
        ):
            raise ValueError(
                f"the model was set up with categorical covariates {ours['categorical']} and "
                f"continuous {ours['continuous']}, the collection reads "
                f"{list(theirs.categorical_keys)} and {list(theirs.continuous_keys)}; build it "
                "with the same categorical_covariate_keys= / continuous_covariate_keys="
            )
        return [
            _model_codes(ours["categories"][key], theirs.categories[key], f"obs[{key!r}] values")
            for key in ours["categorical"]
        ]

    def _check_trains_on_collection(self, collection: AnnDataCollection) -> None:
        """Training passes the collection's codes as they are: they must be the model's."""
        try:
            maps = [
                self._collection_batch_codes(collection),
                *self._collection_covariate_maps(collection),
            ]
        except ValueError as error:
            raise ValueError(
                f"{error}; to train, set the model up on collection.schema_anndata()"
            ) from error
        if any(not np.array_equal(m, np.arange(len(m))) for m in maps):
            raise ValueError(
                "the datamodule's collection codes its batches or covariates otherwise than "
                f"the model ({collection!r}); set the model up on "
                "collection.schema_anndata() with the collection's keys"
            )

    def _iterate_minibatches(
        self,
        adata: AnnData | AnnDataCollection | None,
        indices: Sequence[int] | None,
        batch_size: int | None,
    ) -> Iterator[dict[str, torch.Tensor]]:
        if isinstance(adata, AnnDataCollection):
            if indices is not None:
                raise ValueError("indices= is not supported for a collection")
            codes = torch.as_tensor(self._collection_batch_codes(adata))
            covariate_maps = [torch.as_tensor(m) for m in self._collection_covariate_maps(adata)]
            for tensors in adata.iter_in_order(batch_size or 1024):
                tensors[REGISTRY_KEYS.BATCH_KEY] = codes[tensors[REGISTRY_KEYS.BATCH_KEY]]
                if covariate_maps:
                    cat = tensors[REGISTRY_KEYS.CAT_COVS_KEY]
                    columns = [m[cat[:, j]] for j, m in enumerate(covariate_maps)]
                    tensors[REGISTRY_KEYS.CAT_COVS_KEY] = torch.stack(columns, dim=1)
                yield tensors
            return
        if adata is not None:
            self._check_genes(adata)
        adata = self._validate_anndata(adata)
        loader = self._make_data_loader(
            adata=adata,
            indices=indices,
            batch_size=batch_size,
            load_sparse_tensor=self._sparse_minibatches(adata),
        )
        yield from loader

    def _check_genes(self, adata: AnnData) -> None:
        """Fail unless ``adata`` has the model's genes, by name and in the model's order."""
        genes = self.adata.var_names
        if adata.var_names.equals(genes):
            return
        if adata.n_vars == len(genes) and set(adata.var_names) == set(genes):
            raise ValueError(
                "adata has the model's genes in another order, which would give wrong "
                "results without error; reorder them: adata[:, model.adata.var_names]"
            )
        shared = int(genes.isin(adata.var_names).sum())
        raise ValueError(
            f"adata's genes differ from the model's ({shared} of {len(genes)} model genes "
            f"found, {adata.n_vars} genes in adata); subset to the model's genes "
            "(adata[:, model.adata.var_names]) or, for a new study, use "
            "prepare_query_anndata and load_query_data"
        )

    @torch.inference_mode()
    def _map_cells(
        self,
        fn: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        adata: AnnData | AnnDataCollection | None = None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        out: str | None = None,
        minibatches=None,
    ):
        """Apply ``fn`` to every minibatch in eval mode; stack the results as numpy.

        ``minibatches`` (an iterable of minibatch dicts) replaces ``adata``/``indices``.
        With ``out`` (a path) each minibatch's result is written to a zarr array there
        as it comes, and that array is returned: memory holds one minibatch at a time.
        """
        if minibatches is None:
            minibatches = self._iterate_minibatches(adata, indices, batch_size)
        elif out is not None:
            raise ValueError("out= needs the number of cells: pass adata, not a dataloader")
        was_training = self.module.training
        self.module.eval()
        results, array, written = [], None, 0
        try:
            for tensors in minibatches:
                values = fn(tensors).cpu().numpy()
                if out is None:
                    results.append(values)
                    continue
                if array is None:
                    array = _zarr_output(out, self._n_cells(adata, indices), values)
                array[written : written + values.shape[0]] = values
                written += values.shape[0]
        finally:
            self.module.train(was_training)
        return array if out is not None else np.concatenate(results)

    def _n_cells(self, adata, indices) -> int:
        if indices is not None:
            return len(indices)
        return (self.adata if adata is None else adata).n_obs

    def _obs_names(self, adata: AnnData | None, indices: Sequence[int] | None):
        """Names of the cells a ``_map_cells`` call returned, in its order."""
        adata = self.adata if adata is None else adata  # _map_cells validated it
        return adata.obs_names if indices is None else adata.obs_names[np.asarray(indices)]

    def get_latent_representation(
        self,
        adata: AnnData | AnnDataCollection | None = None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        out: str | None = None,
        dataloader=None,
    ):
        """Deterministic embedding of the cells (no masking or augmentation, eval mode).

        Parameters
        ----------
        adata
            AnnData set up like the training data, or an on-disk
            :class:`~scssl.data.AnnDataCollection` with the model's genes (streamed,
            never loaded whole); ``None`` uses the training data.
        indices
            Cells to embed; ``None`` embeds all.
        batch_size
            Minibatch size for inference.
        out
            Path of a zarr array to write the embedding to, minibatch by minibatch,
            instead of returning it in memory.
        dataloader
            Instead of ``adata``: any iterable of minibatch dicts of the model's genes,
            for example ``TileDBDataModule(query, shuffle=False, ...).inference_dataloader()``
            for a TileDB-SOMA store; cells come out in its order.

        Returns
        -------
        Array of shape ``(n_cells, n_latent)``: numpy, or the zarr array at ``out``.

        Examples
        --------
        >>> adata.obsm["X_scssl"] = model.get_latent_representation()
        >>> z = model.get_latent_representation(collection, out="z.zarr")  # doctest: +SKIP
        """
        self._check_if_trained(warn=True)
        return self._map_cells(
            self.module.embed, adata, indices, batch_size, out=out, minibatches=dataloader
        )

"""TileDB-SOMA (the store of the CELLxGENE Census) through scvi-tools' ``TileDBDataModule``.

scvi-tools streams a SOMA ``ExperimentAxisQuery`` with ``TileDBDataModule`` (it needs
the optional ``tiledbsoma`` and ``tiledbsoma-ml`` packages). An scssl model is built on
:func:`soma_schema_anndata` (the query's genes and the datamodule's batch categories,
in its order) and trained with ``model.train(datamodule=...)``; its embedding is
streamed with ``model.get_latent_representation(dataloader=...)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData


def soma_schema_anndata(
    datamodule, *, layer_name: str = "data", var_id_column: str = "var_id"
) -> AnnData:
    """A small AnnData with a ``TileDBDataModule``'s genes and batch categories.

    It holds the first cell of every batch (real counts, read from the store) and a
    batch column named after the datamodule's ``batch_column_names`` (joined by ``_``)
    whose categories are in the datamodule's code order, so a model set up on it with
    that ``batch_key`` reads the datamodule's minibatches correctly.

    Give the datamodule a ``batch_size``: tiledbsoma-ml's default is one cell per
    minibatch, on which training fails (it needs two cells or more).

    Examples
    --------
    >>> import tiledbsoma
    >>> from scvi.dataloaders import TileDBDataModule
    >>> atlas_uri  # the path of a SOMA experiment with an "RNA" measurement
    '.../atlas.soma'
    >>> query = tiledbsoma.Experiment.open(atlas_uri).axis_query("RNA")
    >>> dm = TileDBDataModule(query, layer_name="data", batch_size=64, batch_column_names=["donor"])
    >>> schema = scssl.data.soma_schema_anndata(dm)
    >>> scssl.model.MaskedAE.setup_anndata(schema, batch_key="donor")
    >>> model = scssl.model.MaskedAE(schema)
    >>> model.train(datamodule=dm, max_epochs=5)
    """
    import tiledbsoma

    query = datamodule.query
    columns = list(datamodule.batch_column_names)
    obs = query.obs(column_names=["soma_joinid", *columns]).concat().to_pandas()
    labels = obs[columns].astype(str).agg(datamodule.batch_colsep.join, axis=1)
    categories = [str(c) for c in datamodule.batch_encoder.classes_]
    first = [int(obs["soma_joinid"][labels == c].iloc[0]) for c in categories]
    small = query.experiment.axis_query(
        query.measurement_name, obs_query=tiledbsoma.AxisQuery(coords=(np.sort(first),))
    )
    adata = small.to_anndata(X_name=layer_name)
    small_labels = adata.obs[columns].astype(str).agg(datamodule.batch_colsep.join, axis=1)
    name = "_".join(columns)
    var_names = adata.var[var_id_column].astype(str) if var_id_column in adata.var else None
    schema = AnnData(
        adata.X,
        obs=pd.DataFrame(
            {name: pd.Categorical(small_labels.to_numpy(), categories=categories)},
            index=adata.obs_names.astype(str),
        ),
        var=pd.DataFrame(index=var_names if var_names is not None else adata.var_names),
    )
    return schema

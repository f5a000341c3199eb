"""Pretrain once on an on-disk corpus, then map many studies onto it.

:func:`pretrain` trains a model from an :class:`~scssl.data.AnnDataCollection`
(files read backed, block-shuffled) and writes a *reference folder*; :func:`map_query`
maps a new study onto it (scArches-style ``load_query_data``), embeds it and transfers
labels from the reference cells by kNN, with an uncertainty per cell.

A reference folder holds::

    model/                      the trained model (scvi-tools format)
    checkpoints/                Lightning checkpoints written during training
    reference_embedding.zarr    embedding of every reference cell, in collection order
    reference_obs.csv.gz        the reference cells' obs (labels for transfer)
    scssl_reference.json        model class, files, genes, batch key, throughput
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from scssl._constants import OUTPUT_KEYS
from scssl._options import options
from scssl.data import GeneMapLike

logger = logging.getLogger("scssl")

MANIFEST = "scssl_reference.json"
PretrainModel = Literal["masked_ae", "simclr", "byol", "barlow_twins", "vicreg"]
PRETRAIN_MODELS = options(PretrainModel)


def _model_class(name: str):
    """The model class and its fixed keyword arguments for a ``pretrain`` model name."""
    from scssl.model import Contrastive, MaskedAE

    if name not in PRETRAIN_MODELS:
        raise ValueError(f"model must be one of {PRETRAIN_MODELS}, got {name!r}")
    if name == "masked_ae":
        return MaskedAE, {}
    return Contrastive, {"method": name}


def _resume_checkpoint(output: Path, resume_from: str | Path | None) -> Path | None:
    """The checkpoint to resume from (``"latest"``: the newest of ``output/checkpoints``)."""
    if resume_from is None:
        return None
    if str(resume_from) == "latest":
        found = sorted((output / "checkpoints").glob("step*.ckpt"), key=lambda p: int(p.stem[4:]))
        if not found:
            raise FileNotFoundError(f"no checkpoint in {output / 'checkpoints'} to resume from")
        return found[-1]
    path = Path(resume_from)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return path


def _write_reference_obs(collection, path: Path) -> None:
    """Every file's obs plus its file name, appended file by file (one file in memory)."""
    for file, source in enumerate(collection.paths):
        obs = collection.read_obs(file).assign(scssl_file=str(source))
        obs.to_csv(path, mode="w" if file == 0 else "a", header=file == 0)


def _gene_selected_collection(collection, genes_given: bool, n_top_genes, seed: int):
    """The collection on the genes to train on, and how they were chosen (for the report)."""
    from scssl.data import describe_gene_selection, highly_variable_genes

    if genes_given:
        return collection, "the given gene list"
    if n_top_genes is None or n_top_genes >= collection.n_vars:
        return collection, "all genes of the first file"
    batch_key = collection.batch_key
    sample = collection.sample_anndata(seed=seed)
    chosen = highly_variable_genes(sample, batch_key=batch_key, n_top_genes=n_top_genes)
    gene_selection = describe_gene_selection(len(chosen), collection.n_vars, batch_key)
    gene_selection += f", from a sample of {sample.n_obs} cells"
    logger.info("training on %s", gene_selection)
    return collection.with_genes(chosen), gene_selection


def pretrain(
    paths: Sequence[str | Path],
    output: str | Path,
    *,
    genes: Sequence[str] | str | Path | None = None,
    n_top_genes: int | None = 2000,
    model: PretrainModel = "masked_ae",
    layer: str | None = None,
    batch_key: str | None = None,
    categorical_covariate_keys: Sequence[str] | None = None,
    continuous_covariate_keys: Sequence[str] | None = None,
    max_epochs: int | None = None,
    batch_size: int = 128,
    checkpoint_every_n_steps: int = 1000,
    log_every_n_steps: int = 50,
    validation_fraction: float = 0.0,
    num_workers: int = 0,
    seed: int = 0,
    model_kwargs: dict | None = None,
    overwrite: bool = False,
    resume_from: str | Path | None = None,
    **train_kwargs,
):
    """Train a model on on-disk files without loading them; write a reference folder.

    Parameters
    ----------
    paths
        ``.h5ad`` / ``.zarr`` files of raw counts (CSR), read as one collection.
    output
        The reference folder to write (see the module notes).
    genes
        The gene list (or a text file with one gene per line). ``None``: the first
        file's genes, narrowed to ``n_top_genes``.
    n_top_genes
        Without ``genes``: train on this many highly variable genes (``seurat_v3`` on
        the counts of up to 20,000 cells read as random blocks, batch-aware with
        ``batch_key``), the benchmarks' setting; ``None``: every gene of the first file.
    model
        ``"masked_ae"`` or a contrastive method (``"simclr"``, ``"byol"``, ...).
    layer, batch_key
        Counts layer and ``obs`` batch column of every file.
    categorical_covariate_keys, continuous_covariate_keys
        Further ``obs`` columns of every file given to the model as covariates
        (scvi-tools' meaning; see :class:`~scssl.data.AnnDataCollection`).
    max_epochs
        Passes over the data; ``None``: the scssl default for this many cells.
    batch_size, validation_fraction, num_workers, seed
        Minibatching (see :class:`~scssl.data.CollectionDataModule`).
    checkpoint_every_n_steps
        Write a Lightning checkpoint (weights, optimiser and loop state) this often.
    log_every_n_steps
        Log cells/s and the estimated time left this often.
    model_kwargs
        Further arguments of the model class.
    overwrite
        Replace an existing reference folder.
    resume_from
        Continue an interrupted run from one of its checkpoints (``output/checkpoints/
        step<N>.ckpt``), or ``"latest"`` for the newest: weights, optimiser state, epoch
        and step carry on, so at most ``checkpoint_every_n_steps`` steps are trained
        again. Call it with the arguments of the interrupted run.
    **train_kwargs
        Further arguments of the model's ``train`` (``accelerator``, ``devices``,
        ``strategy``, ...).

    Returns
    -------
    The trained model.

    Examples
    --------
    >>> import scssl
    >>> files = [scssl.data.data_dir() / "scrna/baron_human_pancreas.h5ad"]
    >>> model = scssl.tl.pretrain(files, "ref", batch_key="donor", max_epochs=1)  # doctest: +SKIP
    """
    from scssl.data import (
        AnnDataCollection,
        CollectionDataModule,
        read_gene_list,
    )
    from scssl.model._base import default_max_epochs
    from scssl.train import PeriodicCheckpoint, ThroughputProgress

    output = Path(output)
    checkpoint = _resume_checkpoint(output, resume_from)
    if output.exists() and any(output.iterdir()) and not overwrite and checkpoint is None:
        raise FileExistsError(f"{output} exists and is not empty; pass overwrite=True")
    model_cls, fixed_kwargs = _model_class(model)
    if isinstance(genes, str | Path):
        genes = read_gene_list(genes)
    covariates: dict[str, Any] = {
        "categorical_covariate_keys": list(categorical_covariate_keys or []) or None,
        "continuous_covariate_keys": list(continuous_covariate_keys or []) or None,
    }
    collection, gene_selection = _gene_selected_collection(
        AnnDataCollection(paths, genes=genes, layer=layer, batch_key=batch_key, **covariates),
        genes is not None,
        n_top_genes,
        seed,
    )
    schema = collection.schema_anndata()
    model_cls.setup_anndata(schema, batch_key=batch_key, **covariates)
    trained = model_cls(schema, **fixed_kwargs, **(model_kwargs or {}))
    datamodule = CollectionDataModule(
        collection,
        batch_size=batch_size,
        validation_fraction=validation_fraction,
        num_workers=num_workers,
        seed=seed,
    )
    max_epochs = max_epochs or default_max_epochs(collection.n_obs)
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be at least 1, got {max_epochs}")
    progress = ThroughputProgress(log_every_n_steps)
    checkpoints = PeriodicCheckpoint(output / "checkpoints", checkpoint_every_n_steps)
    logger.info("pretraining %s on %s for %d epochs", model, collection, max_epochs)
    start = time.perf_counter()
    train_kwargs.setdefault("enable_progress_bar", False)
    if checkpoint is not None:
        logger.info("resuming from %s", checkpoint)
        train_kwargs["ckpt_path"] = str(checkpoint)
    trained.train(
        datamodule=datamodule,
        max_epochs=max_epochs,
        callbacks=[progress, checkpoints],
        check_val_every_n_epoch=1 if validation_fraction > 0 else None,
        **train_kwargs,
    )
    seconds = time.perf_counter() - start
    trained.save(str(output / "model"), overwrite=True)
    trained.get_latent_representation(collection, out=str(output / "reference_embedding.zarr"))
    _write_reference_obs(collection, output / "reference_obs.csv.gz")
    manifest = {
        "model": model,
        "model_class": model_cls.__name__,
        "files": [str(p) for p in collection.paths],
        "n_cells": collection.n_obs,
        "n_genes": collection.n_vars,
        "gene_selection": gene_selection,
        "layer": layer,
        "batch_key": batch_key,
        "batch_categories": collection.batch_categories,
        **covariates,
        "max_epochs": max_epochs,
        "precision": str(trained.trainer.precision),  # as Lightning ran it
        "train_seconds": round(seconds, 1),
        "train_cells_per_second": round(progress.cells_per_second, 1),
        "missing_genes_per_file": {a.path: len(a.missing) for a in collection.alignments},
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=2))
    logger.info("reference written to %s (%.0f cells/s)", output, progress.cells_per_second)
    return trained


def read_reference(reference: str | Path) -> dict:
    """The manifest of a reference folder written by :func:`pretrain`."""
    path = Path(reference) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            f"{reference} is not a scssl reference folder (no {MANIFEST}); write one with "
            "scssl.tl.pretrain or `scssl pretrain`"
        )
    return json.loads(path.read_text())


def map_query(
    reference: str | Path,
    query: AnnData,
    *,
    labels_key: str | None = None,
    layer: str | None = None,
    max_epochs: int = 20,
    k: int = 15,
    key_added: str = OUTPUT_KEYS.REFERENCE,
    seed: int = 0,
    gene_map: GeneMapLike | None = None,
) -> AnnData:
    """Map a new study onto a reference folder: embedding and (optionally) kNN labels.

    The query's genes are put in the reference's order (missing ones as zeros, the
    overlap reported), the reference model is extended to the query's batches with
    ``load_query_data`` and trained ``max_epochs`` on the query (reference weights
    frozen), then the query is embedded. With ``labels_key`` (a column of the
    reference cells' ``obs``), each query cell gets the majority label of its ``k``
    nearest reference cells in ``.obs[f"{labels_key}_transferred"]`` and the share of
    disagreeing neighbours in ``..._uncertainty``. ``gene_map`` renames the query's
    genes into the reference's first (a 1:1 orthologue table for a query of another
    species; see :meth:`~scssl.model.MaskedAE.prepare_query_anndata`).

    Returns
    -------
    The prepared query (a new AnnData; ``query`` itself is not changed) with
    ``.obsm[key_added]`` and the transferred labels.

    Examples
    --------
    >>> mapped = scssl.tl.map_query("ref", query, labels_key="cell_type1")  # doctest: +SKIP
    """
    import scvi
    import zarr

    import scssl
    from scssl.data import get_matrix

    manifest = read_reference(reference)
    model_cls = getattr(scssl.model, manifest["model_class"])
    model_dir = str(Path(reference) / "model")
    reference_obs = pd.read_csv(Path(reference) / "reference_obs.csv.gz", index_col=0)
    if labels_key is not None and labels_key not in reference_obs:
        raise KeyError(
            f"labels_key={labels_key!r} is not a column of the reference cells' obs "
            f"(columns: {', '.join(map(str, reference_obs.columns[:20]))})"
        )
    batch_key = manifest["batch_key"]
    if batch_key is not None and batch_key not in query.obs:
        raise KeyError(
            f"the reference was trained with batch_key={batch_key!r}; add that column to "
            "the query's obs (its study, donor, ...)"
        )
    if max_epochs < 0:
        raise ValueError(f"max_epochs must be non-negative, got {max_epochs}")
    query = AnnData(X=get_matrix(query, layer), obs=query.obs.copy(), var=query.var[[]].copy())
    model_cls.prepare_query_anndata(query, model_dir, gene_map=gene_map)
    scvi.settings.seed = seed
    query_model = model_cls.load_query_data(query, model_dir)
    if max_epochs > 0:
        query_model.train(max_epochs=max_epochs, enable_progress_bar=False)
    query.obsm[key_added] = query_model.get_latent_representation()
    if labels_key is not None:
        embedding = np.asarray(zarr.open_array(str(Path(reference) / "reference_embedding.zarr")))
        reference_cells = AnnData(
            obs=reference_obs[[labels_key]].set_index(pd.RangeIndex(len(reference_obs)).astype(str))
        )
        reference_cells.obsm[key_added] = embedding
        scssl.tl.transfer_labels(
            reference_cells, query, use_rep=key_added, labels_key=labels_key, k=k
        )
    return query

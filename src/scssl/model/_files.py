"""Model files that cannot carry code: tensors for ``torch.load(weights_only=True)`` and JSON.

scvi-tools saves a model as one pickled ``model.pt``; unpickling it runs whatever the
file says, so a shared reference could execute code on ``load``. scssl writes instead

- ``model_tensors.pt``: the module's state dict, tensors only (``weights_only`` loads it);
- ``scssl_model.json``: the model's attributes (init parameters, registry, history,
  split indices, ...) and gene names in JSON, with a SHA-256 over both files' content
  that :func:`read_model_files` verifies.

A folder holding only scvi-tools' ``model.pt`` is refused unless the caller passes
``trust_file=True`` (for files of trusted origin only).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from typing import Any

import anndata
import numpy as np
import pandas as pd
import torch
from anndata import AnnData

FORMAT = "scssl-model-1"
TENSORS_FILE = "model_tensors.pt"
MANIFEST_FILE = "scssl_model.json"
SCVI_MODEL_FILE = "model.pt"
ADATA_FILE = "adata.h5ad"


class UnsafeModelFileError(ValueError):
    """A model folder in a format whose loading can run code, refused without ``trust_file``."""


def encode(value: Any, where: str = "attribute") -> Any:
    """``value`` as JSON data; numpy arrays, tuples and DataFrames are tagged to round-trip.

    Examples
    --------
    >>> decode(json.loads(json.dumps(encode({"a": np.arange(3), "b": (1, "x")}))))["b"]
    (1, 'x')
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"__ndarray__": encode(value.tolist(), where), "dtype": str(value.dtype)}
    if isinstance(value, pd.DataFrame):
        return {
            "__dataframe__": encode(value.to_numpy().tolist(), where),
            "columns": encode(list(value.columns), where),
            "index": encode(value.index.to_numpy(), where),
            "index_name": value.index.name,
            "dtypes": [str(dtype) for dtype in value.dtypes],
        }
    if isinstance(value, pd.Index):
        return {"__index__": encode(value.to_numpy(), where)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, where) for v in value]}
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: dictionary keys must be strings to be saved")
        return {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{where} holds a {type(value).__name__}, which scssl model files do not store")


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        dtype = value["dtype"]
        return np.asarray(
            decode(value["__ndarray__"]), dtype=object if dtype == "object" else dtype
        )
    if "__dataframe__" in value:
        frame = pd.DataFrame(
            decode(value["__dataframe__"]),
            columns=decode(value["columns"]),
            index=decode(value["index"]),
        )
        frame.index.name = value["index_name"]
        return frame.astype(dict(zip(frame.columns, value["dtypes"], strict=True)))
    if "__index__" in value:
        return pd.Index(decode(value["__index__"]))
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    return {k: decode(v) for k, v in value.items()}


def _digest(tensor_bytes: bytes, metadata: dict) -> str:
    canonical = json.dumps(metadata, sort_keys=True, allow_nan=True).encode()
    return hashlib.sha256(tensor_bytes + b"\0" + canonical).hexdigest()


def write_model_files(
    dir_path: str, prefix: str, state_dict: dict, var_names, attributes: dict
) -> None:
    """Write the tensors file and the JSON manifest (with its content hash)."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, buffer)
    tensor_bytes = buffer.getvalue()
    with open(os.path.join(dir_path, f"{prefix}{TENSORS_FILE}"), "wb") as handle:
        handle.write(tensor_bytes)
    metadata = {
        "format": FORMAT,
        # one array, or for a MuData one array per modality (scvi-tools' format)
        "var_names": encode(
            {mod: np.asarray(names) for mod, names in var_names.items()}
            if isinstance(var_names, dict)
            else np.asarray(var_names),
            "var_names",
        ),
        "attributes": encode(attributes),
    }
    digest = _digest(tensor_bytes, metadata)
    manifest = {"sha256": digest, **metadata}
    with open(os.path.join(dir_path, f"{prefix}{MANIFEST_FILE}"), "w") as handle:
        json.dump(manifest, handle, indent=1)


def has_scssl_files(dir_path: str, prefix: str | None = None) -> bool:
    """Whether ``dir_path`` holds a model in scssl's safe format."""
    return os.path.exists(os.path.join(dir_path, f"{prefix or ''}{MANIFEST_FILE}"))


def read_model_files(
    dir_path: str,
    load_adata: bool,
    prefix: str | None = None,
    map_location=None,
    backup_url: str | None = None,
) -> tuple[dict, np.ndarray, dict, AnnData | bool | None]:
    """Read a safe model folder: attributes, gene names, state dict, saved AnnData.

    The same four results as scvi-tools' reader, without unpickling anything: the
    manifest is JSON, the tensors load with ``weights_only=True``, and the content hash
    must match.
    """
    if backup_url is not None:
        raise ValueError("scssl does not download model files (backup_url is not supported)")
    prefix = prefix or ""
    manifest_path = os.path.join(dir_path, f"{prefix}{MANIFEST_FILE}")
    tensors_path = os.path.join(dir_path, f"{prefix}{TENSORS_FILE}")
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{manifest_path}: unknown model file format {manifest.get('format')!r}")
    with open(tensors_path, "rb") as handle:
        tensor_bytes = handle.read()
    metadata = {k: v for k, v in manifest.items() if k != "sha256"}
    if _digest(tensor_bytes, metadata) != manifest.get("sha256"):
        raise ValueError(
            f"{dir_path}: the model files do not match their recorded SHA-256 (changed or "
            "truncated after saving); save the model again"
        )
    # the bytes just hashed are the ones loaded: the file is read once
    state_dict = torch.load(io.BytesIO(tensor_bytes), map_location=map_location, weights_only=True)
    adata: AnnData | bool | None = None
    if load_adata:
        adata_path = os.path.join(dir_path, f"{prefix}{ADATA_FILE}")
        if os.path.exists(adata_path):
            adata = anndata.read_h5ad(adata_path)
        else:
            warnings.warn(
                "the model folder holds no AnnData and none was passed",
                UserWarning,
                stacklevel=3,
            )
            adata = False
    return decode(metadata["attributes"]), decode(metadata["var_names"]), state_dict, adata


def refuse_unsafe_file(dir_path: str, prefix: str | None = None) -> None:
    """Raise :class:`UnsafeModelFileError` for a folder in scvi-tools' pickled format."""
    path = os.path.join(dir_path, f"{prefix or ''}{SCVI_MODEL_FILE}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{dir_path} holds no scssl model ({MANIFEST_FILE}) or model.pt")
    raise UnsafeModelFileError(
        f"{path} is in scvi-tools' pickled format, and loading it can run any code the file "
        "contains. scssl saves models in a safe format (model_tensors.pt + scssl_model.json). "
        "If you trust where this file comes from, load it once with trust_file=True and save "
        "it again with scssl."
    )

"""``save`` and ``load`` of every scssl model in the safe file format (``model/_files.py``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from scssl import _compat

from ._files import (
    ADATA_FILE,
    SCVI_MODEL_FILE,
    has_scssl_files,
    read_model_files,
    refuse_unsafe_file,
    write_model_files,
)

if TYPE_CHECKING:
    from scvi.model.base import BaseModelClass as _ModelBase
else:
    _ModelBase = object


def model_folder_reader(trust_file: bool):
    """A reader of model folders for :func:`scssl._compat.model_file_reader`.

    scssl's safe format is always read; scvi-tools' pickled ``model.pt`` only with
    ``trust_file=True``, otherwise it is refused before anything is unpickled.
    """

    def read(dir_path, load_adata, prefix=None, map_location=None, backup_url=None):
        if has_scssl_files(dir_path, prefix):
            return read_model_files(dir_path, load_adata, prefix, map_location, backup_url)
        if not trust_file:
            refuse_unsafe_file(dir_path, prefix)
        return _compat.scvi_model_file_reader()(
            dir_path, load_adata, prefix=prefix, map_location=map_location, backup_url=backup_url
        )

    return read


class SafeFilesMixin(_ModelBase):
    """Model files that cannot run code on load (see :mod:`scssl.model._files`)."""

    #: attributes ``__init__`` rebuilds from the init parameters, so they are not saved
    _rebuilt_attributes: frozenset[str] = frozenset({"programmes_"})

    def save(
        self,
        dir_path: str,
        prefix: str | None = None,
        overwrite: bool = False,
        save_anndata: bool = False,
        **anndata_write_kwargs,
    ) -> None:
        """Save the model: tensors (``model_tensors.pt``) and JSON (``scssl_model.json``).

        Neither file can carry code: the tensors load with ``weights_only=True`` and
        everything else (init parameters, registry, history) is JSON, with a SHA-256
        that :meth:`load` checks.

        Parameters
        ----------
        dir_path
            Folder to write (created; an existing one needs ``overwrite=True``).
        prefix
            Prefix of the file names.
        overwrite
            Replace a model saved in ``dir_path`` before.
        save_anndata
            Also write the training AnnData (``adata.h5ad``).
        **anndata_write_kwargs
            Passed to :meth:`anndata.AnnData.write_h5ad`.

        Examples
        --------
        >>> model.save("my_model/", overwrite=True)
        >>> reloaded = type(model).load("my_model/", adata=adata)
        """
        if os.path.exists(dir_path) and not overwrite:
            raise ValueError(f"{dir_path} already exists; pass overwrite=True to replace it")
        os.makedirs(dir_path, exist_ok=True)
        prefix = prefix or ""
        stale = os.path.join(dir_path, f"{prefix}{SCVI_MODEL_FILE}")
        if os.path.exists(stale):
            os.remove(stale)  # an older pickled save would otherwise sit beside the new one
        if save_anndata:
            self.adata.write_h5ad(
                os.path.join(dir_path, f"{prefix}{ADATA_FILE}"), **anndata_write_kwargs
            )
        attributes = {
            name: value
            for name, value in _compat.user_attributes(self).items()
            if name not in self._rebuilt_attributes
        }
        write_model_files(
            dir_path, prefix, self.module.state_dict(), self.get_var_names(), attributes
        )

    @classmethod
    def load(
        cls,
        dir_path: str,
        adata=None,
        accelerator: str = "auto",
        device: int | str = "auto",
        prefix: str | None = None,
        backup_url: str | None = None,
        trust_file: bool = False,
        **kwargs,
    ):
        """Load a model saved by :meth:`save`, set up on ``adata`` (or the saved AnnData).

        Parameters
        ----------
        dir_path
            Folder written by :meth:`save`.
        adata
            AnnData with the model's genes (``None``: the AnnData saved with the model).
        accelerator, device
            Where the model lives.
        prefix
            Prefix of the file names.
        backup_url
            Not supported (scssl downloads nothing).
        trust_file
            Also read a folder in scvi-tools' pickled format (``model.pt``). Loading such
            a file runs any code it contains: use it only for files you trust, then save
            the model again with scssl.

        Raises
        ------
        scssl.model.UnsafeModelFileError
            For a pickled ``model.pt`` without ``trust_file=True``; nothing is unpickled.
        ValueError
            If the files do not match their recorded SHA-256.

        Examples
        --------
        >>> model.save("my_model/", overwrite=True)
        >>> model = scssl.model.MaskedAE.load("my_model/", adata=adata)
        """
        with _compat.model_file_reader(model_folder_reader(trust_file)):
            return super().load(
                dir_path,
                adata=adata,
                accelerator=accelerator,
                device=device,
                prefix=prefix,
                backup_url=backup_url,
                **kwargs,
            )

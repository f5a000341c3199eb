from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before anything imports jax: scib-metrics (JAX) compiles its kernels anew in every
# process, and the suite's processes and notebook kernels (which inherit this
# environment) score embeddings of the same shapes. A compilation cache shared for the
# session is deleted at exit (warm, it took the method-selection notebook from 50 s to 34 s).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _jax_cache = tempfile.mkdtemp(prefix="scssl-tests-jax-cache-")
    atexit.register(shutil.rmtree, _jax_cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _jax_cache
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scvi  # noqa: E402
import torch  # noqa: E402
from anndata import AnnData  # noqa: E402
from scipy import sparse  # noqa: E402

import scssl  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    scvi.settings.seed = 0
    yield


@pytest.fixture(scope="session")
def pbmc() -> AnnData:
    """scanpy's bundled PBMCs (700 cells) with integer counts recovered."""
    return scssl.data.pbmc68k_counts()


@pytest.fixture(scope="session")
def baron_small() -> AnnData:
    """A real slice of Baron pancreas: 400 cells from the 4 donors, 600 expressed genes."""
    path = scssl.data.data_dir() / "scrna" / "baron_human_pancreas.h5ad"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    adata = scssl.data.baron_pancreas()
    rng = np.random.default_rng(0)
    cells = np.sort(rng.choice(adata.n_obs, 400, replace=False))
    adata = adata[cells].copy()
    detected = np.asarray((adata.X > 0).sum(axis=0)).ravel()
    genes = np.argsort(-detected)[:600]
    adata = adata[:, np.sort(genes)].copy()
    adata.X = adata.X.astype(np.float32)
    return adata


@pytest.fixture
def tiny_counts() -> AnnData:
    """Synthetic Poisson counts: 60 cells x 40 genes, 2 batches, 2 labels."""
    rng = np.random.default_rng(0)
    rates = rng.gamma(2.0, 2.0, size=(1, 40)) * rng.uniform(0.5, 2.0, size=(60, 1))
    adata = AnnData(sparse.csr_matrix(rng.poisson(rates).astype(np.float32)))
    adata.obs["batch"] = np.repeat(["a", "b"], 30)
    adata.obs["label"] = np.tile(["x", "y"], 30)
    adata.obs["age"] = rng.normal(size=60)
    adata.var_names = [f"g{i}" for i in range(40)]
    adata.obs_names = [f"c{i}" for i in range(60)]
    return adata

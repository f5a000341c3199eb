from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scanpy as sc

import scssl
from scssl.cli import main


def test_tl_masked_ae_writes_only_documented_keys(pbmc):
    adata = pbmc.copy()
    before_obs = adata.obs.copy()
    before_uns = set(adata.uns)
    X_before = adata.X.copy()
    scssl.tl.masked_ae(adata, layer="counts", max_epochs=1, model_kwargs={"n_latent": 8})
    assert adata.obsm["X_scssl_mae"].shape == (700, 8)
    assert set(adata.uns) - before_uns == {"scssl_mae"}
    assert adata.uns["scssl_mae"]["params"]["n_latent"] == 8
    assert adata.uns["scssl_mae"]["params"]["layer"] == "counts"
    assert adata.obs.equals(before_obs)
    assert (adata.X != X_before).nnz == 0
    sc.pp.neighbors(adata, use_rep="X_scssl_mae")  # works straight after
    assert "connectivities" in adata.obsp


def test_tl_masked_ae_copy_and_bad_layer(pbmc):
    adata = pbmc.copy()
    out = scssl.tl.masked_ae(adata, layer="counts", copy=True, max_epochs=1, key_added="X_mine")
    assert "X_mine" in out.obsm and "X_mine" not in adata.obsm
    adata.layers["lognorm"] = np.log1p(adata.layers["counts"])
    with pytest.raises(ValueError, match="layer 'lognorm' holds non-integer"):
        scssl.tl.masked_ae(adata, layer="lognorm")


def test_demo_cli_smoke(tmp_path):
    code = main(["demo", "--output", str(tmp_path / "demo"), "--max-epochs", "2"])
    assert code == 0
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert set(report) >= {"MaskedAE", "PCA", "macro_f1_ratio_MaskedAE_over_PCA", "h5ad"}
    assert 0.0 <= report["MaskedAE"]["macro_f1"] <= 1.0
    assert (tmp_path / "demo" / "umap_scssl_mae.png").stat().st_size > 10_000
    written = sc.read_h5ad(tmp_path / "demo" / "pbmc68k_scssl.h5ad")
    assert written.obsm["X_scssl_mae"].shape[0] == 700


def test_fit_cli_on_a_user_file_and_clear_errors(tmp_path, tiny_counts):
    path = tmp_path / "mine.h5ad"
    tiny_counts.layers["counts"] = tiny_counts.X.copy()
    tiny_counts.write_h5ad(path)
    out = tmp_path / "out.h5ad"
    args = ["fit", "--input", str(path), "--layer", "counts", "--batch-key", "batch"]
    assert main([*args, "--output", str(out), "--max-epochs", "1"]) == 0
    assert sc.read_h5ad(out).obsm["X_scssl_mae"].shape == (60, 32)
    assert main([*args[:-1], "donor", "--output", str(out)]) == 2  # unknown batch key
    assert main(["fit", "--input", str(tmp_path / "missing.h5ad"), "--output", str(out)]) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--output", "{input}"], "must differ from --input"),
        (["--output", "{tmp}/o.h5ad", "--labels-key", "cell_type"], "--labels-key 'cell_type'"),
        (["--output", "{tmp}/o.h5ad", "--layer", "raw"], "--layer 'raw'"),
    ],
)
def test_fit_cli_refuses_before_training_and_writes_nothing(
    tmp_path, tiny_counts, capsys, extra, message
):
    path = tmp_path / "mine.h5ad"
    tiny_counts.write_h5ad(path)
    before = path.read_bytes()
    extra = [e.format(input=path, tmp=tmp_path) for e in extra]
    assert main(["fit", "--input", str(path), *extra]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert path.read_bytes() == before  # the input is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.h5ad"]


def test_cli_refuses_non_h5ad_input_and_zero_epochs(tmp_path, capsys):
    table = tmp_path / "counts.csv"
    table.write_text("a,b\n1,2\n")
    assert main(["fit", "--input", str(table), "--output", str(tmp_path / "o.h5ad")]) == 2
    assert "not an .h5ad file" in capsys.readouterr().err
    fake = tmp_path / "fake.h5ad"
    fake.write_text("not hdf5")
    assert main(["fit", "--input", str(fake), "--output", str(tmp_path / "o.h5ad")]) == 2
    assert "could not be read as .h5ad" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse: exit code 2
        main(["fit", "--input", str(fake), "--output", "o.h5ad", "--max-epochs", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "scssl"  # from [project.scripts]
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "demo" in result.stdout and "fit" in result.stdout


def test_tl_and_fit_select_highly_variable_genes_by_default_and_say_so(
    tmp_path, baron_small, capsys
):
    adata = baron_small.copy()
    chosen = scssl.data.highly_variable_genes(adata, batch_key="donor", n_top_genes=150)
    assert len(chosen) == 150 and set(chosen) <= set(adata.var_names)
    scssl.tl.masked_ae(adata, batch_key="donor", n_top_genes=150, max_epochs=1)
    assert list(adata.uns["scssl_mae"]["genes"]) == list(chosen)
    assert adata.uns["scssl_mae"]["params"]["n_genes_used"] == 150
    assert adata.obsm["X_scssl_mae"].shape[0] == adata.n_obs and adata.n_vars == 600
    # the command line selects 2000 by default; with fewer genes than that, all are used
    path = tmp_path / "baron.h5ad"
    adata.write_h5ad(path)
    capsys.readouterr()  # drop what the library call above printed
    args = ["fit", "--input", str(path), "--batch-key", "donor", "--max-epochs", "1"]
    assert main([*args, "--n-top-genes", "100", "--output", str(tmp_path / "a.h5ad")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_genes_used"] == 100 and "highly variable" in report["gene_selection"]
    assert main([*args, "--output", str(tmp_path / "b.h5ad")]) == 0
    assert json.loads(capsys.readouterr().out)["gene_selection"] == "all genes"

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import scssl
from scssl.data import GeneProgrammes, read_gmt, read_regulons, read_tf_list, tf_candidates

DATA = scssl.data.data_dir()
GMT = DATA / "gene_programs"
TF = DATA / "tf"
needs_data = pytest.mark.skipif(not GMT.exists(), reason=f"shared data not found at {DATA}")


# -- GMT reader ----------------------------------------------------------------------------
def test_gmt_reader_copes_with_messy_lines(tmp_path):
    text = (
        "SET_A\t\tG1\tG2\tG2\t G3 \t\t\r\n"  # empty description, duplicate, spaces, trailing tabs
        "\r\n"  # blank line
        "SET_B\tna\tG4\r\n"  # placeholder description, CRLF
        "# a comment\n"
        "SET_C\thttp://x\tG5\tG6\rSET_D\t\t\n"  # old-Mac line end; SET_D has no genes
    )
    path = tmp_path / "messy.gmt"
    path.write_bytes(text.encode())
    sets = read_gmt(path)
    assert sets == {
        "SET_A": ["G1", "G2", "G3"],
        "SET_B": ["G4"],
        "SET_C": ["G5", "G6"],
        "SET_D": [],
    }


def test_gmt_reader_merges_repeated_names_and_reads_gzip(tmp_path):
    path = tmp_path / "dup.gmt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("S\tdesc\tA\tB\nS\tdesc\tB\tC\n")
    with pytest.warns(UserWarning, match="more than once"):
        sets = read_gmt(path)
    assert sets == {"S": ["A", "B", "C"]}


def test_gmt_reader_rejects_non_gmt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.gmt"
    bad.write_text("S\tdesc\tA\nthis line has no tab\n")
    with pytest.raises(ValueError, match="line 2: no tab"):
        read_gmt(bad)
    empty = tmp_path / "empty.gmt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="no gene sets"):
        read_gmt(empty)
    with pytest.raises(FileNotFoundError):
        read_gmt(tmp_path / "absent.gmt")


@needs_data
@pytest.mark.parametrize(
    ("name", "n_sets"),
    [
        ("h.all.v7.0.symbols.gmt", 50),
        ("c8.all.v7.5.1.symbols.gmt", 700),
        ("c3.tft.v7.5.1.symbols.gmt", 1128),
        ("ReactomePathways_2024-09-18.gmt", 2694),
        ("mouse_tf_targets.gmt", 2040),
    ],
)
def test_shared_gmt_files(name, n_sets):
    sets = read_gmt(GMT / name)
    assert len(sets) == n_sets
    for genes in sets.values():
        assert len(genes) == len(set(genes))
        assert all(g and g == g.strip() and "\t" not in g for g in genes)
    # the description column never leaks into the genes
    assert not any(
        g.startswith(("http", "R-HSA-", "converted_from")) for s in sets.values() for g in s
    )


@needs_data
def test_hallmark_content():
    sets = read_gmt(GMT / "h.all.v7.0.symbols.gmt")
    assert sets["HALLMARK_APOPTOSIS"][:3] == ["CASP3", "CASP9", "DFFA"]
    assert len(sets["HALLMARK_MYC_TARGETS_V1"]) == 200


# -- TF names and regulons ----------------------------------------------------------------
def test_tf_candidates_from_set_names():
    assert tf_candidates("ATF2_TARGET_GENES") == ["ATF2"]
    assert tf_candidates("NKX2_8_TARGET_GENES") == ["NKX2_8", "NKX2-8", "NKX2"]
    assert tf_candidates("E2F1_Q3")[-1] == "E2F1"


@needs_data
def test_c3_tf_from_name_resolves_hyphenated_symbols_against_the_data():
    c3 = GeneProgrammes.from_gmt(GMT / "c3.tft.v7.5.1.symbols.gmt", tf_from_name=True)
    assert c3.tfs["ATF5_TARGET_GENES"] == "ATF5"
    assert c3.tfs["NKX2_8_TARGET_GENES"] == "NKX2"  # prefix up to the first "_"
    targets = c3.genes["NKX2_8_TARGET_GENES"][:6]
    aligned = c3.subset(["NKX2_8_TARGET_GENES"]).align(["NKX2-8", *targets], min_genes=1)
    assert aligned.tfs == {"NKX2_8_TARGET_GENES": "NKX2-8"}
    # legacy motif names are flagged by the TF list
    checked = c3.check_tfs(TF / "lambert2018.txt")
    assert checked.loc["ATF5_TARGET_GENES", "in_tf_list"]
    assert not checked.loc["CMYB_01", "in_tf_list"]


@needs_data
def test_dorothea_confidence_filter_matches_the_table():
    raw = pd.read_csv(TF / "dorothea_hs.tsv.gz", sep="\t")
    ab = read_regulons(TF / "dorothea_hs.tsv.gz", confidence="AB")
    expected = raw[raw.confidence.isin(["A", "B"])]
    assert set(ab.names) == set(expected.tf)
    assert ab.tfs["MYC"] == "MYC"
    assert set(ab.genes["MYC"]) == set(expected.loc[expected.tf == "MYC", "target"])
    everything = read_regulons(TF / "dorothea_hs.tsv.gz", confidence=None)
    assert len(everything) > len(ab)
    with pytest.raises(ValueError, match="no edge has confidence"):
        read_regulons(TF / "dorothea_hs.tsv.gz", confidence="Z")


@needs_data
def test_collectri_reader():
    collectri = read_regulons(TF / "collectri_human_omnipath_export.csv.gz")
    assert len(collectri) == 1186
    assert "TERT" in collectri.genes["MYC"]
    assert all(collectri.tfs[name] == name for name in collectri.names)


def test_regulon_table_errors_name_the_columns():
    table = pd.DataFrame({"regulator": ["A"], "target": ["B"]})
    with pytest.raises(KeyError, match="column 'tf' not found"):
        read_regulons(table)
    gp = read_regulons(table, tf_column="regulator")
    assert gp.genes == {"A": ["B"]} and gp.tfs == {"A": "A"}


@needs_data
def test_tf_list_reader():
    tfs = read_tf_list(TF / "lambert2018.txt")
    assert len(tfs) == 1639 and "SOX9" in tfs


# -- container and alignment ---------------------------------------------------------------
def test_from_dict_validates_input():
    with pytest.raises(TypeError, match="not the string"):
        GeneProgrammes.from_dict({"a": "CD3E"})
    with pytest.raises(ValueError, match="no gene programmes"):
        GeneProgrammes.from_dict({})
    with pytest.raises(KeyError, match="gives no TF"):
        GeneProgrammes.from_dict({"a": ["X"], "b": ["Y"]}, tfs={"a": "T"})


def test_align_membership_filters_and_report():
    var_names = [f"G{i}" for i in range(10)]
    gp = GeneProgrammes.from_dict(
        {
            "small": ["G0", "G1"],
            "good": ["g2", "G3", "G4", "G2"],  # case and duplicate
            "big": [f"G{i}" for i in range(10)],
            "sparse": ["G5", "G6", "G7", "X1", "X2", "X3", "X4", "X5", "X6"],
        }
    )
    aligned = gp.align(var_names, min_genes=3, max_genes=8, min_overlap=0.5)
    assert aligned.names == ["good"]
    assert aligned.membership_dense()[0].nonzero()[0].tolist() == [2, 3, 4]
    assert aligned.genes["good"] == ["G2", "G3", "G4"]  # the data's spelling
    report = aligned.report
    assert report.loc["small", "reason"] == "fewer than 3 genes in the data (2)"
    assert report.loc["big", "reason"] == "more than 8 genes in the data (10)"
    assert report.loc["sparse", "reason"].startswith("overlap 0.33 below")
    assert report.loc["good", "kept"] and report.loc["good", "n_in_data"] == 3
    coverage = aligned.coverage()
    assert coverage["programmes_kept"] == 1 and coverage["programmes_dropped"] == 3
    assert coverage["genes_covered"] == 3 and coverage["fraction_genes_covered"] == 0.3
    assert sum(coverage["dropped_by_reason"].values()) == 3


def test_align_fails_clearly_when_nothing_matches():
    gp = GeneProgrammes.from_dict({"a": ["ENSG1", "ENSG2"]})
    with pytest.raises(ValueError, match="no programme .* passes the filters"):
        gp.align(["CD3E", "CD8A"], min_genes=1)
    with pytest.raises(ValueError, match="min_genes"):
        gp.align(["ENSG1"], min_genes=0)


def test_align_uses_a_symbol_column_and_case_sensitive_option():
    adata = AnnData(np.zeros((2, 3), dtype=np.float32))
    adata.var_names = ["ENSG1", "ENSG2", "ENSG3"]
    adata.var["symbol"] = ["Cd3e", "Cd8a", "Actb"]
    gp = GeneProgrammes.from_dict({"t": ["CD3E", "CD8A"]})
    assert gp.align(adata, gene_symbols="symbol", min_genes=2).genes == {"t": ["Cd3e", "Cd8a"]}
    with pytest.raises(ValueError, match="no programme"):
        gp.align(adata, gene_symbols="symbol", min_genes=2, case_sensitive=True)
    with pytest.raises(KeyError, match="not a column of adata.var"):
        gp.align(adata, gene_symbols="gene_name")


def test_tf_alignment_removes_the_tf_from_its_targets_and_checks_presence():
    gp = GeneProgrammes.from_dict(
        {"auto": ["T1", "A", "B"], "absent": ["A", "B"], "fake": ["A", "B"]},
        tfs={"auto": "T1", "absent": "T2", "fake": "B"},
    )
    aligned = gp.align(["T1", "A", "B"], min_genes=1, tf_list=["T1", "T2"])
    assert aligned.names == ["auto"]
    assert aligned.genes["auto"] == ["A", "B"]  # autoregulation removed
    assert aligned.tf_indices().tolist() == [0]
    assert aligned.report.loc["absent", "reason"] == "TF T2 not in the data"
    assert aligned.report.loc["fake", "reason"] == "B is not in the TF list"
    assert aligned.coverage()["genes_covered"] == 3  # the TF counts as covered


@needs_data
def test_human_sets_align_to_mouse_title_case_symbols():
    mouse = scssl.data.data_dir() / "scrna" / "mouse_pancreas_endocrinogenesis.h5ad"
    import anndata as ad

    var_names = ad.read_h5ad(mouse, backed="r").var_names.tolist()
    assert var_names[0][0].isupper() and not var_names[0].isupper()
    hallmark = GeneProgrammes.from_gmt(GMT / "h.all.v7.0.symbols.gmt")
    aligned = hallmark.align(var_names, min_genes=5)
    assert len(aligned) > 10
    genes = aligned.genes[aligned.names[0]]
    assert all(g in var_names for g in genes)
    mouse_sets = GeneProgrammes.from_gmt(GMT / "mouse_reactome.gmt").align(var_names, min_genes=5)
    assert aligned.coverage()["genes_covered"] > 0 and len(mouse_sets) > 10


@needs_data
def test_concat_subset_and_to_dict_round_trip(baron_small):
    h = GeneProgrammes.from_gmt(GMT / "h.all.v7.0.symbols.gmt")
    c8 = GeneProgrammes.from_gmt(GMT / "c8.all.v7.5.1.symbols.gmt")
    both = h.concat(c8)
    assert len(both) == 750 and both.tfs is None
    aligned = both.align(baron_small, min_genes=3)
    again = GeneProgrammes.from_dict(aligned.to_dict()).align(baron_small, min_genes=1)
    assert again.names == aligned.names
    assert (again.membership != aligned.membership).nnz == 0
    sub = aligned.subset(aligned.names[:3])
    assert sub.is_aligned and sub.membership.shape == (3, baron_small.n_vars)

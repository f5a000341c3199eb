"""Gene maps: renaming a query's genes into a reference's (orthologues of another species)."""

from __future__ import annotations

import pandas as pd
import pytest

import scssl
from scssl.data import map_gene_names, read_gene_map


def test_unmapped_genes_are_reported_and_can_match_no_reference_gene():
    names, report = map_gene_names(pd.Index(["Gcg", "Ttr", "Ins2"]), {"Gcg": "GCG", "Ins2": "INS"})
    assert list(names) == ["GCG", "unmapped:Ttr", "INS"]
    assert report.n_query == 3 and report.n_mapped == 2 and report.unmapped == ("Ttr",)
    assert "2 of 3 query genes renamed" in report.describe()


def test_pairs_that_are_not_one_to_one_are_dropped_never_merged():
    table = pd.DataFrame(
        {
            "mouse": ["Ins1", "Ins2", "Gcg", "Gcg", "Sst", "Sst", "Ttr"],
            "human": ["INS", "INS", "GCG", "GCG", "SST", "SST2", "TTR"],
        }
    )
    names, report = map_gene_names(pd.Index(["Ins1", "Ins2", "Gcg", "Sst", "Ttr"]), table)
    # Ins1 and Ins2 would both become INS; Sst has two partners; Gcg's duplicate row counts once
    assert list(names) == ["unmapped:Ins1", "unmapped:Ins2", "GCG", "unmapped:Sst", "TTR"]
    assert set(report.ambiguous) == {"Ins1", "Ins2", "Sst"} and report.unmapped == ()
    assert not names.has_duplicates


def test_letter_case_is_ignored_only_when_the_exact_name_is_absent_and_unique():
    table = pd.DataFrame(
        {"mouse": ["Ins2", "Gcg", "Abc", "ABC"], "human": ["INS", "GCG", "A", "B"]}
    )
    query = pd.Index(["INS2", "Gcg", "abc", "ABC"])
    names, report = map_gene_names(query, table)
    # INS2 finds Ins2 ignoring case; ABC matches exactly; abc is ambiguous ignoring case
    assert list(names) == ["INS", "GCG", "unmapped:abc", "B"]
    assert report.n_case_insensitive == 1 and report.ambiguous == ("abc",)


def test_the_orthologue_table_serves_both_directions():
    path = scssl.data.human_mouse_orthologues()
    mouse_to_human, source, target = read_gene_map(path, pd.Index(["Ins2", "Gcg", "Pdx1"]))
    assert (source, target) == ("gene.name", "human.gene.name")
    assert mouse_to_human["Gcg"] == "GCG" and mouse_to_human["Pdx1"] == "PDX1"
    human_to_mouse, source, _ = read_gene_map(path, pd.Index(["GCG", "PDX1"]))
    assert source == "human.gene.name" and human_to_mouse["GCG"] == "Gcg"
    mouse = scssl.data.mouse_pancreas()
    names, report = map_gene_names(mouse.var_names, path)
    assert report.n_mapped > 1000 and not names.has_duplicates
    assert names[mouse.var_names.get_loc("Gcg")] == "GCG"


def test_bad_gene_maps_fail_with_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="none of the query's genes"):
        map_gene_names(pd.Index(["ENSG1", "ENSG2"]), {"Gcg": "GCG"})
    with pytest.raises(FileNotFoundError, match="gene map file"):
        map_gene_names(pd.Index(["Gcg"]), tmp_path / "missing.csv")
    with pytest.raises(TypeError, match="gene_map must be"):
        map_gene_names(pd.Index(["Gcg"]), ["Gcg", "GCG"])
    with pytest.raises(ValueError, match="two columns"):
        map_gene_names(pd.Index(["Gcg"]), pd.DataFrame({"mouse": ["Gcg"]}))
    tsv = tmp_path / "map.tsv"
    tsv.write_text("mouse\thuman\nGcg\tGCG\n")
    assert list(map_gene_names(pd.Index(["Gcg"]), tsv)[0]) == ["GCG"]

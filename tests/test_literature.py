"""The published reference rows (literature.csv): every number as the literature prints it, each with its source."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from srrepro.reporting.literature import literature_for, literature_label, load_literature, no_literature_line

# Bicubic x4 (MATLAB imresize, Y, shave 4): PSNR / SSIM; SRCNN and VDSR: PSNR as tabulated by VDSR (CVPR 2016) Table 3
EXPECTED = {
    ("Bicubic", "Set5", "psnr"): 28.42, ("Bicubic", "Set5", "ssim"): 0.8104,
    ("Bicubic", "Set14", "psnr"): 26.00, ("Bicubic", "Set14", "ssim"): 0.7027,
    ("Bicubic", "BSD100", "psnr"): 25.96, ("Bicubic", "BSD100", "ssim"): 0.6675,
    ("Bicubic", "Urban100", "psnr"): 23.14, ("Bicubic", "Urban100", "ssim"): 0.6577,
    ("Bicubic", "Manga109", "psnr"): 24.89, ("Bicubic", "Manga109", "ssim"): 0.7866,
    ("SRCNN", "Set5", "psnr"): 30.48, ("SRCNN", "Set14", "psnr"): 27.49,
    ("SRCNN", "BSD100", "psnr"): 26.90, ("SRCNN", "Urban100", "psnr"): 24.52,
    ("VDSR", "Set5", "psnr"): 31.35, ("VDSR", "Set14", "psnr"): 28.01,
    ("VDSR", "BSD100", "psnr"): 27.29, ("VDSR", "Urban100", "psnr"): 25.18,
}


def test_the_file_holds_each_published_number_with_its_source():
    path = resources.files("srrepro").joinpath("reporting", "published", "literature.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["method", "dataset", "metric", "value", "cite", "source"]
    found = {(r["method"], r["dataset"], r["metric"]): float(r["value"]) for r in rows}
    assert len(found) == len(rows) == len(EXPECTED)  # no duplicate key
    assert found == pytest.approx(EXPECTED, abs=0)
    for r in rows:
        assert r["cite"].strip() and r["source"].strip(), r
        assert ("VDSR" in r["source"]) == (r["method"] in ("SRCNN", "VDSR")), r
    assert {r["cite"] for r in rows if r["method"] == "SRCNN"} == {"VDSR Table 3"}
    loaded = load_literature()
    assert len(loaded) == len(rows) and loaded["value"].tolist() == [float(r["value"]) for r in rows]


def test_lookups_and_the_line_for_a_run_without_published_datasets():
    assert literature_label("SRCNN", "VDSR Table 3") == "SRCNN (published: VDSR Table 3)"
    srcnn = literature_for(["Set5", "BSD100", "demo_test"], ["SRCNN"])
    assert srcnn[["dataset", "value"]].values.tolist() == [["Set5", 30.48], ["BSD100", 26.90]]
    assert literature_for(["demo_test"]).empty
    assert no_literature_line(["demo_test"], "SRCNN's published PSNR", ["SRCNN"]) == (
        "SRCNN's published PSNR: none for this run's test sets (demo_test); published values exist for Set5, Set14, "
        "BSD100, Urban100 (srrepro/reporting/published/literature.csv).")

"""The training-effects table: each PSNR-oriented model against bicubic, each GAN phase against its start (same
seed), with holds / fails as the numbers say, n/a where a metric is missing, and the arithmetic read from the run's
real manifest."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from srrepro.reporting.training_effects import (
    EXPECTED_LITERATURE,
    EXPECTED_PSNR,
    EXPECTED_TRADE_OFF,
    FAILS,
    HOLDS,
    NONE,
    precision_text,
    training_effects,
    write_training_effects,
)
from srrepro.training import train_variant

VARIANTS = {"psnr": {"procedure": "psnr", "init_from": None}, "gan": {"procedure": "ragan", "init_from": "psnr"},
            "scratch": {"procedure": "leftthomas", "init_from": None}}


def _rows(values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """Per-image rows of dataset 'demo_test' from {model: {metric: [per-image values]}}."""
    return pd.DataFrame([{"model": model, "dataset": "demo_test", "image": f"img{i}", "metric": metric, "value": v,
                          "note": "" if not math.isnan(v) else "not computable"}
                         for model, metrics in values.items() for metric, per_image in metrics.items()
                         for i, v in enumerate(per_image)])


def test_verdicts_follow_the_numbers_per_seed():
    rows = _rows({
        "bicubic": {"psnr": [27.0, 29.0], "lpips": [0.30, 0.34]},
        "psnr-s0": {"psnr": [27.6, 29.6], "lpips": [0.28, 0.30]},     # +0.6 dB: holds
        "psnr-s1": {"psnr": [27.2, 29.2], "lpips": [0.28, 0.30]},     # +0.2 dB: fails
        "gan-s0": {"psnr": [27.1, 29.1], "lpips": [0.20, 0.22]},      # lower LPIPS, lower PSNR than psnr-s0: holds
        "gan-s1": {"psnr": [27.5, 29.5], "lpips": [0.20, 0.22]},      # lower LPIPS but higher PSNR than psnr-s1: fails
        "scratch-s0": {"psnr": [26.0, 28.0], "lpips": [float("nan"), 0.3]},
    })
    effects = training_effects(rows, VARIANTS, labels={"gan": "GAN phase"}).set_index(["variant", "seed"])
    assert effects.loc[("psnr", 0), "ΔPSNR"] == pytest.approx(0.6) and effects.loc[("psnr", 0), "verdict"] == HOLDS
    assert effects.loc[("psnr", 1), "verdict"] == FAILS and effects.loc[("psnr", 1), "expected"] == EXPECTED_PSNR
    gan = effects.loc[("gan", 0)]
    assert (gan["model"], gan["compared with"], gan["expected"], gan["verdict"]) == (
        "GAN phase", "psnr", EXPECTED_TRADE_OFF, HOLDS)
    assert gan["ΔPSNR"] == pytest.approx(-0.5) and gan["ΔLPIPS"] == pytest.approx(-0.08)
    assert effects.loc[("gan", 1), "verdict"] == FAILS
    scratch = effects.loc[("scratch", 0)]
    assert scratch["compared with"] == "bicubic" and scratch["verdict"] == NONE and math.isnan(scratch["LPIPS"])


def test_the_arithmetic_comes_from_the_run_manifest(data_dir, tmp_path):
    spec = {"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
            "train": {"iterations": 1, "batch_size": 1, "hr_patch": 16, "validate_every": 0, "milestones": [1],
                      "amp": "fp32"}}
    train_variant(spec, data_dir, tmp_path / "run", seed=0, threads=1, progress=False)
    assert precision_text(tmp_path / "run" / "manifest.json") == "fp32 (as configured)"
    assert precision_text(tmp_path / "absent.json") == "n/a (no manifest)"


def test_the_document_counts_what_holds(tmp_path):
    rows = _rows({"bicubic": {"psnr": [27.0], "lpips": [0.3]}, "psnr-s0": {"psnr": [28.0], "lpips": [0.25]},
                  "gan-s0": {"psnr": [28.5], "lpips": [0.2]}})
    rows.to_csv(tmp_path / "all.csv", index=False)
    write_training_effects([tmp_path / "all.csv"], VARIANTS, {}, {}, tmp_path / "t.md", tmp_path / "t.csv",
                           tmp_path / "t.html", "note")
    markdown = (tmp_path / "t.md").read_text()
    assert "≥ bicubic + 0.5 dB: 1 of 1" in markdown
    assert "lower PSNR than their start: 0 of 1; not: gan (seed 0, demo_test)" in markdown
    assert len(pd.read_csv(tmp_path / "t.csv")) == 2 and "<table" in (tmp_path / "t.html").read_text()


def test_psnr_models_are_held_against_srcnns_published_psnr_where_published(tmp_path):
    rows = pd.concat([_rows({"bicubic": {"psnr": [28.0, 28.84], "lpips": [0.3, 0.3]},      # Set5 mean 28.42
                             "psnr-s0": {"psnr": [30.5, 30.56], "lpips": [0.2, 0.2]},      # 30.53 > 30.48
                             "psnr-s1": {"psnr": [30.4, 30.5], "lpips": [0.2, 0.2]},       # 30.45 < 30.48
                             "gan-s0": {"psnr": [29.0, 29.0], "lpips": [0.1, 0.1]}}).assign(dataset="Set5"),
                      _rows({model: {"psnr": [28.0], "lpips": [0.2]}  # demo_test: nothing published
                             for model in ("bicubic", "psnr-s0", "psnr-s1", "gan-s0")})])
    rows.to_csv(tmp_path / "all.csv", index=False)
    effects = write_training_effects([tmp_path / "all.csv"], VARIANTS, {}, {}, tmp_path / "t.md", tmp_path / "t.csv")
    srcnn = effects[effects["compared with"] == "SRCNN (published: VDSR Table 3)"].set_index("seed")
    # no GAN phase, no demo_test
    assert list(srcnn["variant"]) == ["psnr", "psnr"] and set(srcnn["dataset"]) == {"Set5"}
    assert srcnn.loc[0, "ΔPSNR"] == pytest.approx(30.53 - 30.48) and srcnn.loc[0, "verdict"] == HOLDS
    assert srcnn.loc[1, "ΔPSNR"] == pytest.approx(30.45 - 30.48) and srcnn.loc[1, "verdict"] == FAILS
    assert (srcnn["expected"] == EXPECTED_LITERATURE).all() and srcnn["ΔLPIPS"].isna().all()
    markdown = (tmp_path / "t.md").read_text()
    assert "above SRCNN's published PSNR: 1 of 2; not: psnr (seed 1, Set5)" in markdown
    shown = [[cell.strip() for cell in line.split("|")[1:-1]] for line in markdown.splitlines()
             if "| SRCNN (published: VDSR Table 3) |" in line]
    assert shown == [["psnr", "0", "Set5", "n/a (no manifest)", "SRCNN (published: VDSR Table 3)", "30.53", "+0.05",
                      "0.2000", "–", EXPECTED_LITERATURE, HOLDS],
                     ["psnr", "1", "Set5", "n/a (no manifest)", "SRCNN (published: VDSR Table 3)", "30.45", "-0.03",
                      "0.2000", "–", EXPECTED_LITERATURE, FAILS]]
    assert len(effects) == 2 * (2 + 1) + 2  # per test set: 2 against bicubic, the GAN phase; on Set5: 2 against SRCNN


def test_a_run_without_published_test_sets_says_so(tmp_path):
    _rows({"bicubic": {"psnr": [27.0]}, "psnr-s0": {"psnr": [28.0]}}).to_csv(tmp_path / "all.csv", index=False)
    effects = write_training_effects([tmp_path / "all.csv"], VARIANTS, {}, {}, tmp_path / "t.md", tmp_path / "t.csv")
    assert list(effects["compared with"]) == ["bicubic"]
    assert ("- SRCNN's published PSNR: none for this run's test sets (demo_test); published values exist for Set5, "
            "Set14, BSD100, Urban100 (srrepro/reporting/published/literature.csv).") in (tmp_path / "t.md").read_text()


def test_the_command_reads_each_runs_manifest(tmp_path):
    """`srrepro training-effects --manifest MODEL=PATH` (as the workflow calls it): the run's precision is shown; a
    manifest is an input, not an output the command checks for writing."""
    import json
    import subprocess
    import sys

    rows = [(model, "Set5", image, metric, value, "") for model, base in (("bicubic", 28.0), ("rrdb_psnr-s0", 29.0))
            for image in ("a", "b") for metric, value in (("psnr", base), ("lpips", 0.3 - base / 100))]
    metrics = []
    for model in ("bicubic", "rrdb_psnr-s0"):
        path = tmp_path / f"{model}.csv"
        pd.DataFrame([r for r in rows if r[0] == model],
                     columns=["model", "dataset", "image", "metric", "value", "note"]).to_csv(path, index=False)
        metrics.append(str(path))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"precision": {"amp": "fp32", "channels_last": False, "chosen": "as configured"}}))
    result = subprocess.run([sys.executable, "-m", "srrepro.cli", "training-effects", *metrics, "--variants",
                             json.dumps({"rrdb_psnr": {"procedure": "psnr", "init_from": None}}),
                             "--manifest", f"rrdb_psnr-s0={manifest}", "--md", str(tmp_path / "t.md"),
                             "--csv", str(tmp_path / "t.csv")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "fp32 (as configured)" in (tmp_path / "t.md").read_text()

"""Report tables: published values beside ours, differences, substitutions, n/a reasons and claim verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from srrepro.reporting.paper_tables import FAILS, HOLDS, NOISE, UNKNOWN, compare, judge_claims, render_markdown, verdict
from srrepro.metrics import metric_spec
from srrepro.reporting.table_specs import TABLES
from srrepro.reporting.published_values import load_published
from srrepro.reporting.summary import format_cell, summarise


def _summary(rows):
    return pd.DataFrame(rows, columns=["variant", "dataset", "metric", "mean", "std", "seeds", "note"])


def test_verdict_uses_direction_and_seed_noise():
    assert verdict((0.05, 0.001), (0.06, 0.001), lower=True) == HOLDS
    assert verdict((0.06, 0.001), (0.05, 0.001), lower=True) == FAILS
    assert verdict((0.055, 0.01), (0.056, 0.01), lower=True) == NOISE
    assert verdict((30.2, math.nan), (30.1, math.nan), lower=False) == HOLDS  # one seed: no noise estimate
    assert verdict((math.nan, 0), (1.0, 0), lower=False) == UNKNOWN
    assert metric_spec("LPIPS").lower_is_better and metric_spec("top1_error").lower_is_better
    assert not metric_spec("PSNR").lower_is_better


def test_every_table_row_and_claim_refers_to_published_cells():
    published = load_published()
    for spec in TABLES.values():
        cells = published[(published["paper"] == spec.paper) & (published["table"] == spec.name)]
        if spec.name == "spsagan_ablation":  # the paper gives only inference times for its ladder
            continue
        for row in spec.rows:
            hit = cells[(cells["method"] == row.method) & (cells["setting"] == row.setting)]
            assert not hit.empty, f"{spec.name}: no published cells for {row.method!r} {row.setting!r}"
        for dataset in spec.datasets:
            assert dataset in set(cells["dataset"]), f"{spec.name}: dataset {dataset!r} not in the paper's table"
        long = compare(spec, _summary([]), {d: d for d in spec.datasets})
        judge_claims(spec, long)  # raises when a claim names a missing row


def test_table1_cells_differences_substitutes_and_claims():
    spec = TABLES["table1"]
    summary = _summary(
        [
            ("esrgan", "demo_test", "psnr", 28.0, 0.1, 2, ""),
            ("esrgan", "demo_test", "lpips", 0.080, 0.002, 2, ""),
            ("fasrgan", "demo_test", "psnr", 28.2, 0.1, 2, ""),
            ("fasrgan", "demo_test", "lpips", 0.070, 0.002, 2, ""),
            ("fasrgan", "demo_test", "pi", np.nan, np.nan, 2, "asset 'nrqm-model' unavailable"),
            ("esrgan", "demo_test", "pi", np.nan, np.nan, 2, "asset 'nrqm-model' unavailable"),
        ]
    )
    mapping = {"Set5": "demo_test", "Urban100": None, "BSD100": "demo_test", "DIV2K val": "demo_test", "PIRM val": "demo_test"}
    long = compare(spec, summary, mapping)
    cell = long[(long["method"] == "ESRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "PSNR")].iloc[0]
    assert cell["paper"] == 30.46 and cell["ours_mean"] == 28.0
    assert cell["difference"] == pytest.approx(28.0 - 30.46) and bool(cell["substitute"])
    urban = long[(long["method"] == "ESRGAN") & (long["dataset"] == "Urban100") & (long["metric"] == "PSNR")].iloc[0]
    assert math.isnan(urban["ours_mean"]) and "not available" in urban["note"]
    pi = long[(long["method"] == "FASRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "PI")].iloc[0]
    assert math.isnan(pi["ours_mean"]) and "nrqm-model" in pi["note"]
    enhance = long[(long["method"] == "EnhanceNet") & (long["metric"] == "LPIPS") & (long["dataset"] == "Set5")].iloc[0]
    assert enhance["paper"] == 0.0488 and "not replicated" in enhance["note"]

    claims = judge_claims(spec, long).set_index("claim")
    lpips_set5 = claims.loc["FASRGAN has lower LPIPS than ESRGAN on Set5"]
    assert lpips_set5["paper"] == HOLDS and lpips_set5["ours"] == HOLDS  # 0.0325 < 0.0350; 0.070 < 0.080
    assert claims.loc["FASRGAN has lower LPIPS than ESRGAN on Urban100"]["ours"] == UNKNOWN
    assert claims.loc["FASRGAN has lower PI than ESRGAN on Set5"]["ours"] == UNKNOWN

    text = render_markdown(spec, long, judge_claims(spec, long), "demo scale")
    assert "30.46 / 28.00 ± 0.10 (Δ -2.46)" in text
    assert "Set5 → `demo_test`" in text and "## Claims" in text and "nrqm-model" in text


def test_summary_mean_and_std_over_seeds_and_na_propagation():
    rows = pd.DataFrame(
        [
            ("fasrgan-s0", "Set5", "a", "psnr", 30.0, ""),
            ("fasrgan-s0", "Set5", "b", "psnr", 32.0, ""),
            ("fasrgan-s1", "Set5", "a", "psnr", 29.0, ""),
            ("fasrgan-s1", "Set5", "b", "psnr", 31.0, ""),
            ("fasrgan-s0", "Set5", "a", "pi", np.nan, "asset 'nrqm-model' unavailable"),
            ("bicubic", "Set5", "a", "psnr", 28.0, ""),
        ],
        columns=["model", "dataset", "image", "metric", "value", "note"],
    )
    summary = summarise(rows).set_index(["variant", "metric"])
    assert summary.loc[("fasrgan", "psnr"), "mean"] == pytest.approx(30.5)
    assert summary.loc[("fasrgan", "psnr"), "std"] == pytest.approx(np.std([31.0, 30.0], ddof=1))
    assert summary.loc[("fasrgan", "psnr"), "seeds"] == 2
    assert math.isnan(summary.loc[("fasrgan", "pi"), "mean"]) and "nrqm" in summary.loc[("fasrgan", "pi"), "note"]
    assert summary.loc[("bicubic", "psnr"), "seeds"] == 1 and math.isnan(summary.loc[("bicubic", "psnr"), "std"])
    assert format_cell(np.nan, np.nan, "pi", "asset 'nrqm-model' unavailable") == "n/a (asset 'nrqm-model' unavailable)"
    assert format_cell(30.5, 0.7071, "psnr") == "30.50 ± 0.71"

"""Report tables: published values beside ours, differences, substitutions, n/a reasons and claim verdicts."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from PIL import Image

from srrepro.metrics import metric_spec
from srrepro.reporting.documents import to_markdown
from srrepro.reporting.figures import DPI, SIZES, tradeoff_plot
from srrepro.reporting.paper_tables import (FAILS, HOLDS, NOT_RELEASED, RELEASED_NOT_EVALUATED, TIE, UNDECIDED, UNKNOWN,
                                            compare, document, judge_claims, per_image_values, verdict)
from srrepro.reporting.published_values import load_published
from srrepro.reporting.summary import format_cell, summarise, write_overview
from srrepro.reporting.table_specs import RELEASED_MODELS, RELEASED_ROWS, TABLES


def _summary(rows):
    return pd.DataFrame(rows, columns=["variant", "dataset", "metric", "mean", "std", "seeds", "note"])


IMAGE_OFFSETS = (-0.004, -0.001, 0.002, 0.003)


def _values(summary):
    """Per-image values behind a summary: per seed a value of that seed's mean (the seeds' means have the summary's
    mean and std) plus an offset per image shared by every model; models with one seed are unseeded."""
    records = []
    for r in summary.itertuples():
        seeds = int(r.seeds) if r.seeds else 1
        spread = np.linspace(-1, 1, seeds) if seeds > 1 else np.zeros(1)
        spread = spread / spread.std(ddof=1) if seeds > 1 else spread
        for k, offset in enumerate(spread):
            for i, image_offset in enumerate(IMAGE_OFFSETS):
                value = r.mean + offset * (0 if math.isnan(r.std) else r.std) + image_offset * abs(r.mean)
                records.append((r.variant, k if seeds > 1 else np.nan, r.dataset, f"img{i}", r.metric.lower(), value))
    return pd.DataFrame(records, columns=["variant", "seed", "dataset", "image", "metric", "value"])


def test_paper_verdict_uses_direction():
    assert verdict(0.05, 0.06, lower=True) == HOLDS
    assert verdict(0.06, 0.05, lower=True) == FAILS
    assert verdict(30.1, 30.1, lower=False) == TIE
    assert verdict(math.nan, 1.0, lower=False) == UNKNOWN
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

    # Each claim judged once on demo_test (standing for four paper datasets), once per unavailable dataset
    claims = judge_claims(spec, long, _values(summary)).set_index("claim")
    assert claims.index.str.match(r"FASRGAN has lower (LPIPS|PI) than ESRGAN on ").sum() == 4
    assert len(claims) == len(set(claims.index)) == 54  # every sentence's pairs (tests/test_claims.py), judged once
    lpips = claims.loc["FASRGAN has lower LPIPS than ESRGAN on demo_test"]
    assert lpips["paper"] == "Set5: holds; BSD100: holds; DIV2K val: holds; PIRM val: holds"  # 0.0325 < 0.0350 ...
    assert lpips["ours"] == HOLDS and lpips["dataset"] == "Set5; BSD100; DIV2K val; PIRM val"
    assert lpips["released"] == UNKNOWN  # the released weights were not evaluated
    assert claims.loc["FASRGAN has lower LPIPS than ESRGAN on Urban100"][["paper", "ours"]].tolist() == [HOLDS, UNKNOWN]
    assert claims.loc["FASRGAN has lower PI than ESRGAN on demo_test"]["ours"] == UNKNOWN
    assert lpips["seeds × images"] == "2 × 4" and lpips["ours_interval"].startswith("+0.0100 [")
    assert judge_claims(spec, long)["ours"].eq(UNKNOWN).all()  # without per-image values nothing is judged

    text = to_markdown(document(spec, long, judge_claims(spec, long, _values(summary)), "demo scale"))
    assert text.count("| demo_test ") == 1  # our values shown once ...
    assert text.count("28.00 ± 0.10") == 1 and "| paper: Set5 " in text and "| paper: PIRM val " in text
    assert "(Δ" not in text  # ... and no difference against a different dataset
    assert "`demo_test` stands for Set5, BSD100, DIV2K val, PIRM val" in text and "## Claims" in text
    assert "nrqm-model" in text and "Urban100: not evaluated" in text


def test_same_dataset_shows_the_difference():
    spec = TABLES["table6"]
    summary = _summary([("srgan", "Set5", "psnr", 29.0, np.nan, 1, "")])
    long = compare(spec, summary, {"Set5": "Set5"})
    text = to_markdown(document(spec, long, judge_claims(spec, long), "scale"))
    paper = long[(long["method"] == "SRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "PSNR")].iloc[0]["paper"]
    assert f"{paper:.2f} (Δ {29.0 - paper:.2f})" in text


def test_spsagan_table1_esrgan_is_trained_in_spsagans_setting_beside_the_release():
    spec = TABLES["spsagan_table1"]
    summary = _summary([(model, "OST300", "pi", value, np.nan, 1, "") for model, value in (
        ("esrgan", 3.0), ("spsa_esrgan", 2.8), ("released_esrgan", 2.9), ("spsagan", 2.7),
        ("srresnet_psnr", 5.0), ("released_srresnet", 5.5))])
    long = compare(spec, summary, {"BSD100": None, "OST": "OST300"})
    cell = lambda method: long[(long["method"] == method) & (long["dataset"] == "OST")  # noqa: E731
                               & (long["metric"] == "PI")].iloc[0]
    esrgan = cell("ESRGAN")
    assert (esrgan["variant"], esrgan["ours_mean"]) == ("spsa_esrgan", 2.8)  # not DIV2K-only esrgan's 3.0
    assert (esrgan["released"], esrgan["released_value"]) == ("released_esrgan", 2.9)
    srresnet = cell("SRResNet")
    assert srresnet["ours_mean"] == 5.0 and srresnet["released"] == "" and math.isnan(srresnet["released_value"])
    claims = judge_claims(spec, long, _values(summary)).set_index("claim")
    assert claims.loc["SPSAGAN has lower PI than ESRGAN on OST300"][["ours", "released"]].tolist() == [HOLDS, "–"]
    text = to_markdown(document(spec, long, claims.reset_index(), "scale"))
    assert "spsa_esrgan" in text and "official release" in text and "Ledig" in text


def test_released_weights_column_and_verdicts():
    rows = {r.method + (f"|{r.setting}" if r.setting else ""): r.released for t in TABLES.values() for r in t.rows}
    assert rows["FASRGAN"] == "released_fasrgan" and rows["ESRGAN"] == "released_esrgan"
    assert rows["Fs-SRGAN"] == "released_fs_srgan" and rows["FA+Fs-SRGAN"] == "released_fa_fs_srgan"
    assert rows["SRResNet"] == "" and rows["FASRGAN|with FA"] == "released_fasrgan"  # Ledig's, not BasicSR's
    assert rows["FASRGAN|w/o FA"] is None and rows["FASRGAN|FT"] is None and rows["SRGAN"] is None
    assert rows["FASRGAN|lambda2=0.01"] is None
    assert set(RELEASED_ROWS.values()) <= set(RELEASED_MODELS)

    spec = TABLES["table1"]
    summary = _summary(
        [
            ("fasrgan", "Set5", "lpips", 0.070, 0.002, 2, ""),
            ("esrgan", "Set5", "lpips", 0.080, 0.002, 2, ""),
            ("released_fasrgan", "Set5", "lpips", 0.0325, np.nan, 1, ""),
            ("released_esrgan", "Set5", "lpips", 0.0350, np.nan, 1, ""),
            ("released_fasrgan", "Set5", "pi", np.nan, np.nan, 1, "asset 'nrqm-model' unavailable"),
        ]
    )
    long = compare(spec, summary, {"Set5": "Set5"})
    get = lambda method, metric: long[(long["method"] == method) & (long["dataset"] == "Set5")  # noqa: E731
                                      & (long["metric"] == metric)].iloc[0]
    assert get("FASRGAN", "LPIPS")["released_value"] == 0.0325
    assert get("FASRGAN", "PI")["released_note"] == "asset 'nrqm-model' unavailable"
    assert get("Fs-SRGAN", "LPIPS")["released_note"] == RELEASED_NOT_EVALUATED
    assert get("SRGAN", "LPIPS")["released"] == "" and get("SRGAN", "LPIPS")["released_note"] == ""
    claims = judge_claims(spec, long, _values(summary)).set_index("claim")
    assert claims.loc["FASRGAN has lower LPIPS than ESRGAN on Set5"][["paper", "ours", "released"]].tolist() == [
        HOLDS, HOLDS, HOLDS]
    assert claims.loc["FASRGAN has lower PI than ESRGAN on Set5"]["released"] == UNKNOWN
    text = to_markdown(document(spec, long, judge_claims(spec, long), "scale"))
    released_line = next(line for line in text.splitlines() if "| released weights " in line and "LPIPS" not in line
                         and "0.0325" in line)
    assert "0.0350" in released_line
    assert f"] {RELEASED_NOT_EVALUATED}" in text
    # a table whose rows have no released weights shows no such row; claims about them read '–'
    six = TABLES["table6"]
    long6 = compare(six, _summary([]), {"Set5": "Set5"})
    assert "released weights" not in to_markdown(document(six, long6, judge_claims(six, long6), "scale"))
    assert set(judge_claims(six, long6)["released"]) == {NOT_RELEASED}


def test_spsagan_ablation_is_judged_on_fig11_images_and_metrics():
    """The ladder's claims: PSNR, SSIM and PI on OST_012/020/033/095 (Fig. 11), not LPIPS, not the whole set."""
    fig11, other = ("OST_012", "OST_020", "OST_033", "OST_095"), "OST_001"
    records = []
    for model, base in (("spsa_esrgan-s0", 25.0), ("spsa_fattn-s0", 26.0), ("spsa_seg-s0", 27.0)):
        for i, image in enumerate(fig11 + (other,)):
            if model == "spsa_seg-s0" and image == "OST_095":
                continue  # not evaluated: the subset's mean is n/a, saying why
            psnr = {"spsa_esrgan-s0": 40.0, "spsa_fattn-s0": 20.0}.get(model, 30.0) if image == other else base + i / 10
            records += [(model, "OST300", image, "psnr", psnr, ""),
                        (model, "OST300", image, "lpips", 0.1, ""),
                        (model, "OST300", image, "pi", 5.0 - base / 10 + i / 100, "")]
    frame = pd.DataFrame(records, columns=["model", "dataset", "image", "metric", "value", "note"])
    summary = summarise(frame)
    spec = TABLES["spsagan_ablation"]
    assert {c.dataset for c in spec.claims} == {"OST Fig. 11"}
    assert {c.metric for c in spec.claims} == {"PSNR", "SSIM", "PI"} and "LPIPS" in spec.metrics
    long = compare(spec, summary, {"OST Fig. 11": "OST300_fig11", "OST": "OST300", "BSD100": None})
    get = lambda rung, dataset, metric: long[(long["method"] == rung) & (long["dataset"] == dataset)  # noqa: E731
                                             & (long["metric"] == metric)].iloc[0]
    assert get("+ feature attention", "OST Fig. 11", "PSNR")["ours_mean"] == pytest.approx(26.15)  # the 4 images
    assert get("+ feature attention", "OST", "PSNR")["ours_mean"] < get("ESRGAN", "OST", "PSNR")["ours_mean"]
    assert get("+ feature attention", "OST Fig. 11", "LPIPS")["ours_mean"] == pytest.approx(0.1)  # an extra column
    seg = get("+ segmentation attention", "OST Fig. 11", "PSNR")
    assert math.isnan(seg["ours_mean"]) and "OST_095 not among the evaluated images of OST300" in seg["note"]
    claims = judge_claims(spec, long, per_image_values(frame)).set_index("claim")
    fattn = claims.loc["feature attention improves PSNR over ESRGAN on OST300_fig11"]
    assert fattn["ours"] == HOLDS and fattn["paper"] == f"OST Fig. 11: {UNKNOWN}"  # Fig. 11's numbers are not in the paper's text
    assert claims.loc["feature attention improves PI over ESRGAN on OST300_fig11"]["ours"] == HOLDS
    assert claims.loc["segmentation attention improves PSNR over feature attention alone on OST300_fig11"]["ours"] \
        == UNKNOWN
    assert not claims.index.str.contains("LPIPS").any()
    demo = compare(spec, summary, {"OST Fig. 11": None, "OST": None, "BSD100": None})  # no OST: n/a, saying why
    cell = demo[(demo["dataset"] == "OST Fig. 11") & (demo["method"] == "ESRGAN")].iloc[0]
    assert math.isnan(cell["ours_mean"]) and "'OST Fig. 11' is not available" in cell["note"]
    assert set(judge_claims(spec, demo)["ours"]) == {UNKNOWN}


def test_qualitative_figure_shows_the_named_images_at_the_named_crops(tmp_path):
    """reports.qualitative.images: each named image of its dataset, cut at ``at`` (else its most textured block),
    from HR and every model; a name the dataset lacks is an n/a panel saying so."""
    from srrepro.imaging.images import write_image
    from srrepro.reporting.figures import CROP_CELL, crop_grid_shape, crop_panels, figure_crops

    rng = np.random.default_rng(0)
    images = {}
    for dataset, stems in (("Set14", ("img_001", "img_002")), ("Manga109", ("OhWareraRettouSeitokai",))):
        for stem in stems:
            hr = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
            hr[30:, :] = 128  # flat: the most textured 16-px block is above
            images[dataset, stem] = hr
            write_image(tmp_path / dataset / "HR" / f"{stem}.png", hr)
            write_image(tmp_path / "sr" / dataset / f"{stem}.png", 255 - hr)
    items = [{"figure": "Fig. 7", "dataset": "Set14", "image": "img_002", "at": [20, 8]},
             {"figure": "Fig. 8", "dataset": "Manga109", "image": "OhWareraRettouSeitokai"},
             {"dataset": "Set14", "image": "baboon"}]
    items = [{**item, "hr_dir": tmp_path / item["dataset"] / "HR",
              "sr_dirs": {"ESRGAN (seed 0)": tmp_path / "sr" / item["dataset"]}} for item in items]
    groups, places = crop_panels(items, 16)
    (hr_label, hr_crop), (sr_label, sr_crop) = groups[0]
    assert hr_label == "Fig. 7: Set14/img_002 — HR" and sr_label == "ESRGAN (seed 0)"
    assert np.array_equal(hr_crop, images["Set14", "img_002"][20:36, 8:24])
    assert np.array_equal(sr_crop, 255 - images["Set14", "img_002"][20:36, 8:24])
    manga = images["Manga109", "OhWareraRettouSeitokai"]
    top, left = map(int, re.search(r"at \((\d+), (\d+)\), most textured", places[1]).groups())
    assert top + 16 <= 30 and np.array_equal(groups[1][0][1], manga[top:top + 16, left:left + 16])
    assert groups[2] == [("Set14/baboon: n/a, no image 'baboon' in Set14 (reports.qualitative.images)", None)]
    figure_crops(items, 16, tmp_path / "crops.png", "scale")
    columns, rows = crop_grid_shape(2, [2, 2, 1])
    assert (columns, rows) == (2, 3)
    with Image.open(tmp_path / "crops.png") as img:
        assert img.size == (round(CROP_CELL[0] * columns * DPI), round(CROP_CELL[1] * rows * DPI))


def test_fig5_labels_do_not_overlap(tmp_path):
    """25 models, five of them on the same point and the rest in a tight cluster: every label is placed where its
    box (as drawn in the written PNG) meets no other label and stays inside the figure."""
    rng = np.random.default_rng(0)
    labels = [f"model {i} " + "x" * (i % 4) * 6 for i in range(25)]
    points = pd.DataFrame({"label": labels, "rmse": 10 + rng.normal(0, 0.2, 25), "lpips": 0.2 + rng.normal(0, 0.01, 25),
                           "rmse_std": 0.05, "lpips_std": 0.002})
    points.loc[:4, ["rmse", "lpips"]] = [10.0, 0.2]
    boxes = tradeoff_plot(points, tmp_path / "fig5.png", "trade-off", "a note under the plot")
    assert len(boxes) == 25
    overlapping = [(i, j) for i in range(25) for j in range(i + 1, 25) if boxes[i].overlaps(boxes[j])]
    assert overlapping == []
    width, height = int(SIZES["fig5"][0] * DPI), int(SIZES["fig5"][1] * DPI)
    with Image.open(tmp_path / "fig5.png") as img:
        assert img.size == (width, height)
    assert all(0 <= b.x0 and b.x1 <= width and 0 <= b.y0 and b.y1 <= height for b in boxes)


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
    assert format_cell(np.nan, np.nan, "pi", "n/a [1]") == "n/a [1]"
    assert format_cell(30.5, 0.7071, "psnr") == "30.50 ± 0.71"


def _metric_file(path, datasets):
    """A tidy metric CSV: bicubic and one PSNR model, two images per dataset, PSNR, SSIM and LPIPS."""
    rows = [(model, dataset, image, metric, value + 0.01 * k, "")
            for dataset in datasets for k, image in enumerate(("a", "b"))
            for model, values in (("bicubic", (28.0, 0.80, 0.40)), ("rrdb_psnr-s0", (30.0, 0.86, 0.30)))
            for metric, value in zip(("psnr", "ssim", "lpips"), values)]
    pd.DataFrame(rows, columns=["model", "dataset", "image", "metric", "value", "note"]).to_csv(path, index=False)
    return path


def test_overview_shows_the_published_rows_of_the_evaluated_datasets(tmp_path):
    metrics = _metric_file(tmp_path / "m.csv", ["Set5", "BSD100"])
    write_overview([metrics], {"rrdb_psnr": "RRDB_PSNR"}, "All", tmp_path / "o.md", tmp_path / "o.csv",
                   tmp_path / "o.html")
    table = pd.read_csv(tmp_path / "o.csv", index_col=0, dtype=str, keep_default_na=False)
    bicubic, srcnn, vdsr = ("Bicubic (published: ESRGAN suppl. Table 2)", "SRCNN (published: VDSR Table 3)",
                            "VDSR (published: VDSR Table 3)")
    assert list(table.index) == ["Bicubic", "RRDB_PSNR", bicubic, srcnn, vdsr]
    assert list(table.columns) == [f"{d} {m}" for d in ("Set5", "BSD100") for m in ("PSNR", "SSIM", "LPIPS")]
    assert table.loc["RRDB_PSNR"].tolist() == ["30.01", "0.8650", "0.3050", "30.01", "0.8650", "0.3050"]
    assert table.loc[bicubic].tolist() == ["28.42", "0.8104", "–", "25.96", "0.6675", "–"]
    assert table.loc[srcnn].tolist() == ["30.48", "–", "–", "26.90", "–", "–"]
    assert table.loc[vdsr].tolist() == ["31.35", "–", "–", "27.29", "–", "–"]
    markdown = (tmp_path / "o.md").read_text()
    assert "| SRCNN (published: VDSR Table 3)            | 30.48       | –" in markdown
    assert "- SRCNN (published: VDSR Table 3): Kim et al., VDSR (CVPR 2016), Table 3" in markdown
    html = (tmp_path / "o.html").read_text()
    assert '<tr class="paper"><td>VDSR (published: VDSR Table 3)</td><td>31.35</td>' in html


def test_overview_of_a_run_without_published_datasets_says_so(tmp_path):
    metrics = _metric_file(tmp_path / "m.csv", ["demo_test"])
    write_overview([metrics], {"rrdb_psnr": "RRDB_PSNR"}, "All", tmp_path / "o.md", tmp_path / "o.csv")
    assert list(pd.read_csv(tmp_path / "o.csv", index_col=0).index) == ["Bicubic", "RRDB_PSNR"]
    line = ("Published rows: none for this run's test sets (demo_test); published values exist for Set5, Set14, "
            "BSD100, Urban100, Manga109 (srrepro/reporting/published/literature.csv).")
    assert line in (tmp_path / "o.md").read_text()


def test_wus_table_is_measured_with_wus_protocol_and_every_table_states_its_protocol():
    from srrepro.reporting.table_specs import protocol_metrics

    spec = TABLES["wu_table1"]
    summary = _summary([
        ("wu_srgan", "Set5", "psnr", 30.0, 0.1, 2, ""), ("wu_srgan", "Set5", "psnr_rgb", 28.0, 0.1, 2, ""),
        ("wu_srgan", "Set5", "ssim", 0.85, 0.01, 2, ""), ("wu_srgan", "Set5", "ssim_rgb", 0.80, 0.01, 2, ""),
        ("wu_attention", "Set5", "psnr", 29.0, 0.1, 2, ""), ("wu_attention", "Set5", "ssim", 0.84, 0.01, 2, ""),
    ])
    long = compare(spec, summary, {"Set5": "Set5"}).set_index(["method", "dataset", "metric"])
    assert long.loc[("SRGAN", "Set5", "PSNR"), "ours_mean"] == 28.0  # RGB, not the Y channel's 30.0
    assert long.loc[("SRGAN", "Set5", "SSIM"), "ours_mean"] == 0.80
    new = long.loc[("New model", "Set5", "PSNR")]  # only Y values: n/a, saying which metric is missing
    assert math.isnan(new["ours_mean"]) and new["note"].startswith("psnr_rgb was not computed on Set5")
    assert protocol_metrics() == ["psnr_rgb", "ssim_rgb"]  # what the workflow evaluates beside evaluation.metrics
    for name, table in TABLES.items():
        part = compare(table, _summary([]), {d: None for d in table.datasets})
        text = to_markdown(document(table, part, judge_claims(table, part), "scale"))
        assert "Protocol (how each metric is measured here):" in text, name
        for metric in table.metrics:
            if metric not in table.unreplicable:
                measured = "psnr_rgb" if (name, metric) == ("wu_table1", "PSNR") else (
                    "ssim_rgb" if (name, metric) == ("wu_table1", "SSIM") else metric.lower())
                assert f"{metric}: `{measured}`, {metric_spec(measured).description}" in text, (name, metric)

"""The whole workflow on a tiny configuration, run once by `dvc repro` (whose stages call the Snakemake targets, the
last one the default `all` target): every table, figure and the index page checked on content, Snakemake's own
report, and a second `dvc repro` / `snakemake` that do nothing.

Tiny: ESRGAN and FASRGAN (1-RRDB, 8-channel networks, 6 iterations from scratch, one seed), evaluated on Set5
from the mirror, trained on the embedded demo photographs; Set14 is mapped to Set5 so one evaluated set stands in
for two of the paper's.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import scipy.stats
import pytest
import yaml
from PIL import Image

from browser import Browser, page_facts
from srrepro.reporting.figures import CROP_CELL, DPI, SIZES, crop_grid_shape
from srrepro.reporting.paper_tables import RELEASED_NOT_EVALUATED
from srrepro.reporting.table_specs import FIGURE_CAPTIONS, FIGURES, PAPER_TABLES, TABLES

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROJECT_FILES = ["Snakefile", "workflow", "src", "dvc.yaml", "data.dvc", ".dvc/config", ".dvcignore"]
TRAIN = {"batch_size": 2, "hr_patch": 32, "iterations": 6, "checkpoint_every": 3, "validate_every": 3,
         "milestones": [4], "val_metrics": ["psnr"]}
STAGES = ("prepare_data", "experiments", "tables", "figures", "index")
TIMES: dict[str, float] = {}


def _config(mirror: Path, assets: Path) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    rrdb = {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8}
    config.update(
        seeds=[0],
        data={"mirror": str(mirror / "SelfExSR"), "train": "demo_train", "validation": "Set5", "test": ["Set5"],
              "imagenet": None},
        evaluation={"metrics": ["psnr", "ssim", "rmse", "lpips", "pi"], "tile": None, "recognition_limit": 10},
    )
    config["paths"]["assets"] = str(assets)
    config["released"] = {"models": ["esrgan"]}  # offline: evaluated as n/a, with the command that fetches it
    config["reports"].update(
        datasets={"Set5": "Set5", "Set14": "Set5", "Urban100": None}, tradeoff_dataset="Set5", split_dataset="Set5",
        timing_dataset="Set5", splits={}, curves={"FASRGAN": "fasrgan"}, qualitative={"images": [{"dataset": "Set5", "image": "img_001"}], "crop": 32},
    )
    config["variants"] = {
        "esrgan": {"label": "ESRGAN", "procedure": "ragan", "generator": rrdb,
                   "discriminator": {"arch": "vgg128", "nf": 8, "input_size": 32},
                   "perceptual_layer": "vgg16_conv5_3", "train": dict(TRAIN)},
        "fasrgan": {"label": "FASRGAN", "procedure": "ragan_fa",
                    "generator": {**rrdb, "arch": "rrdbnet_unet", "d_nf": 8, "d_input_size": 32},
                    "perceptual_layer": "vgg16_conv5_3", "train": dict(TRAIN)},
    }
    return config


def _run(args: list[str], cwd: Path, timeout: int = 900) -> str:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        logs = "".join(f"\n--- {p}\n{p.read_text()[-1500:]}" for p in sorted((cwd / "logs").rglob("*.log"))[-3:])
        raise AssertionError(f"{' '.join(args)} failed:\n{output[-6000:]}{logs}")
    return output


@pytest.fixture(scope="module")
def project(mirror_dir, asset_cache, tmp_path_factory) -> tuple[Path, str]:
    """A copy of the project with the tiny config.yaml, in a fresh git repository, after one `dvc repro`."""
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, target)
    (root / "config.yaml").write_text(yaml.safe_dump(_config(mirror_dir, asset_cache), sort_keys=False,
                                                     allow_unicode=True))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    start = time.time()
    output = _run([str(BIN / "dvc"), "repro"], cwd=root)
    TIMES["dvc repro"] = time.time() - start
    return root, output


def test_dvc_repro_runs_every_stage(project):
    root, output = project
    for stage in STAGES:
        assert f"Running stage '{stage}'" in output, output[-3000:]
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert set(STAGES) <= set(lock)
    outs = {o["path"] for stage in lock.values() for o in stage.get("outs", [])}
    assert {"results/metrics", "results/recognition.csv", "reports/tables", "reports/figures",
            "reports/index.html"} <= outs
    # one metrics file per evaluated model
    assert sorted(p.name for p in (root / "results" / "metrics").iterdir()) == [
        "bicubic.csv", "esrgan-s0.csv", "fasrgan-s0.csv", "released_esrgan.csv"]


def test_default_target_is_complete(project):
    root, _ = project
    # the same `snakemake` the stages ran (rules call the CLI with the interpreter that runs Snakemake)
    output = _run([str(BIN / "snakemake"), "--cores", "1", "-n"], cwd=root)
    assert "Nothing to be done" in output, output[-3000:]


def _table(root: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A paper table's CSV: its cells (numbers as floats) and its claims."""
    frame = pd.read_csv(root / "reports" / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)
    cells = frame[frame["metric"] != "claim"].copy()
    for column in ("paper", "ours_mean", "ours_std", "difference", "released_value"):
        cells[column] = [float(v) if v else math.nan for v in cells[column]]
    cells["substitute"] = cells["substitute"] == "True"
    return cells, frame[frame["metric"] == "claim"]


def _summary(root: Path) -> dict[tuple[str, str], float]:
    summary = pd.read_csv(root / "results" / "summary.csv")
    return {(r.variant, r.metric): r.mean for r in summary[summary["dataset"] == "Set5"].itertuples()}


def test_paper_tables(project):
    root, _ = project
    for name in PAPER_TABLES:
        for suffix in ("md", "csv", "html"):
            assert (root / "reports" / "tables" / f"{name}.{suffix}").stat().st_size > 0, (name, suffix)
    long, claims = _table(root, "table1")
    cell = long[(long["method"] == "ESRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "PSNR")].iloc[0]
    # our cell is the mean over Set5's images of the model's per-image PSNR
    per_image = pd.read_csv(root / "results" / "metrics" / "esrgan-s0.csv")
    psnr = per_image[(per_image["dataset"] == "Set5") & (per_image["metric"] == "psnr")]["value"]
    assert len(psnr) == 5 and cell["ours_mean"] == pytest.approx(psnr.mean(), abs=1e-9)
    assert cell["paper"] == 30.46 and not cell["substitute"] and pd.isna(cell["ours_std"])  # one seed
    assert cell["difference"] == pytest.approx(cell["ours_mean"] - 30.46)
    assert cell["released"] == "released_esrgan" and pd.isna(cell["released_value"])
    assert cell["released_note"] == ("asset 'released-esrgan' unavailable: fetch it with `srrepro assets released-esrgan` "
                                     "or supply assets.local.released-esrgan")  # offline
    fs = long[(long["method"] == "Fs-SRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "PSNR")].iloc[0]
    assert fs["released_note"] == RELEASED_NOT_EVALUATED  # not in released.models
    pi = long[(long["method"] == "FASRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "PI")].iloc[0]
    assert pd.isna(pi["ours_mean"]) and "nrqm-model" in pi["note"]
    urban = long[(long["method"] == "FASRGAN") & (long["dataset"] == "Urban100")].iloc[0]
    assert "not available in this configuration" in urban["note"]
    assert "not replicated" in long[long["method"] == "EnhanceNet"].iloc[0]["note"]
    assert "variant 'srgan' is not part of this configuration" in long[long["method"] == "SRGAN"].iloc[0]["note"]
    # Claims: LPIPS and PI on Set5, and on each paper dataset not evaluated here (Urban100, BSD100, DIV2K, PIRM val)
    assert claims["claim"].str.match(r"FASRGAN has lower (LPIPS|PI) than ESRGAN on ").sum() == 2 * 5
    lpips = claims[claims["claim"] == "FASRGAN has lower LPIPS than ESRGAN on Set5"].iloc[0]
    # one seed: the interval is the paired t-test's over Set5's 5 images (scipy's ttest_rel as the reference)
    lpips_of = lambda model: pd.read_csv(root / "results" / "metrics" / f"{model}-s0.csv").query(  # noqa: E731
        "dataset == 'Set5' and metric == 'lpips'").set_index("image")["value"].sort_index()
    test = scipy.stats.ttest_rel(lpips_of("esrgan"), lpips_of("fasrgan"))
    # (no p-value where the two models' values are equal image for image: no difference to decide)
    decided = bool(test.pvalue < 0.05)
    assert lpips["ours"] == ("undecided" if not decided else "holds" if test.statistic > 0 else "fails")
    assert lpips["seeds × images"] == "1 × 5"
    assert lpips["paper"] == "holds" and lpips["released"] == "n/a"  # 0.0325 < 0.0350; released not evaluated
    assert claims[claims["claim"] == "FASRGAN has lower PI than ESRGAN on Set5"].iloc[0]["ours"] == "n/a"

    # Table VI: Set5 evaluated once, standing for the paper's Set5 and Set14; one claim per metric on it
    long6, claims6 = _table(root, "table6")
    assert set(long6[long6["our_dataset"] == "Set5"]["dataset"]) == {"Set5", "Set14"}
    fa = claims6[claims6["claim"] == "SRGAN_FA has lower LPIPS than SRGAN on Set5"].iloc[0]
    assert fa["dataset"] == "Set5; Set14" and fa["paper"].startswith("Set5: ") and "; Set14: " in fa["paper"]
    assert fa["ours"] == "n/a" and fa["released"] == "–"
    text6 = (root / "reports" / "tables" / "table6.md").read_text()
    assert text6.count("| Set5 ") == 1 and "paper: Set14" in text6 and "`Set5` stands for Set14" in text6

    # Table III without ImageNet images: every value n/a with the reason
    long3, _ = _table(root, "table3")
    ours3 = long3[long3["variant"].isin(["hr", "bicubic", "esrgan", "fasrgan"])]
    assert len(ours3) == 4 * 2 and ours3["ours_mean"].isna().all()
    assert (ours3["note"] == "ImageNet validation images not configured (data.imagenet)").all()


def test_overview_and_model_analysis(project):
    root, _ = project
    overview = pd.read_csv(root / "reports" / "tables" / "overview.csv", index_col=0, dtype=str)
    srcnn = "SRCNN (published: VDSR Table 3)"  # the literature's rows for Set5, below this run's
    assert list(overview.index) == ["Bicubic", "ESRGAN", "FASRGAN", "ESRGAN (released)",
                                    "Bicubic (published: ESRGAN suppl. Table 2)", srcnn,
                                    "VDSR (published: VDSR Table 3)"]
    assert (overview.loc[srcnn, "Set5 PSNR"], overview.loc[srcnn, "Set5 PI"]) == ("30.48", "–")
    means = _summary(root)
    for label, model in (("Bicubic", "bicubic"), ("ESRGAN", "esrgan"), ("FASRGAN", "fasrgan")):
        assert overview.loc[label, "Set5 PSNR"] == f"{means[(model, 'psnr')]:.2f}"
        assert overview.loc[label, "Set5 PI"] == "n/a [1]"
    assert 26 < means[("bicubic", "psnr")] < 32  # MATLAB bicubic on Set5 (published: 28.42)
    assert "[1] asset 'nrqm-model' unavailable" in (root / "reports" / "tables" / "overview.md").read_text()
    effects = pd.read_csv(root / "reports" / "tables" / "training_effects.csv").set_index("variant")
    for model in ("esrgan", "fasrgan"):  # GAN procedures from scratch: against bicubic, no expectation
        row = effects.loc[model]
        assert (row["seed"], row["dataset"], row["compared with"], row["verdict"]) == (0, "Set5", "Bicubic", "–")
        assert row["ΔPSNR"] == pytest.approx(means[(model, "psnr")] - means[("bicubic", "psnr")], abs=1e-9)
        assert row["trained in"] == "fp32 (as configured)"  # read from the run's manifest
    analysis = pd.read_csv(root / "reports" / "tables" / "model_analysis.csv")
    assert list(analysis["method"]) == ["ESRGAN", "FASRGAN"]
    assert analysis["ours_paper_scale_params_M"].iloc[0] == pytest.approx(16.697987, abs=1e-6)
    assert (analysis["ours_time_s"] > 0).all()


def test_figures_are_images_of_the_expected_size(project):
    root, _ = project
    crops = 2 + 2  # HR, bicubic and the two models
    columns, rows = crop_grid_shape(crops)
    expected = {name: (round(w * DPI), round(h * DPI)) for name, (w, h) in SIZES.items()}
    expected["qualitative"] = (round(CROP_CELL[0] * columns * DPI), round(CROP_CELL[1] * rows * DPI))
    assert set(expected) == set(FIGURES)
    for name in FIGURES:
        with Image.open(root / "reports" / "figures" / f"{name}.png") as img:
            img.load()
            assert img.format == "PNG" and img.size == expected[name], name
            assert len(img.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20, f"{name} is blank"


def test_index_page_in_a_real_browser(project):
    root, _ = project
    index = root / "reports" / "index.html"
    text = index.read_text()
    for name in [*PAPER_TABLES, "training_effects", "overview", "model_analysis", *FIGURES]:
        assert f'id="{name}"' in text, name
    with Browser(root / ".browser-profile", width=1280, height=2000) as browser:
        browser.load(index)
        facts = page_facts(browser)
        browser.screenshot(root / "reports" / "index-screenshot.png")
    assert facts["results"] == len(PAPER_TABLES) + 2  # one per paper table, the overview and the model analysis
    # the index's claims, each paper table's claims and the training effects' verdicts
    assert facts["claims"] == 2 + sum(1 for t in TABLES.values() if t.claims)
    assert [(i["complete"], i["width"] > 0) for i in facts["images"]] == [(True, True)] * len(FIGURES)
    assert facts["verdicts"]["holds"] > 0 and facts["verdicts"]["na"] > 0


def test_snakemake_report(project):
    root, _ = project
    report = root / "reports" / "report.html"
    start = time.time()
    _run([str(BIN / "snakemake"), "--report", str(report)], cwd=root)
    TIMES["snakemake --report"] = time.time() - start
    text = report.read_text()
    for caption in FIGURE_CAPTIONS.values():
        assert caption.split(":")[0] in text, caption  # "FASRGAN Fig. 5" ...
    for needle in ["Paper tables", "Figures", "Summary page", "Table I", "table6.html", "fig5.png", "index.html",
                   "Every evaluated model"]:
        assert needle in text, needle


def test_second_dvc_repro_does_nothing(project):
    root, _ = project
    start = time.time()
    output = _run([str(BIN / "dvc"), "repro"], cwd=root)
    TIMES["second dvc repro"] = time.time() - start
    assert "Running stage" not in output and "up to date" in output, output[-3000:]
    print(" ".join(f"{k}: {v:.0f} s;" for k, v in TIMES.items()))

"""The `released` track end to end: synthetic files in each official key layout (random weights of the real
architectures) given as ``released.unverified_files``, the `released` and `table1` targets run by Snakemake on Set5
from the mirror, and every released model's Set5 numbers in table1's released row, equal to the per-image metrics
the pipeline wrote and to our own inference of the same file."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from released_files import official_files
from srrepro.imaging.images import read_image
from srrepro.inference import load_generator, upscale
from srrepro.metrics import get_metric
from srrepro.models.released import RELEASED_MODELS, model_id
from srrepro.reporting.table_specs import TABLES, protocol_metrics

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
METRICS = ["psnr", "ssim", "lpips"]


@pytest.fixture(scope="module")
def released_run(mirror_dir, asset_cache, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("released")
    files = {}
    for index, name in enumerate(RELEASED_MODELS):
        _, paths = official_files(name, root / "weights" / name, seed=index, grey=0.3 + 0.08 * index)
        files[name] = "+".join(str(p) for p in paths)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    tiny = {"label": "RRDB_PSNR", "procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
            "train": {"iterations": 2, "batch_size": 2, "hr_patch": 32, "milestones": [1], "validate_every": 0}}
    config.update(seeds=[0], variants={"rrdb_psnr": tiny},  # the schema wants one trained model; table1 lists none
                  data={"mirror": str(mirror_dir / "SelfExSR"), "train": "demo_train", "validation": None,
                        "test": ["Set5"], "imagenet": None},
                  evaluation={"metrics": METRICS, "tile": None, "recognition_limit": 10},
                  released={"models": list(RELEASED_MODELS), "unverified_files": files})
    config["paths"]["assets"] = str(asset_cache)
    config["reports"].update(datasets={"Set5": "Set5"}, tradeoff_dataset="Set5", split_dataset="Set5",
                             timing_dataset="Set5", splits={}, curves={}, qualitative={"images": [{"dataset": "Set5", "image": "img_001"}], "crop": 32})
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--configfile", "config.yaml",
                             "--cores", "2", "released", "table1"], cwd=root, capture_output=True, text=True,
                            timeout=1800, env=env)
    logs = "".join(f"\n--- {p}\n{p.read_text()[-1500:]}" for p in sorted((root / "logs").rglob("*.log")))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:] + logs[-4000:]
    return root


def test_every_released_model_is_evaluated_on_every_set5_image(released_run):
    for name in RELEASED_MODELS:
        metrics = pd.read_csv(released_run / "results" / "metrics" / f"{model_id(name)}.csv")
        # evaluation.metrics and the tables' protocol metrics (Wu's psnr_rgb / ssim_rgb), which every model gets
        assert set(metrics["dataset"]) == {"Set5"} and set(metrics["metric"]) == {*METRICS, *protocol_metrics()}, name
        assert metrics.groupby("metric")["image"].nunique().eq(5).all(), name
        assert metrics["value"].notna().all() and np.isfinite(metrics["value"]).all(), name
    psnr = {name: pd.read_csv(released_run / "results" / "metrics" / f"{model_id(name)}.csv").query(
        "metric == 'psnr'")["value"].mean() for name in RELEASED_MODELS}
    assert len({round(v, 3) for v in psnr.values()}) == len(psnr)  # six different networks, six different outputs


def test_table1_shows_each_released_model_beside_the_paper(released_run):
    table = pd.read_csv(released_run / "reports" / "tables" / "table1.csv")
    rows = [row for row in TABLES["table1"].rows if row.released]
    assert {row.released for row in rows} <= {model_id(n) for n in RELEASED_MODELS}
    for row in rows:
        metrics = pd.read_csv(released_run / "results" / "metrics" / f"{row.released}.csv")
        for metric in METRICS:
            cell = table[(table["method"] == row.method) & (table["dataset"] == "Set5")
                         & (table["metric"].str.lower() == metric)]
            assert len(cell) == 1, (row.method, metric)
            expected = metrics.query(f"metric == '{metric}'")["value"].mean()
            assert float(cell["released_value"].iloc[0]) == pytest.approx(expected, abs=1e-9), (row.method, metric)
            assert not math.isnan(float(cell["paper"].iloc[0])), (row.method, metric)  # the published value beside it
    markdown = (released_run / "reports" / "tables" / "table1.md").read_text()
    assert "released weights" in markdown and "snakemake released" not in markdown  # nothing left unevaluated


def test_the_pipeline_numbers_are_those_of_the_released_file(released_run):
    """Our own inference of one synthetic file, outside the workflow, gives the PSNR the workflow recorded."""
    name = "fa_fs_srgan"
    spec = yaml.safe_load((released_run / "config.yaml").read_text())["released"]["unverified_files"][name]
    generator = load_generator(spec)
    prepared = released_run / "results" / "prepared" / "Set5"
    image = sorted((prepared / "HR").glob("*.png"))[0]
    sr = upscale(generator, read_image(prepared / "LR_x4" / image.name))
    ours = get_metric("psnr", scale=4)(sr, read_image(image))
    metrics = pd.read_csv(released_run / "results" / "metrics" / f"{model_id(name)}.csv")
    recorded = metrics.query(f"metric == 'psnr' and image == '{image.stem}'")["value"]
    assert len(recorded) == 1 and recorded.iloc[0] == pytest.approx(ours, abs=1e-6)

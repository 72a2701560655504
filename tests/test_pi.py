"""Perceptual index: the formula, and Ma / PI against published values when the NRQM model can be used."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from srrepro.data.assets import fetch_asset
from srrepro.metrics import get_metric
from srrepro.metrics.perceptual_index import perceptual_index

# pyiqa calibration (MATLAB originals) on its distorted images I03, I04, I06, I08, I19
PUBLISHED_MA = {"I03": 1.3894, "I04": 8.9394, "I06": 8.9735, "I08": 6.829, "I19": 6.312}
PUBLISHED_PI = {"I03": 11.9235, "I04": 3.072, "I06": 2.618, "I08": 2.8074, "I19": 6.7713}




def test_formula():
    assert perceptual_index(10.0, 0.0) == 0.0
    assert perceptual_index(5.0, 3.0) == 4.0
    assert perceptual_index(1.3894, 22.4576) == pytest.approx(15.5341)
    # PIRM's published pairs satisfy PI = ((10 - Ma) + NIQE) / 2 with NIQE = 2 PI - 10 + Ma
    assert perceptual_index(8.9394, 2 * 3.072 - 10 + 8.9394) == pytest.approx(3.072)


def test_ma_and_pi_against_published_values(nrqm_model, asset_cache):
    # the model file is there: any MetricUnavailable is a failure, not a skip
    ma, pi = get_metric("ma", {"cache_dir": asset_cache}), get_metric("pi", {"cache_dir": asset_cache})
    calibra = fetch_asset("pyiqa-calibra", asset_cache)
    for name in PUBLISHED_MA:
        with Image.open(calibra / "dist_dir" / f"{name}.bmp") as img:
            rgb = np.asarray(img.convert("RGB"))
        assert abs(ma(rgb, None) - PUBLISHED_MA[name]) < 0.05, name
        assert abs(pi(rgb, None) - PUBLISHED_PI[name]) < 0.3, name

"""NIQE against MATLAB's original ``computequality.m`` on pyiqa's calibration images.

pyiqa publishes two MATLAB columns for its five distorted images (``dist_dir``):

* ``niqe`` 15.7536, 3.6549, 3.2355, 3.1840, 8.6352 — Mittal's original code and pristine model
  (``modelparameters.mat``, the model of the PIRM code and of this project) on ``rgb2gray`` input;
* ``niqe_matlab`` 7.20, 2.99, 3.17, 3.71, 7.69 — the Image Processing Toolbox ``niqe`` with its own built-in
  model, a different parameter set. Our original-model NIQE cannot and should not match those.

The test therefore runs our NIQE on MATLAB ``rgb2gray`` (rounded) and compares with the first column. I19 is
posterised: 31 % of its pixels lie in flat areas where the MSCN map ``I - mu`` is the rounding noise of the
Gaussian filter (about 1e-14), and the AGGD fits count the signs of that noise. Its NIQE is therefore fixed only
up to floating-point order: filtering as MATLAB's ``imfilter`` does (two 1-D passes with SVD factors of the 7x7
window), or perturbing those factors by one ulp, moved our I19 anywhere between +0.03 and +0.44 from MATLAB while
the other four images moved by less than 0.04 (measured on this data). pyiqa's port is off by 0.44 there too. We
keep the plain 2-D filter (+0.49) and give I19 a wider tolerance rather than tune bits to one image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import skip_unless_ci
from PIL import Image

from srrepro.data.assets import fetch_asset
from srrepro.errors import AssetUnavailable, MetricUnavailable
from srrepro.metrics import get_metric
from srrepro.imaging.matlab import rgb2gray_uint8
from srrepro.metrics.niqe import gaussian_window, load_pristine, niqe_quality

MATLAB_ORIGINAL = {"I03": 15.7536, "I04": 3.6549, "I06": 3.2355, "I08": 3.1840, "I19": 8.6352}
TOLERANCE = {"I03": 0.05, "I04": 0.05, "I06": 0.05, "I08": 0.05, "I19": 0.6}




def _or_skip(fn):
    try:
        return fn()
    except (AssetUnavailable, MetricUnavailable) as err:
        skip_unless_ci(f"NIQE assets unavailable: {err}")


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def test_gaussian_window_matches_basicsr(asset_cache):
    with np.load(_or_skip(lambda: fetch_asset("niqe-pristine", asset_cache))) as params:
        assert np.allclose(params["gaussian_window"], gaussian_window(), atol=1e-15)


def test_calibration_images_match_matlab_original(asset_cache):
    mu, cov = _or_skip(lambda: load_pristine({"cache_dir": asset_cache}))
    calibra = _or_skip(lambda: fetch_asset("pyiqa-calibra", asset_cache))
    failures = []
    for name, expected in MATLAB_ORIGINAL.items():
        gray = rgb2gray_uint8(_rgb(calibra / "dist_dir" / f"{name}.bmp"))
        value = niqe_quality(gray, mu, cov)
        if abs(value - expected) > TOLERANCE[name]:
            failures.append(f"{name}: {value:.4f} vs MATLAB {expected} (|diff| {abs(value - expected):.4f} > {TOLERANCE[name]})")
    assert not failures, "; ".join(failures)


def test_bicubic_upscaling_scores_worse_than_hr(mirror_dir, asset_cache):
    metric = _or_skip(lambda: get_metric("niqe", {"cache_dir": asset_cache}, scale=4))
    folder = mirror_dir / "SelfExSR" / "Set5" / "image_SRF_4"
    hr = _rgb(folder / "img_001_SRF_4_HR.png")
    from srrepro.imaging.matlab import imresize

    blurred = imresize(imresize(hr, 0.25), 4.0)
    sharp, soft = metric(hr, None), metric(blurred, None)
    assert 2.0 < sharp < soft, f"NIQE HR {sharp:.3f} should be below NIQE of bicubic x4 {soft:.3f}"
    cropped = get_metric("niqe", {"cache_dir": asset_cache}, shave=4)(hr, None)
    assert cropped != sharp


def test_image_below_two_blocks_is_na_with_reason(asset_cache):
    metric = _or_skip(lambda: get_metric("niqe", {"cache_dir": asset_cache}))
    with pytest.raises(MetricUnavailable, match="smaller than NIQE's 192 px minimum"):
        metric(np.zeros((128, 300, 3), np.uint8), None)


def test_flat_image_is_na_with_reason(asset_cache):
    """A black SR image (a collapsed generator: the paper smoke run's SPSAGAN after 2 iterations from scratch) has no
    block with defined features: n/a with the reason instead of numpy's 'SVD did not converge' ending the job."""
    metric = _or_skip(lambda: get_metric("niqe", {"cache_dir": asset_cache}))
    with pytest.raises(MetricUnavailable, match="4 of 4 blocks have undefined features"):
        metric(np.zeros((192, 192, 3), np.uint8), None)
    assert np.isfinite(metric(np.random.default_rng(0).integers(0, 256, (192, 192, 3), dtype=np.uint8), None))

"""Evaluation protocol conformance: the paper's Set5 FASRGAN row and the published bicubic baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from srrepro.imaging.images import mod_crop
from srrepro.imaging.matlab import imresize
from srrepro.imaging.images import read_image
from srrepro.metrics import get_metric
from srrepro.imaging.matlab import rgb2y as rgb_to_y
from srrepro.metrics.fidelity import psnr, rmse, ssim

SET5_NAMES = ["baby", "bird", "butterfly", "head", "woman"]


def _bicubic_scores(mirror_dir, dataset):
    """Mean PSNR/SSIM of MATLAB bicubic down x1/4 then up x4 of the mod-cropped HR (Y, shave 4)."""
    psnrs, ssims = [], []
    for hr_file in sorted((mirror_dir / "SelfExSR" / dataset / "image_SRF_4").glob("*_HR.png")):
        hr = mod_crop(read_image(hr_file), 4)
        sr = imresize(imresize(hr, 1 / 4), 4)
        psnrs.append(psnr(sr, hr, 4))
        ssims.append(ssim(sr, hr, 4))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def test_fasrgan_set5_reproduces_table_one(mirror_dir):
    folder = mirror_dir / "FASRGAN-results" / "Set5"
    pairs = [(read_image(folder / "FASRGAN" / f"{n}.png"), read_image(folder / "HR" / f"{n}.png")) for n in SET5_NAMES]
    mean_psnr = float(np.mean([psnr(sr, hr, 4) for sr, hr in pairs]))
    mean_ssim = float(np.mean([ssim(sr, hr, 4) for sr, hr in pairs]))
    message = f"FASRGAN Set5: PSNR {mean_psnr:.4f} dB, SSIM {mean_ssim:.5f} (paper: 30.15 / 0.8450)"
    print(message)
    assert round(mean_psnr, 2) == 30.15, message
    assert round(mean_ssim, 4) == 0.8450, message
    # The classic mistake, RGB PSNR, is ~1.9 dB lower: the Y protocol must not be confused with it.
    rgb_psnr = np.mean([10 * math.log10(255**2 / np.mean((sr[4:-4, 4:-4].astype(float) - hr[4:-4, 4:-4]) ** 2))
                        for sr, hr in pairs])
    assert mean_psnr - rgb_psnr > 1.5, f"RGB PSNR {rgb_psnr:.2f} vs Y PSNR {mean_psnr:.2f}"


@pytest.mark.parametrize(("dataset", "published_psnr", "published_ssim"),
                         [("Set5", 28.42, 0.8104), ("BSD100", 25.96, 0.6675)])
def test_bicubic_baseline_matches_published(mirror_dir, dataset, published_psnr, published_ssim):
    mean_psnr, mean_ssim = _bicubic_scores(mirror_dir, dataset)
    message = (f"bicubic {dataset}: PSNR {mean_psnr:.4f} dB, SSIM {mean_ssim:.5f} "
               f"(published {published_psnr} / {published_ssim})")
    print(message)
    assert abs(mean_psnr - published_psnr) <= 0.02, message
    # Published SSIMs differ by a few 1e-4 between evaluation codes (float vs 8-bit Y).
    assert abs(mean_ssim - published_ssim) <= 0.001, message


def test_bicubic_set14_with_grayscale_images(mirror_dir):
    """Set14 img_003 (bridge) is an 8-bit grayscale file; we replicate it to RGB, so its Y is 16 + 219 g / 255.

    The published 26.00 measures that image on its raw gray values instead (MATLAB code only converts 3-channel
    images), whose errors are 255/219 times larger: -20 log10(255/219) = -1.32 dB on that image, -0.094 dB on the
    14-image mean. img_010 (man) is stored as RGB and is converted to Y by every code, so it needs no correction.
    """
    mean_psnr, mean_ssim = _bicubic_scores(mirror_dir, "Set14")
    grayscale_shift = 20 * math.log10(255 / 219) / 14
    message = (f"bicubic Set14: PSNR {mean_psnr:.4f} dB (minus grayscale shift {grayscale_shift:.4f}: "
               f"{mean_psnr - grayscale_shift:.4f}), SSIM {mean_ssim:.5f} (published 26.00 / 0.7027)")
    print(message)
    assert abs(mean_psnr - grayscale_shift - 26.00) <= 0.02, message
    assert abs(mean_ssim - 0.7027) <= 0.003, message


def test_rgb_to_y_values():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 10, 10]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(img)[0], [16.0, 235.0, 16 + 65.481, 16 + 219 * 10 / 255])


def test_identical_and_shape_errors():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8)
    assert psnr(img, img, 4) == math.inf
    assert ssim(img, img, 4) == pytest.approx(1.0)
    assert rmse(img, img, 4) == 0.0
    with pytest.raises(ValueError, match=r"\(32, 40, 3\).*\(32, 36, 3\)"):
        psnr(img, img[:, :36], 4)


def test_rmse_uses_rounded_y_and_matches_psnr_scale(mirror_dir):
    folder = mirror_dir / "FASRGAN-results" / "Set5"
    sr, hr = read_image(folder / "FASRGAN" / "bird.png"), read_image(folder / "HR" / "bird.png")
    value = rmse(sr, hr, 4)
    from_psnr = 255 * 10 ** (-psnr(sr, hr, 4) / 20)  # RMSE of float Y
    assert value != pytest.approx(from_psnr, abs=1e-9)  # 8-bit Y differs from float Y ...
    assert value == pytest.approx(from_psnr, rel=0.02)  # ... but only slightly
    # One-level Y change of a single pixel: the RMSE follows the 8-bit arithmetic exactly.
    flat = np.full((12, 12, 3), 100, dtype=np.uint8)
    brighter = flat.copy()
    brighter[6, 6] = 102  # Y 101.88 -> 103.60: float difference 1.72, 8-bit difference 102 -> 104
    assert rmse(brighter, flat, 0) == pytest.approx(math.sqrt(4 / 144))


def test_registered_metrics_and_defaults(mirror_dir):
    folder = mirror_dir / "FASRGAN-results" / "Set5"
    sr, hr = read_image(folder / "FASRGAN" / "head.png"), read_image(folder / "HR" / "head.png")
    metric = get_metric("psnr", scale=4)
    assert (metric.name, metric.needs_reference, metric.lower_is_better) == ("psnr", True, False)
    assert metric(sr, hr) == psnr(sr, hr, 4)
    assert get_metric("psnr", scale=2)(sr, hr) == psnr(sr, hr, 2)
    assert get_metric("ssim", scale=4, shave=0)(sr, hr) == ssim(sr, hr, 0)
    rmse_metric = get_metric("rmse", scale=2)
    assert rmse_metric.lower_is_better and rmse_metric(sr, hr) == rmse(sr, hr, 4)  # PIRM shave_width 4


def test_rgb_metrics_of_wus_protocol_match_scikit_image(mirror_dir):
    """psnr_rgb / ssim_rgb (leftthomas/SRGAN's test code: RGB in [0, 1], no shave; pytorch_ssim's zero-padded
    11x11 Gaussian) against scikit-image on the authors' real Set5 FASRGAN outputs. pytorch_ssim filters with zero
    padding ('same' size), which is scikit-image's SSIM of the images zero-padded by the window radius (5): its mean
    drops exactly those 5 px again."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    folder = mirror_dir / "FASRGAN-results" / "Set5"
    psnr_rgb, ssim_rgb = get_metric("psnr_rgb", scale=4), get_metric("ssim_rgb", scale=4)
    for name in SET5_NAMES:
        sr, hr = read_image(folder / "FASRGAN" / f"{name}.png"), read_image(folder / "HR" / f"{name}.png")
        a, b = sr.astype(np.float64) / 255, hr.astype(np.float64) / 255
        assert psnr_rgb(sr, hr) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), rel=1e-12)
        pad = ((5, 5), (5, 5), (0, 0))
        expected = structural_similarity(np.pad(b, pad), np.pad(a, pad), gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, channel_axis=2, data_range=1.0)
        assert ssim_rgb(sr, hr) == pytest.approx(expected, abs=1e-10)
        unpadded = structural_similarity(b, a, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         channel_axis=2, data_range=1.0)
        assert abs(ssim_rgb(sr, hr) - unpadded) > 1e-4  # the border handling is pytorch_ssim's, not the 'valid' one
        # and both differ from the main paper's protocol (Y, 4 px shaved): the Y PSNR is higher on these images
        assert psnr(sr, hr, 4) - psnr_rgb(sr, hr) > 1.0
    assert (psnr_rgb.name, psnr_rgb.lower_is_better, ssim_rgb.name, ssim_rgb.lower_is_better) == (
        "psnr_rgb", False, "ssim_rgb", False)

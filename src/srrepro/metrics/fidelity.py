"""Fidelity metrics: PSNR and SSIM on Y (the main paper's protocol), the PIRM-2018 RMSE, and PSNR and SSIM on RGB
(the protocol of the leftthomas/SRGAN test code behind Wu's Table 1).

* Y = 16 + (65.481 R + 128.553 G + 24.966 B) with R, G, B in [0, 1]: the BT.601 luma on the 0..255 scale,
  kept as float for PSNR and SSIM (the authors' BasicSR code; reproduces Table I).
* ``shave`` pixels are removed on every side before measuring (the scale, 4, by default).
* SSIM (Wang et al. 2004): 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, 'valid'
  filtering, mean of the SSIM map.
* RGB (``psnr_rgb``, ``ssim_rgb``): R, G, B in [0, 1], no shave. PSNR = 10 log10(1 / MSE) over all three channels
  (leftthomas ``test_benchmark.py``); SSIM as ``pytorch_ssim``: per channel, the same 11x11 Gaussian window, C1 = 0.01²,
  C2 = 0.03², 'same' filtering with zero padding (windows reach past the border), mean over the map and the channels.

Inputs are uint8 RGB arrays (H, W, 3) of equal shape.
"""

from __future__ import annotations

import numpy as np

from srrepro.imaging.matlab import filter2_valid, gaussian_1d, rgb2y, rgb2y_uint8
from srrepro.metrics.registry import register_metric

_SSIM_WINDOW = gaussian_1d(11, 1.5)
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
# PIRM-2018 evaluate_results.m: shave_width = 4, independent of the scale factor.
PIRM_SHAVE = 4


def _pair_y(sr: np.ndarray, hr: np.ndarray, shave: int, convert=rgb2y) -> tuple[np.ndarray, np.ndarray]:
    """Y channels (float, or ``rgb2y_uint8``'s rounded) of both images with ``shave`` pixels removed from every border."""
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise ValueError(f"image shapes differ: sr {sr.shape} vs hr {hr.shape}")
    if shave < 0 or 2 * shave >= min(sr.shape[:2]):
        raise ValueError(f"shave {shave} is invalid for images of shape {sr.shape}")
    region = (slice(shave, sr.shape[0] - shave), slice(shave, sr.shape[1] - shave))
    return convert(sr)[region], convert(hr)[region]


def psnr(sr: np.ndarray, hr: np.ndarray, shave: int) -> float:
    """PSNR in dB on float Y, 10 log10(255^2 / MSE), after shaving ``shave`` pixels; inf for identical images."""
    a, b = _pair_y(sr, hr, shave)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(sr: np.ndarray, hr: np.ndarray, shave: int) -> float:
    """Mean SSIM on float Y after shaving ``shave`` pixels (Gaussian 11x11, sigma 1.5, valid filtering)."""
    a, b = _pair_y(sr, hr, shave)
    if min(a.shape) < len(_SSIM_WINDOW):
        raise ValueError(f"images too small for an 11x11 SSIM window after shaving: {a.shape}")
    mu_a, mu_b = filter2_valid(a, _SSIM_WINDOW), filter2_valid(b, _SSIM_WINDOW)
    var_a = filter2_valid(a * a, _SSIM_WINDOW) - mu_a**2
    var_b = filter2_valid(b * b, _SSIM_WINDOW) - mu_b**2
    cov = filter2_valid(a * b, _SSIM_WINDOW) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + _C1) * (2 * cov + _C2)) / ((mu_a**2 + mu_b**2 + _C1) * (var_a + var_b + _C2))
    return float(ssim_map.mean())


def _pair_rgb(sr: np.ndarray, hr: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float RGB in [0, 1] with ``shave`` pixels removed from every border."""
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape or sr.ndim != 3 or sr.shape[2] != 3:
        raise ValueError(f"expected two RGB images of one shape: sr {sr.shape} vs hr {hr.shape}")
    if shave < 0 or 2 * shave >= min(sr.shape[:2]):
        raise ValueError(f"shave {shave} is invalid for images of shape {sr.shape}")
    region = (slice(shave, sr.shape[0] - shave), slice(shave, sr.shape[1] - shave))
    return sr[region].astype(np.float64) / 255.0, hr[region].astype(np.float64) / 255.0


def psnr_rgb(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """PSNR in dB on RGB in [0, 1], 10 log10(1 / MSE) (leftthomas/SRGAN); inf for identical images."""
    a, b = _pair_rgb(sr, hr, shave)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _filter_same_zero(img: np.ndarray) -> np.ndarray:
    """The 11x11 SSIM window over ``img`` with zero padding, output the size of ``img`` (``F.conv2d(padding=5)``)."""
    r = len(_SSIM_WINDOW) // 2
    return filter2_valid(np.pad(img, r), _SSIM_WINDOW)


def ssim_rgb(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """Mean SSIM over the R, G, B maps in [0, 1] as ``pytorch_ssim`` computes it (leftthomas/SRGAN, Wu)."""
    a, b = _pair_rgb(sr, hr, shave)
    c1, c2 = 0.01**2, 0.03**2
    maps = []
    for x, y in zip(np.moveaxis(a, 2, 0), np.moveaxis(b, 2, 0)):
        mu_x, mu_y = _filter_same_zero(x), _filter_same_zero(y)
        var_x = _filter_same_zero(x * x) - mu_x**2
        var_y = _filter_same_zero(y * y) - mu_y**2
        cov = _filter_same_zero(x * y) - mu_x * mu_y
        maps.append(((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
    return float(np.mean(maps))


def rmse(sr: np.ndarray, hr: np.ndarray, shave: int = 0) -> float:
    """Per-image RMSE on the 8-bit Y channel, as the PIRM-2018 evaluation code measures it.

    The PIRM code (roimehrez/PIRM2018, ``calc_scores.m``) converts each uint8 image with MATLAB ``rgb2ycbcr``,
    whose uint8 output rounds Y to integers, shaves ``shave_width`` pixels (4 in ``evaluate_results.m``) and
    takes ``immse`` in double precision. It reports a dataset RMSE as sqrt(mean of the per-image MSEs), so
    aggregate ``rmse**2`` over images and take the square root to match it; the mean of per-image RMSEs is lower.
    """
    a, b = _pair_y(sr, hr, shave, rgb2y_uint8)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _as_metric(function, name: str, shave: int, lower_is_better: bool):
    def metric(sr: np.ndarray, hr: np.ndarray) -> float:
        return function(sr, hr, shave)

    metric.name = name
    metric.needs_reference = True
    metric.lower_is_better = lower_is_better
    return metric


@register_metric("psnr", needs_reference=True, lower_is_better=False,
                 description="PSNR (dB) on float Y (BT.601), border of `scale` pixels shaved")
def make_psnr(scale: int = 4, shave: int | None = None):
    """PSNR metric; ``shave`` defaults to ``scale``."""
    return _as_metric(psnr, "psnr", scale if shave is None else shave, lower_is_better=False)


@register_metric("ssim", needs_reference=True, lower_is_better=False,
                 description="SSIM (Gaussian 11x11, sigma 1.5) on float Y, border of `scale` pixels shaved")
def make_ssim(scale: int = 4, shave: int | None = None):
    """SSIM metric; ``shave`` defaults to ``scale``."""
    return _as_metric(ssim, "ssim", scale if shave is None else shave, lower_is_better=False)


@register_metric("rmse", needs_reference=True, lower_is_better=True,
                 description="RMSE on 8-bit Y as in the PIRM-2018 code, 4-pixel border shaved")
def make_rmse(scale: int = 4, shave: int | None = None):
    """RMSE metric; ``shave`` defaults to the PIRM code's shave_width of 4 whatever the scale."""
    del scale  # accepted for a uniform factory signature; the PIRM shave does not depend on it
    return _as_metric(rmse, "rmse", PIRM_SHAVE if shave is None else shave, lower_is_better=True)


@register_metric("psnr_rgb", needs_reference=True, lower_is_better=False,
                 description="PSNR (dB) on RGB in [0, 1], 10 log10(1 / MSE), no shave (leftthomas/SRGAN test code)")
def make_psnr_rgb(scale: int = 4, shave: int = 0):
    """RGB PSNR metric; no shave unless ``shave`` is given (the scale does not set it)."""
    del scale  # accepted for a uniform factory signature
    return _as_metric(psnr_rgb, "psnr_rgb", shave, lower_is_better=False)


@register_metric("ssim_rgb", needs_reference=True, lower_is_better=False,
                 description="SSIM on RGB in [0, 1] as pytorch_ssim (Gaussian 11x11, sigma 1.5, zero-padded "
                             "'same' filtering, mean over pixels and channels), no shave")
def make_ssim_rgb(scale: int = 4, shave: int = 0):
    """RGB SSIM metric; no shave unless ``shave`` is given (the scale does not set it)."""
    del scale  # accepted for a uniform factory signature
    return _as_metric(ssim_rgb, "ssim_rgb", shave, lower_is_better=False)

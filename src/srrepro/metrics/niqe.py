"""NIQE (Mittal et al. 2013) as the original MATLAB ``computequality.m`` computes it, the PIRM-2018 way.

* Input (PIRM ``calc_NIQE`` / ``convert_shave_image``): MATLAB ``rgb2ycbcr`` of the uint8 image, whose uint8
  output rounds Y to integers; channel Y only; ``shave`` border pixels removed (0 by default).
* The image is cropped to whole 96x96 blocks. At two scales: local mean and deviation with the 7x7 Gaussian
  window (sigma 7/6, normalised, 'replicate' borders), MSCN map ``(I - mu) / (sigma + 1)``, 18 features per block
  (AGGD fit of the map and of its products with 4 neighbours, circularly shifted inside the block); the second
  scale is MATLAB ``imresize(I, 0.5)`` (bicubic with antialiasing, on doubles: no rounding) and 48x48 blocks.
* Quality: Mahalanobis-like distance between the pristine Gaussian (original ``modelparameters.mat``, asset
  ``niqe-pristine``) and the image's (``nanmean``, ``nancov`` over blocks), with ``pinv`` of the mean covariance.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import correlate
from scipy.special import gamma

from srrepro.data.assets import fetch_with_options
from srrepro.errors import AssetUnavailable, MetricUnavailable
from srrepro.imaging.matlab import fspecial_gaussian, imresize, rgb2y_uint8
from srrepro.metrics.registry import register_metric

BLOCK = 96
_GAM = np.arange(0.2, 10.0 + 5e-4, 0.001)  # MATLAB 0.2:0.001:10 (9801 values)
_R_GAM = gamma(2.0 / _GAM) ** 2 / (gamma(1.0 / _GAM) * gamma(3.0 / _GAM))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))  # MATLAB circshift [row, col] offsets of computefeature.m


def gaussian_window() -> np.ndarray:
    """NIQE's local window: MATLAB ``fspecial('gaussian', 7, 7/6)`` (normalised to sum 1)."""
    return fspecial_gaussian(7, 7.0 / 6.0)


def _aggd_features(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MATLAB ``estimateaggdparam`` on each row: (alpha, beta_left, beta_right); betas are NaN where a side is empty."""
    with np.errstate(invalid="ignore", divide="ignore"):
        neg, pos = vectors < 0, vectors > 0
        sq = vectors * vectors
        left = np.sqrt((sq * neg).sum(1) / neg.sum(1))
        right = np.sqrt((sq * pos).sum(1) / pos.sum(1))
        gammahat = left / right
        rhat = np.abs(vectors).mean(1) ** 2 / sq.mean(1)
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
        # MATLAB's min skips NaN and returns index 1 for an all-NaN vector: alpha = 0.2 there, as np.argmin gives.
        alpha = _GAM[np.argmin((_R_GAM[None, :] - rhatnorm[:, None]) ** 2, axis=1)]
        factor = np.sqrt(gamma(1.0 / alpha) / gamma(3.0 / alpha))
    return alpha, left * factor, right * factor


def block_features(mscn: np.ndarray, block: int) -> np.ndarray:
    """The 18 NIQE features of every ``block`` x ``block`` tile of an MSCN map → (n_blocks, 18)."""
    rows, cols = mscn.shape[0] // block, mscn.shape[1] // block
    tiles = mscn[: rows * block, : cols * block].reshape(rows, block, cols, block).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(rows * cols, block, block)
    flat = tiles.reshape(len(tiles), -1)
    alpha, left, right = _aggd_features(flat)
    feats = [alpha, (left + right) / 2]
    for shift in _SHIFTS:
        pair = (tiles * np.roll(tiles, shift, axis=(1, 2))).reshape(len(tiles), -1)
        alpha, left, right = _aggd_features(pair)
        with np.errstate(invalid="ignore"):
            mean = (right - left) * (gamma(2.0 / alpha) / gamma(1.0 / alpha))
        feats += [alpha, mean, left, right]
    return np.stack(feats, axis=1)


def niqe_features(img: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Per-block features (n_blocks, 36) of a float grayscale image on the 0..255 scale."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"NIQE expects a single-channel image, got shape {img.shape}")
    rows, cols = img.shape[0] // block, img.shape[1] // block
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs an image of at least {block}x{block} pixels, got {img.shape}")
    img = img[: rows * block, : cols * block]
    window = gaussian_window()
    per_scale = []
    for scale in (1, 2):
        mu = correlate(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(correlate(img * img, window, mode="nearest") - mu * mu))
        per_scale.append(block_features((img - mu) / (sigma + 1.0), block // scale))
        if scale == 1:
            img = imresize(img, 0.5)
    return np.concatenate(per_scale, axis=1)


def niqe_quality(img: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray, block: int = BLOCK) -> float:
    """NIQE of a float grayscale image (0..255) against the pristine model (``computequality.m``)."""
    feats = niqe_features(img, block)
    complete = feats[~np.isnan(feats).any(axis=1)]
    if len(complete) < 2:  # flat blocks have undefined shape features; MATLAB's pinv would fail on the NaNs alike
        raise MetricUnavailable("niqe", f"{len(feats) - len(complete)} of {len(feats)} blocks have undefined features "
                                        f"(flat image?): fewer than the 2 a covariance needs")
    mu = np.nanmean(feats, axis=0)
    cov = np.cov(complete, rowvar=False)
    diff = np.ravel(mu_pris) - mu
    return float(np.sqrt(diff @ np.linalg.pinv((cov_pris + cov) / 2) @ diff))


def load_pristine(asset_options: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mu, cov) of the original NIQE pristine model; raises AssetUnavailable."""
    with np.load(fetch_with_options("niqe-pristine", asset_options)) as params:
        return np.asarray(params["mu_pris_param"], dtype=np.float64).ravel(), np.asarray(params["cov_pris_param"])


class NIQEMetric:
    """Registry metric: NIQE of ``sr`` (uint8 RGB) on rounded Y, ``shave`` border pixels removed; ``hr`` unused."""

    name = "niqe"
    needs_reference = False
    lower_is_better = True

    def __init__(self, mu: np.ndarray, cov: np.ndarray, shave: int = 0):
        self.mu, self.cov, self.shave = mu, cov, int(shave)

    def __call__(self, sr: np.ndarray, hr: np.ndarray | None = None) -> float:
        y = rgb2y_uint8(sr)
        if self.shave:
            y = y[self.shave : -self.shave, self.shave : -self.shave]
        if min(y.shape) < 2 * BLOCK:  # the half-size scale must still hold a 96x96 block, and the covariance 2 rows
            raise MetricUnavailable("niqe", f"image {y.shape[1]}x{y.shape[0]} is smaller than NIQE's {2 * BLOCK} px minimum")
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # NaN block features are part of the algorithm
                return niqe_quality(y, self.mu, self.cov)
        except np.linalg.LinAlgError as err:  # every block flat: no usable statistics (e.g. an early, blank output)
            raise MetricUnavailable("niqe", f"undefined for this image ({err}: no textured 96x96 block)") from err


@register_metric("niqe", needs_reference=False, lower_is_better=True, needs_assets=True,
                 description="NIQE (original MATLAB model, 96x96 blocks) on 8-bit Y, PIRM-2018 convention, no shave")
def make_niqe(shave: int = 0, asset_options: dict | None = None, scale: int | None = None):
    """NIQE metric; raises MetricUnavailable when the pristine parameters cannot be obtained. ``scale`` is unused."""
    del scale
    try:
        mu, cov = load_pristine(asset_options)
    except AssetUnavailable as err:
        raise MetricUnavailable("niqe", err.reason) from err
    return NIQEMetric(mu, cov, shave)

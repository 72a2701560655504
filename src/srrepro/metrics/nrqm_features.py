"""Features and regression model of Ma et al.'s NRQM ("Ma score"), as the authors' MATLAB code computes them.

Ma, Yang, Yang and Yang, "Learning a no-reference quality metric for single-image super-resolution", CVIU 2017;
reference code chaoma99/sr-metric (``quality_predict.m`` / ``feature_all.m``), used unchanged by PIRM-2018.
Everything here is a from-scratch numpy/scipy re-implementation that follows the MATLAB definitions, including
their quirks (listed where they matter):

* Input: a grayscale image on the 0..255 scale (MATLAB ``rgb2gray`` of the uint8 image, rounded to uint8).
* Scale space (:func:`gaussian_pyramid`): ``im2double`` (0..1), then twice ``imfilter`` with
  ``fspecial('gaussian', 3)`` (sigma 0.5, zero padding) and keeping every second pixel from the second one
  (``im(2:2:end, 2:2:end)``): three scales.
* f1, local frequency features (:func:`block_dct_features`, 6 per scale, 18 in all): ``blkproc`` with 3x3 blocks
  and a 2-pixel border (7x7 windows at stride 3, zero padded to whole blocks), orthonormal 2-D DCT of each window;
  per window the generalised-Gaussian shape of the 48 AC coefficients (moment matching on the grid
  0.03:0.001:10), their coefficient of variation ``std|c| / mean|c|`` and the variance of the coefficients of
  variation of three oriented frequency groups; pooled as the mean of the lowest 10 % and the mean of all
  (shape), the mean of the highest 10 % and the mean of all (the other two), with MATLAB's
  ``ceil(0.1 n)`` / ``fix(0.9 n)`` (1-based) boundaries.
* f2, global GSM features (:func:`gsm_features`, 45): real steerable pyramid in the Fourier domain
  (matlabPyrTools ``buildSFpyr``, 2 scales, 6 orientations) of the 0..255 image; every oriented band is
  divisively normalised by its Gaussian-scale-mixture neighbourhood (3x3 spatial neighbours, the parent band
  where ``nband < Nband - Nor`` holds — so the sixth orientation of the finest scale has none — and the five
  other orientations), guard bands of 16 and 8 pixels cut off; then the GGD shape of each of the 12 normalised
  bands, of the 6 pairs across scales, the SSIM contrast-structure term (11x11 Gaussian window, sigma 1.5,
  'valid') between each raw band resized (MATLAB bicubic) to the high-pass residual and that residual (12),
  and between the 15 pairs of normalised finest-scale bands.
* f3, spatial (PCA) features (:func:`svd_features`, 25 per scale, 75): singular values of the matrix of all
  non-overlapping 5x5 patches (``im2col(..., 'distinct')``, zero padded).
* Prediction (:class:`NRQMModel`): one regression forest per feature group (the ``randomforest-matlab``
  ``regRF_train`` structs of ``model.mat``) and ``score = [1 s1 s2 s3] * model.linear``.

``tests/test_pyiqa_crosscheck.py`` compares the three feature groups with pyiqa's independent port: they agree to
1e-6 once the four places where pyiqa departs from the MATLAB code (listed there) are switched to its choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import correlate
from scipy.special import gamma as _gamma_fn

from srrepro.imaging.matlab import filter2_valid, fspecial_gaussian, gaussian_1d, imresize_to

N_DCT, N_GSM, N_SVD = 18, 45, 75  # feature counts of the three groups

# Generalised Gaussian shape grid and its moment ratio Gamma(1/g) Gamma(3/g) / Gamma(2/g)^2 (gama_gen_gauss.m)
GAMMA_GRID = 0.03 + 0.001 * np.arange(9971)  # MATLAB 0.03:0.001:10
RHO_TABLE = _gamma_fn(1.0 / GAMMA_GRID) * _gamma_fn(3.0 / GAMMA_GRID) / _gamma_fn(2.0 / GAMMA_GRID) ** 2
_RHO_ASCENDING = RHO_TABLE[::-1].copy()  # the ratio strictly decreases with the shape
assert np.all(np.diff(RHO_TABLE) < 0)

_EPS_GGD = 1e-7  # gama_gen_gauss.m, coeff_var_gen_gauss.m
_EPS_ORIENT = 1e-8  # oriented*_dct_rho_config3.m

BLOCK, BORDER = 3, 2  # blkproc(im, [3 3], [2 2], ...): 7x7 windows at stride 3
WINDOW = BLOCK + 2 * BORDER
PATCH = 5  # im2col(im, [5 5], 'distinct')


# --------------------------------------------------------------------------- input and scale space


def gaussian_pyramid(im01: np.ndarray, levels: int = 3) -> list[np.ndarray]:
    """The scale space of ``feature_all.m``: [im, down(blur(im)), down(blur(down(blur(im))))]."""
    kernel = fspecial_gaussian(3, 0.5)
    pyramid = [np.asarray(im01, dtype=np.float64)]
    for _ in range(levels - 1):
        blurred = correlate(pyramid[-1], kernel, mode="constant", cval=0.0)  # imfilter: zero padding, 'same'
        pyramid.append(blurred[1::2, 1::2])
    return pyramid


# --------------------------------------------------------------------------- generalised Gaussian statistics


def ggd_shape_from_ratio(rho: np.ndarray) -> np.ndarray:
    """Grid shape whose moment ratio is nearest to ``rho`` (first grid point on ties, as MATLAB's ``min``)."""
    rho = np.asarray(rho, dtype=np.float64)
    flat = rho.ravel()
    n = len(_RHO_ASCENDING)
    hi = np.clip(np.searchsorted(_RHO_ASCENDING, flat), 0, n - 1)
    lo = np.clip(hi - 1, 0, n - 1)
    d_lo, d_hi = np.abs(_RHO_ASCENDING[lo] - flat), np.abs(_RHO_ASCENDING[hi] - flat)
    # the larger ascending index is the smaller original index, which MATLAB's min returns on a tie
    best = np.where(d_hi <= d_lo, hi, lo)
    return GAMMA_GRID[n - 1 - best].reshape(rho.shape)


def ggd_shape(samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """``gama_gen_gauss``: moment-matching GGD shape of the samples along ``axis``."""
    x = np.asarray(samples, dtype=np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=1)
    mean_abs = np.abs(x - mean).mean(axis=axis) ** 2
    return ggd_shape_from_ratio(var / (mean_abs + _EPS_GGD))


def coeff_variation(samples: np.ndarray, axis: int = -1, eps: float = _EPS_GGD) -> np.ndarray:
    """``coeff_var_gen_gauss``: std(|x|) / (mean(|x|) + eps), std with N - 1."""
    a = np.abs(np.asarray(samples, dtype=np.float64))
    return a.std(axis=axis, ddof=1) / (a.mean(axis=axis) + eps)


# --------------------------------------------------------------------------- f1: block DCT features


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix D: ``dct2(X) = D @ X @ D.T`` (MATLAB ``dct2``)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2.0 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


def blkproc_windows(im: np.ndarray, block: int = BLOCK, border: int = BORDER) -> np.ndarray:
    """The windows ``blkproc(im, [b b], [r r], fun)`` hands to ``fun``: (rows, cols, b + 2r, b + 2r).

    The image is zero padded at the bottom/right to whole blocks and by ``border`` zeros all around.
    """
    h, w = im.shape
    hp, wp = -(-h // block) * block, -(-w // block) * block
    padded = np.zeros((hp + 2 * border, wp + 2 * border))
    padded[border : border + h, border : border + w] = im
    size = block + 2 * border
    return sliding_window_view(padded, (size, size))[::block, ::block]


def _orientation_masks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three oriented DCT coefficient groups of a 7x7 block (``oriented{1,2,3}_dct_rho_config3``, nn == 7)."""
    m1, m2, m3 = (np.zeros((WINDOW, WINDOW), dtype=bool) for _ in range(3))
    # group 1: temp(1,2:end) temp(2,3:end) temp(3,5:end) temp(4,6:end)
    for row, start in ((0, 1), (1, 2), (2, 4), (3, 5)):
        m1[row, start:] = True
    # group 2: temp(2,2) temp(3,3:4) temp(4,3:5) temp(5,4:end) temp(6,5:end) temp(7,5:end)
    m2[1, 1] = True
    m2[2, 2:4] = True
    m2[3, 2:5] = True
    m2[4, 3:] = True
    m2[5, 4:] = True
    m2[6, 4:] = True
    # group 3: temp(2:end,1); temp(3:end,2); temp(5:end,3); temp(6:end,4)
    for col, start in ((0, 1), (1, 2), (2, 4), (3, 5)):
        m3[start:, col] = True
    return m1, m2, m3


ORIENTATION_MASKS = _orientation_masks()


def block_dct_coefficients(im: np.ndarray) -> np.ndarray:
    """DCT of every blkproc window of ``im``: (n_windows, 7, 7)."""
    windows = blkproc_windows(im)
    d = dct_matrix(WINDOW)
    coeffs = np.einsum("ij,abjk,lk->abil", d, windows, d, optimize=True)
    return coeffs.reshape(-1, WINDOW, WINDOW)


def _mean_lowest(values: np.ndarray, fraction: float) -> float:
    """mean(sorted(1:ceil(n * fraction)))."""
    v = np.sort(values)
    return float(v[: max(math.ceil(len(v) * fraction), 1)].mean())


def _mean_highest(values: np.ndarray, fraction: float) -> float:
    """mean(sorted(fix(n * fraction):end)) with MATLAB's 1-based start."""
    v = np.sort(values)
    return float(v[max(math.floor(len(v) * fraction) - 1, 0) :].mean())


def block_dct_features(im: np.ndarray) -> np.ndarray:
    """``block_dct.m`` on one scale (image on 0..1): 6 pooled local frequency features."""
    coeffs = block_dct_coefficients(im)
    ac = coeffs.reshape(len(coeffs), -1)[:, 1:]  # drop the DC term (first in either flattening order)
    shape = ggd_shape(ac)
    cv = coeff_variation(ac)
    oriented = np.stack([coeff_variation(coeffs[:, m], eps=_EPS_ORIENT) for m in ORIENTATION_MASKS], axis=1)
    orient_var = oriented.var(axis=1, ddof=1)
    return np.array([
        _mean_lowest(shape, 0.1), float(shape.mean()),
        _mean_highest(cv, 0.9), float(cv.mean()),
        _mean_highest(orient_var, 0.9), float(orient_var.mean()),
    ])


def dct_features(pyramid: list[np.ndarray]) -> np.ndarray:
    """f1: :func:`block_dct_features` of each scale, concatenated (18)."""
    return np.concatenate([block_dct_features(im) for im in pyramid])


# --------------------------------------------------------------------------- f3: SVD (PCA) features


def distinct_patches(im: np.ndarray, size: int = PATCH) -> np.ndarray:
    """``im2col(im, [s s], 'distinct')`` as rows: (n_patches, s*s), zero padded to whole patches."""
    h, w = im.shape
    hp, wp = -(-h // size) * size, -(-w // size) * size
    padded = np.zeros((hp, wp))
    padded[:h, :w] = im
    return padded.reshape(hp // size, size, wp // size, size).transpose(0, 2, 3, 1).reshape(-1, size * size)


def svd_features(pyramid: list[np.ndarray]) -> np.ndarray:
    """f3: the 25 singular values (descending) of the 5x5 distinct patch matrix of each scale (75)."""
    out = []
    for im in pyramid:
        patches = distinct_patches(im)
        if len(patches) < PATCH * PATCH:
            raise ValueError(
                f"NRQM needs at least {PATCH * PATCH} 5x5 patches at the coarsest scale, got {len(patches)} "
                f"for a {im.shape[0]}x{im.shape[1]} scale; the image is too small"
            )
        out.append(np.linalg.svd(patches, compute_uv=False))
    return np.concatenate(out)


# --------------------------------------------------------------------------- steerable pyramid (buildSFpyr)


def point_op(x: np.ndarray, lut: np.ndarray, origin: float, increment: float) -> np.ndarray:
    """matlabPyrTools ``pointOp``: linear interpolation in an equispaced table, linear extrapolation at its ends."""
    pos = (x - origin) / increment
    idx = np.clip(np.floor(pos), 0, len(lut) - 2).astype(np.int64)
    return lut[idx] + (lut[idx + 1] - lut[idx]) * (pos - idx)


def rcos_fn(width: float = 1.0, position: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """matlabPyrTools ``rcosFn(width, position, [0 1])``: raised-cosine lookup table (X, Y)."""
    sz = 256
    x = np.pi * np.arange(-sz - 1, 2) / (2 * sz)
    y = np.cos(x) ** 2
    y[0] = y[1]
    y[sz + 2] = y[sz + 1]
    return position + (2 * width / np.pi) * (x + np.pi / 4), y


@dataclass
class SteerablePyramid:
    highpass: np.ndarray
    bands: list[list[np.ndarray]]  # bands[scale][orientation], finest scale first
    lowpass: np.ndarray


def _polar_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(log2 radius, angle) of the centred frequency grid, as buildSFpyr builds it."""
    h, w = shape
    ctr = (math.ceil((h + 0.5) / 2), math.ceil((w + 0.5) / 2))
    xramp = (np.arange(1, w + 1) - ctr[1]) / (w / 2.0)
    yramp = (np.arange(1, h + 1) - ctr[0]) / (h / 2.0)
    xx, yy = np.meshgrid(xramp, yramp)
    angle = np.arctan2(yy, xx)
    rad = np.sqrt(xx * xx + yy * yy)
    rad[ctr[0] - 1, ctr[1] - 1] = rad[ctr[0] - 1, ctr[1] - 2]
    return np.log2(rad), angle


def steerable_pyramid(im: np.ndarray, height: int = 2, order: int = 5) -> SteerablePyramid:
    """matlabPyrTools ``buildSFpyr(im, height, order)`` (twidth 1): real bands, circular boundaries."""
    im = np.asarray(im, dtype=np.float64)
    max_height = math.floor(math.log2(min(im.shape))) - 2
    if height > max_height:
        raise ValueError(f"cannot build a {height}-level steerable pyramid on a {im.shape} image")
    nbands = order + 1
    log_rad, angle = _polar_grid(im.shape)
    xrcos, yrcos = rcos_fn(1.0, -0.5)
    yrcos = np.sqrt(yrcos)
    yircos = np.sqrt(1.0 - yrcos**2)
    step = xrcos[1] - xrcos[0]
    imdft = np.fft.fftshift(np.fft.fft2(im))
    highpass = np.real(np.fft.ifft2(np.fft.ifftshift(imdft * point_op(log_rad, yrcos, xrcos[0], step))))
    lodft = imdft * point_op(log_rad, yircos, xrcos[0], step)

    lutsize = 1024
    xcosn = np.pi * np.arange(-(2 * lutsize + 1), lutsize + 2) / lutsize
    const = (2 ** (2 * order)) * (math.factorial(order) ** 2) / (nbands * math.factorial(2 * order))
    ycosn = math.sqrt(const) * np.cos(xcosn) ** order
    phase = (1, -1j, -1, 1j)[order % 4]  # (-sqrt(-1))^order
    bands = []
    for _ in range(height):
        xrcos = xrcos - 1.0
        himask = point_op(log_rad, yrcos, xrcos[0], step)
        level = []
        for b in range(nbands):
            anglemask = point_op(angle, ycosn, xcosn[0] + np.pi * b / nbands, xcosn[1] - xcosn[0])
            level.append(np.real(np.fft.ifft2(np.fft.ifftshift(phase * lodft * anglemask * himask))))
        bands.append(level)
        dims = np.array(lodft.shape)
        ctr = np.ceil((dims + 0.5) / 2).astype(int)
        lodims = np.ceil((dims - 0.5) / 2).astype(int)
        loctr = np.ceil((lodims + 0.5) / 2).astype(int)
        start = ctr - loctr  # 0-based
        region = (slice(start[0], start[0] + lodims[0]), slice(start[1], start[1] + lodims[1]))
        log_rad, angle, lodft = log_rad[region], angle[region], lodft[region]
        lodft = lodft * point_op(log_rad, np.abs(np.sqrt(1.0 - yrcos**2)), xrcos[0], step)
    lowpass = np.real(np.fft.ifft2(np.fft.ifftshift(lodft)))
    return SteerablePyramid(highpass, bands, lowpass)


# --------------------------------------------------------------------------- f2: GSM features


def neighbourhood(bands: list[list[np.ndarray]], scale: int, orient: int, parent: bool = True
                  ) -> tuple[np.ndarray, int, np.ndarray]:
    """``norm_sender_normalized``'s neighbourhood of band (scale, orient), 0-based.

    Returns (Y, N, centre): Y (n_coefficients, k) holds the 3x3 spatial neighbours, the upsampled parent when
    the MATLAB test ``nband < Nband - Nor`` admits one, then the other orientations of the same scale; N is the
    neighbourhood size used to normalise (9 spatial + parent, not counting the other orientations); centre is
    the band without its outer ring of coefficients.
    """
    nsc, nor = len(bands), len(bands[0])
    aux = bands[scale][orient]
    nv, nh = aux.shape
    nblv, nblh = nv - 2, nh - 2
    cols = []
    for ny in (-1, 0, 1):
        for nx in (-1, 0, 1):  # shift(y, [ny nx]) cropped to the interior: y(pos - offset)
            cols.append(aux[1 - ny : 1 - ny + nblv, 1 - nx : 1 - nx + nblh].ravel())
    nband, total = scale * nor + orient + 2, nsc * nor + 1  # MATLAB band number and Nband = size(pind,1) - 1
    has_parent = parent and nband < total - nor
    if has_parent:
        up = bands[scale + 1][orient]
        up = imresize_to(up, (2 * up.shape[0], 2 * up.shape[1]))[:nv, :nh]
        cols.append(up[1 : 1 + nblv, 1 : 1 + nblh].ravel())
    for other in range(nor):
        if other != orient:
            cols.append(bands[scale][other][1 : 1 + nblv, 1 : 1 + nblh].ravel())
    return np.stack(cols, axis=1), 9 + int(has_parent), aux[1 : 1 + nblv, 1 : 1 + nblh]


def normalized_subbands(bands: list[list[np.ndarray]], guardband: int = 16) -> list[np.ndarray]:
    """``norm_sender_normalized``: GSM divisive normalisation of every oriented band, guard band removed.

    Returns 2-D maps, finest scale first, each with zero mean.
    """
    out = []
    for scale, level in enumerate(bands):
        for orient in range(len(level)):
            y, n, centre = neighbourhood(bands, scale, orient)
            cov = y.T @ y / len(y)
            evals, evecs = np.linalg.eigh(cov)
            positive = evals * (evals > 0)
            total_pos = positive.sum()
            evals = positive * evals.sum() / (total_pos + (total_pos == 0))
            cov = (evecs * evals) @ evecs.T
            pinv = np.linalg.pinv(cov, rcond=max(cov.shape) * np.finfo(np.float64).eps)
            z = np.sqrt(np.maximum(np.einsum("ij,ij->i", y @ pinv, y) / n, 0.0))
            oc = centre.ravel() - centre.mean()
            g = np.divide(oc, z, out=np.zeros_like(oc), where=z != 0).reshape(centre.shape)
            gb = guardband // 2**scale
            g = g[gb : g.shape[0] - gb, gb : g.shape[1] - gb]
            out.append(g - g.mean())
    return out


_SSIM_WINDOW = gaussian_1d(11, 1.5)  # separable factor of fspecial('gaussian', 11, 1.5)
_SSIM_C2 = (0.03 * 255) ** 2


def ssim_cs(img1: np.ndarray, img2: np.ndarray) -> float:
    """Mean contrast-structure term of ``ssim_index_new(img1, img2)`` (default window and constants)."""
    if img1.shape != img2.shape or min(img1.shape) < 11:
        raise ValueError(f"ssim_cs needs two equal images of at least 11x11, got {img1.shape} and {img2.shape}")
    mu1, mu2 = filter2_valid(img1, _SSIM_WINDOW), filter2_valid(img2, _SSIM_WINDOW)
    s11 = filter2_valid(img1 * img1, _SSIM_WINDOW) - mu1 * mu1
    s22 = filter2_valid(img2 * img2, _SSIM_WINDOW) - mu2 * mu2
    s12 = filter2_valid(img1 * img2, _SSIM_WINDOW) - mu1 * mu2
    return float(np.mean((2 * s12 + _SSIM_C2) / (s11 + s22 + _SSIM_C2)))


def gsm_features(gray255: np.ndarray) -> np.ndarray:
    """f2, ``global_gsm.m`` on the 0..255 image: 12 + 6 + 12 + 15 = 45 features."""
    pyr = steerable_pyramid(gray255, height=2, order=5)
    nor = len(pyr.bands[0])
    subbands = normalized_subbands(pyr.bands)
    feats = [float(ggd_shape(sb.ravel())) for sb in subbands]
    feats += [float(ggd_shape(np.concatenate([subbands[i].ravel(), subbands[i + nor].ravel()])))
              for i in range(nor)]
    for level in pyr.bands:
        for band in level:
            feats.append(ssim_cs(imresize_to(band, pyr.highpass.shape), pyr.highpass))
    for i in range(nor):
        for j in range(i + 1, nor):
            feats.append(ssim_cs(subbands[i], subbands[j]))
    return np.array(feats)


# --------------------------------------------------------------------------- all features


MIN_SIDE = 48


def size_problem(shape: tuple[int, ...]) -> str:
    """Why a grayscale image of ``shape`` is too small for :func:`nrqm_features` ('' when it is not): the steerable
    pyramid needs ``MIN_SIDE`` pixels, the SVD features 25 whole or padded 5x5 patches at the coarsest scale."""
    if len(shape) != 2 or min(shape) < MIN_SIDE:
        return f"NRQM needs a 2-D image of at least {MIN_SIDE}x{MIN_SIDE} pixels, got {tuple(shape)}"
    h, w = shape[0] // 4, shape[1] // 4  # the coarsest scale of gaussian_pyramid (two halvings, n -> n // 2)
    if -(-h // PATCH) * -(-w // PATCH) < PATCH * PATCH:
        return (f"NRQM needs at least {PATCH * PATCH} 5x5 patches at the coarsest scale, got "
                f"{-(-h // PATCH) * -(-w // PATCH)} for a {h}x{w} scale; the {shape[0]}x{shape[1]} image is too small")
    return ""


def nrqm_features(gray255: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(f1, f2, f3) of ``feature_all.m`` for a grayscale image on the 0..255 scale."""
    gray255 = np.asarray(gray255, dtype=np.float64)
    if problem := size_problem(gray255.shape):
        raise ValueError(problem)
    pyramid = gaussian_pyramid(gray255 / 255.0)
    return dct_features(pyramid), gsm_features(gray255), svd_features(pyramid)


# --------------------------------------------------------------------------- regression model

NODE_TERMINAL = -1


@dataclass
class RegressionForest:
    """A ``randomforest-matlab`` regression forest; node arrays are (nrnodes, ntree), MATLAB 1-based links."""

    left: np.ndarray  # lDau: 1-based left daughter (0 for terminal nodes)
    right: np.ndarray  # rDau
    status: np.ndarray  # nodestatus: -1 terminal
    threshold: np.ndarray  # upper: go left when x[var] <= threshold
    value: np.ndarray  # avnode: prediction of a terminal node
    split_var: np.ndarray  # mbest: 1-based feature index
    coef: np.ndarray  # bias correction [a, b] (all zero: none)

    @property
    def n_trees(self) -> int:
        return self.left.shape[1]

    def max_feature(self) -> int:
        inner = self.status != NODE_TERMINAL
        return int(self.split_var[inner].max()) if inner.any() else 0

    def predict(self, features: np.ndarray) -> np.ndarray | float:
        """``regRF_predict``: mean of the trees' terminal values (then the bias correction, if any)."""
        x = np.asarray(features, dtype=np.float64)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        n, trees = len(x), self.n_trees
        tree_idx = np.arange(trees)[None, :]
        rows = np.arange(n)[:, None]
        node = np.zeros((n, trees), dtype=np.int64)
        for _ in range(self.left.shape[0] + 1):
            active = self.status[node, tree_idx] != NODE_TERMINAL
            if not active.any():
                break
            var = np.clip(self.split_var[node, tree_idx] - 1, 0, x.shape[1] - 1)
            go_left = x[rows, var] <= self.threshold[node, tree_idx]
            nxt = np.where(go_left, self.left[node, tree_idx], self.right[node, tree_idx]) - 1
            node = np.where(active, nxt, node)
            if (node < 0).any():
                raise ValueError("malformed regression tree: an inner node links to no daughter")
        else:
            raise ValueError("malformed regression tree: no terminal node reached")
        pred = self.value[node, tree_idx].mean(axis=1)
        if np.any(self.coef != 0):
            pred = self.coef[0] + self.coef[1] * pred
        return float(pred[0]) if single else pred


@dataclass
class NRQMModel:
    """The three forests (DCT, GSM, SVD features) and the linear fusion [1 s1 s2 s3] @ linear."""

    forests: tuple[RegressionForest, RegressionForest, RegressionForest]
    linear: np.ndarray  # (4,)

    def predict(self, f1: np.ndarray, f2: np.ndarray, f3: np.ndarray) -> float:
        scores = [forest.predict(f) for forest, f in zip(self.forests, (f1, f2, f3))]
        return float(np.dot(np.concatenate([[1.0], scores]), self.linear))


def _unwrap(value):
    """Strip the (1, 1) object / struct wrappers scipy.io.loadmat puts around MATLAB values."""
    value = np.asarray(value)
    while value.dtype == object and value.size == 1:
        value = np.asarray(value.ravel()[0])
    return value


def _record(value):
    value = _unwrap(value)
    if value.dtype.names is None or value.size != 1:
        raise ValueError("expected a MATLAB struct")
    return value.ravel()[0]


def _forest_from_struct(struct) -> RegressionForest:
    rec = _record(struct)
    names = rec.dtype.names

    def field(name, dtype):
        if name not in names:
            raise KeyError(f"forest struct has no field '{name}' (fields: {', '.join(names)})")
        return np.asarray(_unwrap(rec[name]), dtype=dtype)

    left = np.atleast_2d(field("lDau", np.int64))
    shape = left.shape

    def node_array(name, dtype):
        arr = field(name, dtype)
        if arr.size != left.size:
            raise ValueError(f"forest field '{name}' has {arr.size} entries, lDau has {left.size}")
        return arr.reshape(shape)

    status = node_array("nodestatus", np.int64) if "nodestatus" in names else np.where(left == 0, -1, -3)
    coef = field("coef", np.float64).ravel() if "coef" in names else np.zeros(2)
    if coef.size not in (0, 2):
        raise ValueError(f"forest field 'coef' should hold 2 values, has {coef.size}")
    return RegressionForest(
        left=left, right=node_array("rDau", np.int64), status=status,
        threshold=node_array("upper", np.float64), value=node_array("avnode", np.float64),
        split_var=node_array("mbest", np.int64), coef=coef if coef.size else np.zeros(2),
    )


def load_nrqm_model(path: str | Path) -> NRQMModel:
    """Read the authors' ``model.mat`` (pyiqa's ``NRQM_model.mat``): struct ``model`` with ``rf`` (a cell of 3
    ``regRF_train`` structs: lDau, rDau, nodestatus, nrnodes, upper, avnode, mbest, ndtree, ntree, ..., coef)
    and ``linear`` (4x1 robustfit coefficients). Raises ValueError/KeyError/OSError on anything else."""
    import scipy.io

    mat = scipy.io.loadmat(str(path))
    if "model" not in mat:
        raise KeyError(f"{path} has no variable 'model' (variables: {', '.join(k for k in mat if not k.startswith('__'))})")
    model = _record(mat["model"])
    for key in ("rf", "linear"):
        if key not in model.dtype.names:
            raise KeyError(f"struct 'model' in {path} has no field '{key}'")
    cells = np.asarray(model["rf"])
    while cells.dtype == object and cells.size == 1 and np.asarray(cells.ravel()[0]).dtype == object:
        cells = np.asarray(cells.ravel()[0])
    cells = cells.ravel()
    if len(cells) != 3:
        raise ValueError(f"model.rf should hold 3 forests, holds {len(cells)}")
    forests = tuple(_forest_from_struct(c) for c in cells)
    linear = np.asarray(_unwrap(model["linear"]), dtype=np.float64).ravel()
    if linear.size != 4:
        raise ValueError(f"model.linear should hold 4 coefficients, holds {linear.size}")
    for forest, dims, name in zip(forests, (N_DCT, N_GSM, N_SVD), ("DCT", "GSM", "SVD")):
        if forest.max_feature() > dims:
            raise ValueError(f"the {name} forest splits on feature {forest.max_feature()}, but there are {dims}")
    return NRQMModel(forests, linear)

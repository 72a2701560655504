"""MATLAB emulation, written once: bicubic resizing, Gaussian windows, 'valid' filtering and colour conversions.

Every metric and the data preparation take these from here, so each MATLAB definition exists in one place.

Bicubic resizing (the "BI" degradation of the SR literature) reproduces MATLAB ``imresize(img, scale, 'bicubic')``
with its default antialiasing:

* cubic convolution kernel with a = -0.5;
* when shrinking (scale < 1) the kernel is stretched by 1/scale and scaled by ``scale`` (width 4/scale);
* output pixel x (1-based) samples input position u = x/scale + 0.5 (1 - 1/scale);
* out-of-range taps are mirrored (symmetric padding) and each row of weights is normalised to sum 1;
* the output size is ceil(scale * size);
* dimensions are resized in order of increasing scale; with one scale for both, rows (height) first, then columns;
* uint8 input is rounded (half away from zero) and clipped to uint8 after each dimension, as MATLAB's
  ``imresizemex`` returns the class of its input (with it 98.6% of the published SelfExSR x4 LR pixels are
  reproduced exactly, 88.7% without); float input stays float and is never rounded.

The weights of one dimension form a sparse (out, in) matrix, so resizing is two matrix products.

Colour conversions follow MATLAB's ``rgb2ycbcr`` (BT.601 luma on 16..235, kept as float or rounded as its uint8
output is) and ``rgb2gray``; Gaussian windows follow ``fspecial('gaussian', size, sigma)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.sparse
import torch
from scipy.ndimage import correlate1d


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def output_size(length: int, scale: float) -> int:
    """MATLAB's output length ceil(scale * length), guarded against floating-point noise (e.g. 0.1 * 40)."""
    return int(math.ceil(round(scale * length, 9)))


@functools.lru_cache(maxsize=64)
def resize_matrix(in_length: int, scale: float) -> scipy.sparse.csr_matrix:
    """The sparse (out_length, in_length) float64 matrix that resizes one dimension by ``scale``."""
    if in_length < 1 or scale <= 0:
        raise ValueError(f"cannot resize a dimension of length {in_length} by scale {scale}")
    out_length = output_size(in_length, scale)
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based input positions, (out, taps)
    distance = u[:, None] - indices
    weights = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    # Symmetric padding: position p maps through the mirrored sequence 1..n, n..1 (period 2n).
    mirrored = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    source = mirrored[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    # Duplicate (row, source) pairs from mirrored taps are summed by the COO -> CSR conversion.
    rows = np.repeat(np.arange(out_length), taps)
    coo = scipy.sparse.coo_matrix((weights.ravel(), (rows, source.ravel())), shape=(out_length, in_length))
    return coo.tocsr()


def _round_uint8(values: np.ndarray) -> np.ndarray:
    """MATLAB's conversion to uint8: round half away from zero, saturate to 0..255."""
    return np.floor(np.clip(values, 0.0, 255.0) + 0.5).astype(np.uint8)


def imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """Resize an (H, W) or (H, W, C) image by ``scale`` exactly like MATLAB ``imresize(img, scale)`` (bicubic).

    uint8 input gives uint8 output (rounded after each dimension); float input gives float64 output.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects an (H, W) or (H, W, C) array, got shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"imresize supports uint8 or float arrays, got {img.dtype}")
    height, width, channels = img.shape[0], img.shape[1], img.shape[2:]
    rows = resize_matrix(height, float(scale))
    cols = resize_matrix(width, float(scale))
    out = rows @ img.reshape(height, -1).astype(np.float64)  # (H', W*C)
    if is_uint8:
        out = _round_uint8(out).astype(np.float64)
    out = out.reshape((rows.shape[0], width) + channels).swapaxes(0, 1).reshape(width, -1)  # (W, H'*C)
    out = (cols @ out).reshape((cols.shape[0], rows.shape[0]) + channels).swapaxes(0, 1)  # (H', W'[, C])
    return _round_uint8(out) if is_uint8 else np.ascontiguousarray(out)


def imresize_torch(tensor: torch.Tensor, scale: float) -> torch.Tensor:
    """Resize a float (N, C, H, W) tensor by ``scale`` with the same maths as :func:`imresize` (no rounding).

    The result has the input's dtype and device; gradients flow through it.
    """
    if tensor.ndim != 4 or not tensor.is_floating_point():
        raise ValueError(
            f"imresize_torch expects a float (N, C, H, W) tensor, got {tensor.dtype} {tuple(tensor.shape)}"
        )
    rows, cols = (
        torch.tensor(resize_matrix(length, float(scale)).toarray(), dtype=tensor.dtype, device=tensor.device)
        for length in tensor.shape[2:]
    )
    return torch.matmul(torch.matmul(rows, tensor), cols.transpose(0, 1))


def imresize_to(img: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """MATLAB ``imresize(img, [M N])`` (bicubic) of a 2-D float image: scale M/H rows, N/W columns, no rounding."""
    img = np.asarray(img, dtype=np.float64)
    height, width = img.shape
    if (height, width) == tuple(out_shape):
        return img.copy()  # scale 1: the cubic weights are exactly the identity
    rows = resize_matrix(height, out_shape[0] / height)
    cols = resize_matrix(width, out_shape[1] / width)
    if rows.shape[0] != out_shape[0] or cols.shape[0] != out_shape[1]:
        raise ValueError(f"cannot resize {img.shape} to exactly {tuple(out_shape)}")
    return np.asarray(cols @ (rows @ img).T).T


# ---------------------------------------------------------------------------------------------- Gaussian windows


def fspecial_gaussian(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``: 2-D, values below eps·max set to 0, normalised to sum 1."""
    half = (size - 1) / 2.0
    x = np.arange(size, dtype=np.float64) - half
    h = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0
    return h / h.sum()


def gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """The normalised 1-D factor of ``fspecial('gaussian', size, sigma)`` (the 2-D window is its outer product)."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    window = np.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def filter2_valid(img: np.ndarray, window_1d: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(w' * w, img, 'valid')`` for a separable window ``w``: only outputs whose window lies
    inside the image (the result is ``len(w) - 1`` smaller on each axis)."""
    r = len(window_1d) // 2
    out = correlate1d(correlate1d(img, window_1d, axis=0), window_1d, axis=1)
    return out[r : img.shape[0] - r, r : img.shape[1] - r]


# ---------------------------------------------------------------------------------------------- colour


_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0
# MATLAB rgb2gray: first row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703])
_GRAY_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def rgb2y(img: np.ndarray) -> np.ndarray:
    """Float64 Y of ``rgb2ycbcr`` (16..235 scale, not rounded) of a uint8 RGB image (H, W, 3)."""
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {img.shape}")
    return 16.0 + img.astype(np.float64) @ _Y_WEIGHTS


def rgb2y_uint8(img: np.ndarray) -> np.ndarray:
    """Y of a uint8 RGB image as MATLAB ``rgb2ycbcr`` returns it for uint8 input: rounded to integers (as float64)."""
    return np.floor(rgb2y(img) + 0.5)  # MATLAB's uint8 conversion rounds half away from zero; Y is positive


def rgb2gray_uint8(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 RGB image (rounded to integers), as float64; a 2-D image is returned as is."""
    img = np.asarray(img)
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB (H, W, 3) or grayscale (H, W) image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise TypeError(f"an RGB image must be uint8, got {img.dtype}")
    return np.floor(img.astype(np.float64) @ _GRAY_WEIGHTS + 0.5)

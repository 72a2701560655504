"""MATLAB-compatible bicubic resizing (the "BI" degradation of the SR literature).

Reproduces MATLAB ``imresize(img, scale, 'bicubic')`` with its default antialiasing:

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
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.sparse
import torch


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


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop height and width down to multiples of ``scale``, keeping the top-left corner."""
    scale = int(scale)
    height, width = img.shape[0], img.shape[1]
    return img[: height - height % scale, : width - width % scale]

"""Image files in and out: every image inside srrepro is a uint8 RGB array of shape (H, W, 3).

Grayscale files are replicated to three equal channels. Their Y (BT.601, see :func:`srrepro.imaging.matlab.rgb2y`)
is then 16 + 219 g / 255, the value MATLAB's ``rgb2ycbcr`` gives for a gray pixel g. Set14 holds two grayscale
pictures: ``img_003`` (bridge, an 8-bit grayscale PNG) and ``img_010`` (man, stored as RGB with equal channels);
both are therefore measured on the same Y scale as the colour images. Alpha channels are dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from srrepro.atomic import atomic_path
from srrepro.errors import ImageReadError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as a uint8 RGB array (H, W, 3), decoding it fully.

    Raises :class:`ImageReadError` naming the file when it is missing, not an image, truncated or corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"cannot read image {path}: no such file")
    try:
        with Image.open(path) as img:
            img.load()  # decode every pixel now, so that truncated files fail here
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                raise ImageReadError(f"cannot read image {path}: unsupported {img.mode} (not 8-bit) pixels")
            rgb = img.convert("RGB")
    except ImageReadError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageReadError(f"cannot read image {path}: {err}") from err
    return np.asarray(rgb, dtype=np.uint8).copy()


def write_image(path: str | os.PathLike, array: np.ndarray) -> None:
    """Atomically write a uint8 (H, W, 3) or (H, W) array as a PNG file."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"write_image expects uint8 (H, W, 3) or (H, W), got {array.dtype} {array.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files (png, jpg, jpeg, bmp, tif) directly inside ``folder``, sorted by name.

    Raises :class:`ImageReadError` naming the folder when it is missing or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageReadError(f"image folder {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop height and width down to multiples of ``scale``, keeping the top-left corner."""
    scale = int(scale)
    height, width = img.shape[0], img.shape[1]
    return img[: height - height % scale, : width - width % scale]

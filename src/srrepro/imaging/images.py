"""Image files in and out: every image inside srrepro is a uint8 RGB array of shape (H, W, 3).

Grayscale files are replicated to three equal channels. Their Y (BT.601, see :func:`srrepro.imaging.matlab.rgb2y`)
is then 16 + 219 g / 255, the value MATLAB's ``rgb2ycbcr`` gives for a gray pixel g. Set14 holds two grayscale
pictures: ``img_003`` (bridge, an 8-bit grayscale PNG) and ``img_010`` (man, stored as RGB with equal channels);
both are therefore measured on the same Y scale as the colour images. Alpha channels are dropped.

Files with more than 8 bits per channel (16-bit PNG or TIFF, gray or colour; 32-bit integer or float images) are
refused with a message naming the file: the papers' data, bicubic degradation and metrics are all 8-bit, and Pillow
would silently keep only the high byte of a 16-bit colour file (while it cannot convert a 16-bit gray one at all).
Convert such files first, e.g. ``magick in.png -depth 8 out.png`` (ImageMagick rounds v·255/65535).

An EXIF orientation tag (photographs from cameras and phones) is applied when a file is read: the image is turned
upright as viewers show it, and what is written (PNG, no tag) looks the same in a viewer as the input.

A folder of images is keyed by file stem (``img.png`` → ``img``): a folder holding two files with the same stem
(``img.png`` and ``img.jpg``) is refused, naming both, rather than one of them being picked silently.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps

from srrepro.atomic import write_bytes
from srrepro.errors import ImageReadError, SrreproError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# Pillow modes and raw (decoder) modes of files with more than 8 bits per channel. Pillow opens a 16-bit colour PNG
# or TIFF as mode RGB(A) with raw mode 'RGB;16B' / 'RGB;16L' / 'RGB;16N'; a 16-bit BMP (raw mode 'BGR;16', 5-6-5
# bits) has at most 8 bits per channel and is not matched.
_DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_DEEP_RAWMODE = re.compile(r";16[BLN]$")


def _deep_pixels(img: Image.Image) -> str | None:
    """The mode of an opened (not yet loaded) image when it has more than 8 bits per channel, else None."""
    if img.mode in _DEEP_MODES:
        return img.mode
    for tile in img.tile:
        rawmode = tile[3] if isinstance(tile[3], str) else (tile[3] or [None])[0]
        if isinstance(rawmode, str) and _DEEP_RAWMODE.search(rawmode):
            return rawmode
    return None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an 8-bit image file as a uint8 RGB array (H, W, 3), decoding it fully.

    Raises :class:`ImageReadError` naming the file when it is missing, not an image, truncated, corrupt or deeper
    than 8 bits per channel.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"cannot read image {path}: no such file")
    try:
        with Image.open(path) as img:
            if deep := _deep_pixels(img):
                raise ImageReadError(f"cannot read image {path}: it has more than 8 bits per channel ({deep}); "
                                     f"srrepro works on 8-bit images, convert it first (e.g. magick {path.name} "
                                     f"-depth 8 {path.stem}_8bit.png)")
            img.load()  # decode every pixel now, so that truncated files fail here
            rgb = ImageOps.exif_transpose(img).convert("RGB")  # upright, as image viewers show it
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
    encoded = io.BytesIO()  # encoded first, so that a full disk can be told the size the file needs
    Image.fromarray(array).save(encoded, format="PNG")
    write_bytes(path, encoded.getvalue())


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files (png, jpg, jpeg, bmp, tif) directly inside ``folder``, sorted by name, one per stem.

    Raises :class:`ImageReadError` naming the folder when it is missing or holds no image, and naming both files
    when two share a stem (``img.png`` and ``img.jpg``). Broken symbolic links with an image suffix (a missing target,
    a loop) are skipped with a warning on stderr that counts them and says why.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"image folder {folder} does not exist")
    named = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    files = [p for p in named if p.is_file()]
    broken = [f"{p.name} ({_broken_link(p)})" for p in named if p.is_symlink() and not p.exists()]
    skipped = f"; skipped {len(broken)} broken symbolic link(s): {', '.join(broken)}" if broken else ""
    if not files:
        raise ImageReadError(f"image folder {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)}){skipped}")
    if broken:
        print(f"warning: image folder {folder}{skipped}", file=sys.stderr, flush=True)
    by_stem: dict[str, Path] = {}
    for path in files:
        if path.stem in by_stem:
            raise ImageReadError(f"image folder {folder} holds both {by_stem[path.stem].name} and {path.name} for "
                                 f"image '{path.stem}'; keep only one of them")
        by_stem[path.stem] = path
    return files


def _broken_link(path: Path) -> str:
    """Why the symbolic link ``path`` leads to no file: a loop, or a missing target."""
    try:
        path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symbolic link loop"
    return f"its target {os.readlink(path)} does not exist"


def check_output_folder(input_dir: str | os.PathLike, out_dir: str | os.PathLike) -> None:
    """Refuse an output folder that is, or contains, ``input_dir`` (paths resolved), or that is a file.

    Outputs are written as ``out_dir/<stem>.png``: in the input folder itself they would overwrite the inputs, and
    an output folder above the input is one a workflow may delete before it reruns the step. An output folder inside
    the input folder is allowed: image folders are read without descending into subfolders, so its files are neither
    overwritten nor read back as inputs.
    """
    source, target = Path(input_dir).resolve(), Path(out_dir).resolve()
    if target == source or target in source.parents:
        relation = "is" if target == source else "contains"
        raise SrreproError(f"output folder {out_dir} {relation} the input folder {input_dir}; "
                           f"choose an output folder outside it")
    if target.exists() and not target.is_dir():
        raise SrreproError(f"output folder {out_dir} is an existing file; name a folder")


@contextlib.contextmanager
def staged_folder(out_dir: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out_dir``; if the block succeeds, move its files into ``out_dir``
    (created if needed), otherwise delete it: ``out_dir`` receives every file of the block or none. With ``replace``
    the folder takes ``out_dir``'s place instead (the old ``out_dir`` is deleted), so that ``out_dir`` then holds the
    block's files and nothing else."""
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        yield stage
        if replace:
            stage.chmod(0o777 & ~_umask())  # mkdtemp's folder is private; out_dir gets a new folder's mode
            old = stage.with_suffix(".old")
            if out_dir.is_dir():
                os.rename(out_dir, old)
            os.rename(stage, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            out_dir.mkdir(exist_ok=True)
            for path in sorted(stage.iterdir()):
                os.replace(path, out_dir / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop height and width down to multiples of ``scale``, keeping the top-left corner."""
    scale = int(scale)
    height, width = img.shape[0], img.shape[1]
    return img[: height - height % scale, : width - width % scale]

"""The prepared-dataset layout, read and written in one place: ``<dir>/HR/<name>.png`` (cropped to a multiple of the
scale) and ``<dir>/LR_x<scale>/<name>.png`` with the same names, HR exactly ``scale`` times LR."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from srrepro.errors import ConfigError, ImageReadError, SrreproError
from srrepro.imaging.images import (check_output_folder, list_images, mod_crop, read_image, staged_folder,
                                    write_image)
from srrepro.imaging.matlab import imresize


def hr_folder(root: str | os.PathLike) -> Path:
    return Path(root) / "HR"


def lr_folder(root: str | os.PathLike, scale: int) -> Path:
    return Path(root) / f"LR_x{scale}"


def write_pair(root: str | os.PathLike, scale: int, name: str, hr: np.ndarray, lr: np.ndarray) -> None:
    """Atomically write one HR/LR pair of a prepared dataset."""
    write_image(hr_folder(root) / f"{name}.png", hr)
    write_image(lr_folder(root, scale) / f"{name}.png", lr)


def read_prepared(root: str | os.PathLike, scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every ``(name, hr, lr)`` of a prepared dataset, sorted by name, as uint8 RGB arrays.

    Raises :class:`ConfigError` naming the folder when it holds no HR image, an LR image is missing or a pair's
    sizes do not differ by exactly ``scale``.
    """
    root = Path(root)
    hr_dir, lr_dir = hr_folder(root), lr_folder(root, scale)
    paths = sorted(hr_dir.glob("*.png")) if hr_dir.is_dir() else []
    if not paths:
        raise ConfigError(f"prepared dataset {root}: no PNG images in {hr_dir}")
    triples = []
    for path in paths:
        lr_path = lr_dir / path.name
        if not lr_path.is_file():
            raise ConfigError(f"prepared dataset {root}: {lr_path} is missing (every HR image needs its LR)")
        try:
            hr, lr = read_image(path), read_image(lr_path)
        except ImageReadError as err:
            raise ImageReadError(f"{err}; prepared dataset {root} is damaged: delete the folder and prepare it "
                                 f"again") from None
        if hr.shape[0] != lr.shape[0] * scale or hr.shape[1] != lr.shape[1] * scale:
            raise ConfigError(f"prepared dataset {root}: {path.name} HR {hr.shape[:2]} is not {scale}x "
                              f"its LR {lr.shape[:2]}")
        triples.append((path.stem, hr, lr))
    return triples


def degrade_folder(hr_dir: str | os.PathLike, out_dir: str | os.PathLike, scale: int) -> int:
    """MATLAB bicubic x1/``scale`` of every image of ``hr_dir`` (cropped to a multiple of the scale) into
    ``out_dir/<stem>.png``; returns the number of images.

    ``out_dir`` must not be or contain ``hr_dir``. Writes nothing unless every image degrades (an image smaller than
    ``scale`` pixels, or an unreadable one, raises an error naming it).
    """
    paths = list_images(hr_dir)
    check_output_folder(hr_dir, out_dir)
    with staged_folder(out_dir) as stage:
        for path in paths:
            hr = read_image(path)
            if min(hr.shape[:2]) < scale:
                raise SrreproError(f"image {path} is {hr.shape[1]}x{hr.shape[0]} pixels, smaller than the scale "
                                   f"{scale}: it has no x1/{scale} image; remove it or use a smaller scale")
            write_image(stage / f"{path.stem}.png", imresize(mod_crop(hr, scale), 1 / scale))
    return len(paths)

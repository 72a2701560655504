"""Dataset registry: the embedded demo photographs and the standard x4 benchmark sets.

Demo (always available offline): the colour photographs shipped inside the scikit-image wheel. The rule for the
split is fixed: the three smallest images by pixel count (ties broken by name) form ``demo_test``
(chelsea, coffee, astronaut), the other six form ``demo_train``. The stereo pair motorcycle_left/right stays
together in training, so no test image has a near-duplicate in training.

Benchmarks are read from a mirror directory laid out like the SelfExSR repository's ``data/`` folder:
``<mirror>/<Set>/image_SRF_4/img_NNN_SRF_4_HR.png``. A folder ``<mirror>/<Set>/HR/`` or plain images in
``<mirror>/<Set>/`` are accepted as well. The mirror comes from the config key ``data.mirror``; it may also be
the parent of a ``SelfExSR/`` folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from srrepro.bicubic import imresize, mod_crop
from srrepro.errors import AssetUnavailable, ConfigError
from srrepro.images import IMAGE_SUFFIXES, list_images, read_image, write_image

MIRROR_CONFIG_KEY = "data.mirror"
_SRF_SUFFIX = re.compile(r"_SRF_\d+_HR$")


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: embedded demo images (``members``) or a benchmark folder inside the mirror."""

    name: str
    description: str
    members: tuple[str, ...] = ()

    @property
    def is_demo(self) -> bool:
        return bool(self.members)


def _skimage_loaders() -> dict[str, Callable[[], np.ndarray]]:
    """The colour photographs in the scikit-image wheel that load without a download."""
    from skimage import data

    return {
        "astronaut": data.astronaut,
        "chelsea": data.chelsea,
        "coffee": data.coffee,
        "hubble_deep_field": data.hubble_deep_field,
        "immunohistochemistry": data.immunohistochemistry,
        "motorcycle_left": lambda: data.stereo_motorcycle()[0],
        "motorcycle_right": lambda: data.stereo_motorcycle()[1],
        "retina": data.retina,
        "rocket": data.rocket,
    }


DEMO_TEST = ("astronaut", "chelsea", "coffee")
DEMO_TRAIN = ("hubble_deep_field", "immunohistochemistry", "motorcycle_left", "motorcycle_right", "retina", "rocket")

_DATASETS = {
    spec.name: spec
    for spec in (
        DatasetSpec("demo_train", "scikit-image colour photographs, training split", DEMO_TRAIN),
        DatasetSpec("demo_test", "scikit-image colour photographs, test split (three smallest)", DEMO_TEST),
        DatasetSpec("Set5", "Set5 (Bevilacqua et al.), 5 images"),
        DatasetSpec("Set14", "Set14 (Zeyde et al.), 14 images, two of them grayscale"),
        DatasetSpec("BSD100", "BSD100 (Martin et al.), 100 images"),
        DatasetSpec("Urban100", "Urban100 (Huang et al.), 100 images"),
        DatasetSpec("Manga109", "Manga109 (Matsui et al.), 109 images"),
        DatasetSpec("DIV2K_valid", "DIV2K validation (Agustsson and Timofte), 100 images"),
        DatasetSpec("PIRM_val", "PIRM-2018 self-validation set, 100 images"),
    )
}


def list_dataset_names() -> list[str]:
    """Names of all known datasets."""
    return list(_DATASETS)


def get_dataset(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``."""
    if name not in _DATASETS:
        raise ConfigError(f"unknown dataset '{name}'; known datasets: {', '.join(_DATASETS)}")
    return _DATASETS[name]


def _resolve_mirror(name: str, mirror: str | os.PathLike | None) -> Path:
    if mirror is None:
        raise ConfigError(f"dataset '{name}' is read from a local mirror: set the config key '{MIRROR_CONFIG_KEY}'")
    mirror = Path(mirror)
    if not (mirror / name).is_dir() and (mirror / "SelfExSR" / name).is_dir():
        return mirror / "SelfExSR"
    return mirror


def _benchmark_files(name: str, scale: int, mirror: Path) -> list[Path]:
    """HR files of benchmark ``name`` in the mirror, trying the SelfExSR layout first."""
    base = mirror / name
    candidates = [base / f"image_SRF_{scale}", base / "image_SRF_4", base / "HR", base]
    for folder in dict.fromkeys(candidates):  # ordered and without the duplicate when scale is 4
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if folder.name.startswith("image_SRF_"):
            files = [p for p in files if _SRF_SUFFIX.search(p.stem)]
        if files:
            return files
    tried = [f"{folder} ({'no HR images' if folder.is_dir() else 'missing'})" for folder in dict.fromkeys(candidates)]
    raise AssetUnavailable(name, tried, config_key=MIRROR_CONFIG_KEY)


def iter_hr_images(
    name: str, scale: int = 4, mirror: str | os.PathLike | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(image_name, hr)`` for dataset ``name``, uint8 RGB as stored (not mod-cropped).

    Benchmark image names are the file stem without the ``_SRF_<k>_HR`` suffix (``img_001``).
    """
    spec = get_dataset(name)
    if spec.is_demo:
        loaders = _skimage_loaders()
        for member in spec.members:
            yield member, np.ascontiguousarray(loaders[member]()[..., :3], dtype=np.uint8)
        return
    for path in _benchmark_files(name, scale, _resolve_mirror(name, mirror)):
        yield _SRF_SUFFIX.sub("", path.stem), read_image(path)


def prepare_dataset(
    name: str, out_dir: str | os.PathLike, scale: int, mirror: str | os.PathLike | None = None
) -> list[str]:
    """Write ``out_dir/HR/<image>.png`` (mod-cropped to ``scale``) and ``out_dir/LR_x<scale>/<image>.png``.

    The LR image is MATLAB-compatible bicubic x1/scale of the written HR image. Files are written atomically.
    Returns the image names in order.
    """
    out_dir = Path(out_dir)
    names = []
    for image_name, hr in iter_hr_images(name, scale, mirror):
        hr = mod_crop(hr, scale)
        write_image(out_dir / "HR" / f"{image_name}.png", hr)
        write_image(out_dir / f"LR_x{scale}" / f"{image_name}.png", imresize(hr, 1.0 / scale))
        names.append(image_name)
    return names


def read_prepared(out_dir: str | os.PathLike, scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Read back a prepared dataset as ``(image_name, hr, lr)`` triples, sorted by name."""
    out_dir = Path(out_dir)
    return [
        (path.stem, read_image(path), read_image(out_dir / f"LR_x{scale}" / path.name))
        for path in list_images(out_dir / "HR")
    ]

"""Dataset registry: the embedded demo photographs and the super-resolution sets the papers use.

Demo sets (always available offline) are photographs shipped inside installed packages
(:mod:`srrepro.data.demo_photographs`).

Every other set is declared in :mod:`srrepro.data.dataset_sources` (description, licence, sources, checksums) and is
resolved in this order:

1. the local mirror (config key ``data.mirror``; the mirror may also be the parent of a ``SelfExSR/`` folder),
   under any of the set's mirror names, in the first layout that holds images:
   ``<mirror>/<Name>/image_SRF_<scale>/*_SRF_<scale>_HR.png`` (SelfExSR; ``image_SRF_4`` is tried as well),
   ``<mirror>/<Name>/HR/``, or plain HR images in ``<mirror>/<Name>/`` (if some file names end in ``_HR``,
   only those). Sets with real LR images (RealSR V3) are read from ``<mirror>/<Name>/Test/<scale>/`` or
   ``<mirror>/<Name>/<camera>/Test/<scale>/`` as ``<stem>_HR.png`` with ``<stem>_LR<scale>.png``;
2. the download cache ``<cache>/datasets/<Name>/`` (``HR/``, ``LR/`` and ``provenance.json``), filled by
   :func:`srrepro.data.dataset_cache.fetch_dataset`, which downloads, verifies and extracts into a hidden temporary folder and renames it
   into place only when complete and verified, so a half-extracted set is never used;
3. with ``download=True``, ``fetch_dataset`` from the declared sources;
4. otherwise :class:`~srrepro.errors.DatasetUnavailable`, naming the mirror folders, cache folder and URLs tried and the config key.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from srrepro.data import demo_photographs
from srrepro.data.dataset_cache import cache_valid, dataset_cache_dir, fetch_dataset
from srrepro.data.dataset_sources import (
    DATASET_SOURCES,
    DOWNLOAD_CONFIG_KEY,
    MIRROR_CONFIG_KEY,
    SR_DATASETS,
    DatasetSource,
    get_source,
)
from srrepro.data.prepared import write_pair
from srrepro.errors import ConfigError, DatasetUnavailable, ImageReadError
from srrepro.imaging.images import IMAGE_SUFFIXES, mod_crop, read_image, staged_folder
from srrepro.imaging.matlab import imresize

_SRF_SUFFIX = re.compile(r"_SRF_\d+_HR$")
_HR_SUFFIX = re.compile(r"(_SRF_\d+)?_HR$")


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: embedded demo images (``members``) or a declared set (see :mod:`srrepro.data.dataset_sources`)."""

    name: str
    description: str
    members: tuple[str, ...] = ()
    centre_crop: int = 0  # demo sets only: keep the central crop x crop pixels of each photograph (0: whole image)

    @property
    def is_demo(self) -> bool:
        return bool(self.members)

    @property
    def source(self) -> DatasetSource | None:
        return None if self.members else DATASET_SOURCES[self.name]


_DATASETS = {
    spec.name: spec
    for spec in (
        DatasetSpec("demo_train", "natural colour photographs from scikit-image and matplotlib, training split",
                    demo_photographs.DEMO_TRAIN),
        DatasetSpec("demo_test", "natural colour photographs from scikit-image, test split", demo_photographs.DEMO_TEST),
        DatasetSpec("demo_val", "central 192x192 crops of the demo_test photographs, for cheap validation curves",
                    demo_photographs.DEMO_TEST, centre_crop=192),
        DatasetSpec("demo_train_scenes", "the demo_train photographs of scenes (rocket, motorcycle): the demo's "
                    "stand-in for OST_train in SPSAGAN's OST + DIV2K mixture", demo_photographs.DEMO_TRAIN_SCENES),
        *(DatasetSpec(name, DATASET_SOURCES[name].description) for name in SR_DATASETS),
    )
}


def list_dataset_names() -> list[str]:
    """Names of all known (super-resolution) datasets."""
    return list(_DATASETS)


def get_dataset(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``."""
    if name not in _DATASETS:
        raise ConfigError(f"unknown dataset '{name}'; known datasets: {', '.join(_DATASETS)}")
    return _DATASETS[name]


# ---------------------------------------------------------------------------------------------- naming


def _image_name(path: Path) -> str:
    """``img_001_SRF_4_HR.png`` → ``img_001``; ``Canon_001_HR.png`` → ``Canon_001``; ``0001.png`` → ``0001``."""
    return _HR_SUFFIX.sub("", path.stem)


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _hr_only(files: list[Path]) -> list[Path]:
    """The ``*_HR`` files when some are so marked (folders that hold LR images beside them), else all."""
    marked = [p for p in files if _HR_SUFFIX.search(p.stem)]
    return marked if marked else files


@dataclass
class _Found:
    """HR images of a set as ``(name, path)`` plus the provided LR image of each name (real-LR sets only)."""

    hr: list[tuple[str, Path]]
    lr: dict[str, Path]
    origin: str


def _pair_real_lr(folder: Path, scale: int, prefix: str = "") -> tuple[list[tuple[str, Path]], dict[str, Path]]:
    files = _images_in(folder)
    lr_by_stem = {p.stem[: -len(f"_LR{scale}")]: p for p in files if p.stem.endswith(f"_LR{scale}")}
    hr, lr = [], {}
    for p in files:
        if not p.stem.endswith("_HR"):
            continue
        stem = p.stem[:-3]
        name = stem if not prefix or stem.startswith(prefix) else f"{prefix}_{stem}"
        if stem in lr_by_stem:
            hr.append((name, p))
            lr[name] = lr_by_stem[stem]
    return hr, lr


# ---------------------------------------------------------------------------------------------- the mirror


def _mirror_roots(mirror: Path) -> list[Path]:
    return list(dict.fromkeys([mirror, mirror / "SelfExSR"]))


def _from_mirror(source: DatasetSource, scale: int, mirror: Path, tried: list[str]) -> _Found | None:
    """The set in the mirror, in the first layout holding images; every folder looked at is added to ``tried``."""
    for root in _mirror_roots(mirror):
        for mirror_name in source.mirror_names:
            base = root / mirror_name
            if not base.is_dir():
                if root == mirror:  # the SelfExSR/ sub-folder is only reported when it exists
                    tried.append(f"mirror {base} (missing)")
                continue
            if source.real_lr:
                folders = [(base / "Test" / str(scale), "")]
                if base.is_dir():
                    folders += [(sub / "Test" / str(scale), sub.name) for sub in sorted(base.iterdir())
                                if (sub / "Test" / str(scale)).is_dir()]
                hr, lr = [], {}
                for folder, prefix in folders:
                    found_hr, found_lr = _pair_real_lr(folder, scale, prefix)
                    hr += found_hr
                    lr.update(found_lr)
                if hr:
                    return _Found(hr, lr, f"mirror {base}")
                tried.append(f"mirror {base / 'Test' / str(scale)} and {base}/<camera>/Test/{scale} "
                             f"(no <stem>_HR + <stem>_LR{scale} pairs)")
                continue
            if source.recursive and base.is_dir():
                files = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
                if files:
                    hr = [("_".join([*p.relative_to(base).parent.parts, _image_name(p)]), p) for p in files]
                    return _Found(hr, {}, f"mirror {base}")
            for folder in dict.fromkeys([base / f"image_SRF_{scale}", base / "image_SRF_4", base / "HR", base]):
                files = _images_in(folder)
                if folder.name.startswith("image_SRF_"):
                    files = [p for p in files if _SRF_SUFFIX.search(p.stem)]
                else:
                    files = _hr_only(files)
                if files:
                    return _Found([(_image_name(p), p) for p in files], {}, f"mirror {folder}")
                tried.append(f"mirror {folder} ({'no HR images' if folder.is_dir() else 'missing'})")
    return None


# ---------------------------------------------------------------------------------------------- the cache


def _from_cache(source: DatasetSource, scale: int, target: Path, tried: list[str]) -> _Found | None:
    if not cache_valid(target):
        state = "missing" if not target.exists() else "incomplete or without provenance.json"
        tried.append(f"download cache {target} ({state})")
        return None
    if source.real_lr:
        hr, lr = [], {}
        lr_files = {p.stem[: -len(f"_LR{scale}")]: p for p in _images_in(target / "LR")
                    if p.stem.endswith(f"_LR{scale}")}
        for p in _images_in(target / "HR"):
            stem = _image_name(p)
            if stem in lr_files:
                hr.append((stem, p))
                lr[stem] = lr_files[stem]
        if not hr:
            tried.append(f"download cache {target} (no LR images for scale {scale})")
            return None
        return _Found(hr, lr, f"cache {target}")
    return _Found([(_image_name(p), p) for p in _images_in(target / "HR")], {}, f"cache {target}")


# ---------------------------------------------------------------------------------------------- resolution


def _download_tried(source: DatasetSource) -> list[str]:
    return [f"{d.url} (not tried: downloading not enabled)" for d in source.downloads]


def _locate(name: str, scale: int, mirror, cache_dir, download: bool) -> _Found:
    source = get_source(name)
    if mirror is None and cache_dir is None and not download:
        urls = ", ".join(d.url for d in source.downloads) or "none (user-supplied only)"
        raise ConfigError(
            f"dataset '{name}' is read from a local mirror: set the config key '{MIRROR_CONFIG_KEY}' "
            f"(a folder holding {source.mirror_names[0]}/), or give a cache folder and allow downloading "
            f"(download sources: {urls})")
    tried: list[str] = []
    if mirror is not None:
        found = _from_mirror(source, scale, Path(mirror), tried)
        if found is not None:
            return found
    else:
        tried.append(f"mirror: none configured ({MIRROR_CONFIG_KEY})")
    target = dataset_cache_dir(cache_dir) / name
    if cache_dir is not None or download:
        found = _from_cache(source, scale, target, tried)
        if found is not None:
            return found
    if download and not source.user_supplied:
        try:
            fetch_dataset(name, cache_dir)
        except DatasetUnavailable as err:
            tried += err.tried
        else:
            found = _from_cache(source, scale, target, tried)
            if found is not None:
                return found
    elif source.user_supplied:
        tried.append(f"download: none possible ({source.licence})")
    else:
        tried += _download_tried(source)
    allow = ("" if download or source.user_supplied else
             f", or set {DOWNLOAD_CONFIG_KEY}: true (srrepro prepare --download) to download it with its checksum")
    raise DatasetUnavailable(name, tried, source.key, f" (layout: {source.layout}){allow}")


def iter_image_pairs(
    name: str, scale: int = 4, mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None, download: bool = False,
) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """Yield ``(image_name, hr, provided_lr)``: ``provided_lr`` is the set's own LR image for real-degradation
    sets (RealSR V3) and None for the others (and for the demo sets)."""
    spec = get_dataset(name)
    if spec.is_demo:
        loaders = demo_photographs.loaders()
        for member in spec.members:
            image = loaders[member]()[..., :3]
            if spec.centre_crop:
                top = (image.shape[0] - spec.centre_crop) // 2
                left = (image.shape[1] - spec.centre_crop) // 2
                image = image[top : top + spec.centre_crop, left : left + spec.centre_crop]
            yield member, np.ascontiguousarray(image, dtype=np.uint8), None
        return
    found = _locate(name, scale, mirror, cache_dir, download)
    for image_name, path in found.hr:
        lr_path = found.lr.get(image_name)
        yield image_name, _read_member(name, found, path), (_read_member(name, found, lr_path) if lr_path else None)


def _read_member(name: str, found: _Found, path: Path) -> np.ndarray:
    """An image of dataset ``name``; a damaged one (truncated, corrupt) is refused naming the file and the fix."""
    try:
        return read_image(path)
    except ImageReadError as err:
        if found.origin.startswith("cache "):
            fix = f"delete the download cache folder {found.origin.removeprefix('cache ')} to download the set again"
        else:
            urls = [d.url.replace("{name}", path.name) for d in get_source(name).downloads
                    if d.kind == "files" and path.name in d.members]
            fix = "replace it with a complete copy" + (f" ({urls[0]})" if urls else "")
        raise ImageReadError(f"{err}; it is an image of dataset '{name}' ({found.origin}): {fix}") from None


def iter_hr_images(
    name: str, scale: int = 4, mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None, download: bool = False,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(image_name, hr)`` for dataset ``name``, uint8 RGB as stored (not mod-cropped).

    Benchmark image names are the file stem without the ``_SRF_<k>_HR`` (or ``_HR``) suffix (``img_001``).
    """
    for image_name, hr, _ in iter_image_pairs(name, scale, mirror, cache_dir, download):
        yield image_name, hr


def _crop_provided_lr(name: str, hr: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    if lr.shape[0] < h or lr.shape[1] < w or lr.shape[0] > h + 1 or lr.shape[1] > w + 1:
        raise ValueError(f"{name}: provided LR {lr.shape[:2]} does not match HR {hr.shape[:2]} at x{scale}")
    return lr[:h, :w]


def centre_crop_pair(hr: np.ndarray, lr: np.ndarray | None, scale: int, lr_size: int):
    """The central crop of at most ``lr_size`` x ``lr_size`` LR pixels of ``lr`` and the matching HR region of ``hr``
    (HR a multiple of ``scale``, its LR grid aligned); ``lr`` None: HR only (its LR is made afterwards)."""
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    ch, cw = min(h, lr_size), min(w, lr_size)
    top, left = (h - ch) // 2, (w - cw) // 2
    hr = hr[top * scale : (top + ch) * scale, left * scale : (left + cw) * scale]
    return hr, (None if lr is None else lr[top : top + ch, left : left + cw])


def prepare_dataset(
    name: str, out_dir: str | os.PathLike, scale: int, mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None, download: bool = False, centre_crop_lr: int = 0, max_images: int = 0,
) -> list[str]:
    """Write ``out_dir/HR/<image>.png`` (mod-cropped to ``scale``) and ``out_dir/LR_x<scale>/<image>.png``.

    The LR image is MATLAB-compatible bicubic x1/scale of the written HR image, except for sets that ship their
    own LR images (RealSR V3, real degradation): their provided LR image is written, cropped to HR/scale.
    Sources: the mirror, then ``<cache_dir>/datasets/<name>``, then (``download=True``) :func:`fetch_dataset`.
    Smoke runs shrink the work: ``centre_crop_lr`` keeps each image's central crop of at most that many LR pixels
    a side (the HR crop is taken first and degraded; a provided LR image is cropped alike); ``max_images`` keeps the
    first images only. ``out_dir`` receives the whole set or, when any image fails, nothing (a staged folder
    takes its place at the end). Returns the image names in order.
    """
    names = []
    pairs = iter_image_pairs(name, scale, mirror, cache_dir, download)
    with staged_folder(out_dir, replace=True) as stage:
        for image_name, hr, provided_lr in itertools.islice(pairs, max_images or None):
            hr = mod_crop(hr, scale)
            if provided_lr is not None:
                provided_lr = _crop_provided_lr(image_name, hr, provided_lr, scale)
            if centre_crop_lr:
                hr, provided_lr = centre_crop_pair(hr, provided_lr, scale, centre_crop_lr)
            lr = imresize(hr, 1.0 / scale) if provided_lr is None else provided_lr
            write_pair(stage, scale, image_name, hr, lr)
            names.append(image_name)
    return names

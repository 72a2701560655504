"""Dataset registry: the embedded demo photographs and the super-resolution sets the papers use.

Demo (always available offline): the colour photographs shipped inside the scikit-image wheel. The rule for the
split is fixed: the three smallest images by pixel count (ties broken by name) form ``demo_test``
(chelsea, coffee, astronaut), the other six form ``demo_train``. The stereo pair motorcycle_left/right stays
together in training, so no test image has a near-duplicate in training.

Every other set is declared in :mod:`srrepro.dataset_sources` (description, licence, sources, checksums) and is
resolved in this order:

1. the local mirror (config key ``data.mirror``; the mirror may also be the parent of a ``SelfExSR/`` folder),
   under any of the set's mirror names, in the first layout that holds images:
   ``<mirror>/<Name>/image_SRF_<scale>/*_SRF_<scale>_HR.png`` (SelfExSR; ``image_SRF_4`` is tried as well),
   ``<mirror>/<Name>/HR/``, or plain HR images in ``<mirror>/<Name>/`` (if some file names end in ``_HR``,
   only those). Sets with real LR images (RealSR V3) are read from ``<mirror>/<Name>/Test/<scale>/`` or
   ``<mirror>/<Name>/<camera>/Test/<scale>/`` as ``<stem>_HR.png`` with ``<stem>_LR<scale>.png``;
2. the download cache ``<cache>/datasets/<Name>/`` (``HR/``, ``LR/`` and ``provenance.json``), filled by
   :func:`fetch_dataset`, which downloads, verifies and extracts into a hidden temporary folder and renames it
   into place only when complete and verified, so a half-extracted set is never used;
3. with ``download=True``, :func:`fetch_dataset` from the declared sources;
4. otherwise :class:`DatasetUnavailable`, naming the mirror folders, cache folder and URLs tried and the config key.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from srrepro import assets as _assets
from srrepro.atomic import write_text
from srrepro.bicubic import imresize, mod_crop
from srrepro.dataset_sources import (
    DATASET_SOURCES,
    MIRROR_CONFIG_KEY,
    SR_DATASETS,
    DatasetSource,
    Download,
    available_datasets,
    get_source,
)
from srrepro.errors import AssetUnavailable, ConfigError
from srrepro.images import IMAGE_SUFFIXES, list_images, read_image, write_image

__all__ = [
    "DEMO_TEST", "DEMO_TRAIN", "MIRROR_CONFIG_KEY", "DatasetSpec", "DatasetUnavailable", "available_datasets",
    "content_sha256", "dataset_cache_dir", "fetch_dataset", "get_dataset", "iter_hr_images", "iter_image_pairs",
    "list_dataset_names", "prepare_dataset", "read_prepared",
]

_SRF_SUFFIX = re.compile(r"_SRF_\d+_HR$")
_HR_SUFFIX = re.compile(r"(_SRF_\d+)?_HR$")
PROVENANCE_FILE = "provenance.json"
CACHE_SUBDIR = "datasets"


class DatasetUnavailable(AssetUnavailable):
    """A dataset is in neither the mirror nor the cache and could not be downloaded (or may not be).

    The message names the dataset, every mirror folder and URL tried (with why it failed) and the config key.
    """

    def __init__(self, name: str, tried: list[str], config_key: str, hint: str = ""):
        super().__init__(name, tried, config_key)
        tried_text = "\n  ".join(self.tried) if self.tried else "nothing"
        message = (f"dataset '{name}' is unavailable; tried:\n  {tried_text}\n"
                   f"supply it with the config key '{config_key}'{hint}")
        self.args = (message,)

    @property
    def reason(self) -> str:
        return f"dataset '{self.name}' unavailable"


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: embedded demo images (``members``) or a declared set (see :mod:`srrepro.dataset_sources`)."""

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
        DatasetSpec("demo_val", "central 192x192 crops of the demo_test photographs, for cheap validation curves",
                    DEMO_TEST, centre_crop=192),
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
            if root != mirror and not base.is_dir():
                continue  # the SelfExSR/ sub-folder is only reported when it exists
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


def dataset_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``<cache>/datasets`` (``cache`` defaults to the asset cache, ``$SRREPRO_ASSET_CACHE`` or ``.cache/assets``)."""
    return (Path(cache_dir) if cache_dir is not None else _assets.default_cache_dir()) / CACHE_SUBDIR


def _file_records(tree: Path) -> dict[str, dict]:
    return {p.relative_to(tree).as_posix(): {"size": p.stat().st_size, "sha256": _assets.sha256_of(p)}
            for p in sorted(tree.rglob("*")) if p.is_file() and p.name != PROVENANCE_FILE}


def content_sha256(records_or_folder) -> str:
    """The content checksum of a cached set: sha256 of the sorted lines ``"<file> <sha256>\\n"`` where ``<file>``
    is the bare name of an HR file and ``LR/<name>`` for a provided LR file. Takes a cache folder (with ``HR/``
    and optionally ``LR/``) or the ``files`` records of a provenance file."""
    records = (_file_records(Path(records_or_folder)) if isinstance(records_or_folder, (str, os.PathLike))
               else records_or_folder)
    lines = sorted(f"{rel.removeprefix('HR/')} {rec['sha256']}\n" for rel, rec in records.items())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _cache_valid(target: Path, verify: bool = False) -> bool:
    """A cached set is used only with its provenance record and every recorded file present at its size
    (and, with ``verify``, its sha256)."""
    try:
        record = json.loads((target / PROVENANCE_FILE).read_text())
        files = record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not files:
        return False
    for rel, rec in files.items():
        path = target / rel
        if not path.is_file() or path.stat().st_size != rec["size"]:
            return False
        if verify and _assets.sha256_of(path) != rec["sha256"]:
            return False
    return True


def _from_cache(source: DatasetSource, scale: int, target: Path, tried: list[str]) -> _Found | None:
    if not _cache_valid(target):
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


# ---------------------------------------------------------------------------------------------- downloads


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_download(download: Download, raw: Path) -> dict:
    """Check size, sha256 and md5 of a downloaded archive; return what was checked (raise ``_Rejected``)."""
    size = raw.stat().st_size
    if download.size is not None and size != download.size:
        raise _assets._Rejected(f"size mismatch for {download.url} (expected {download.size} bytes, got {size})")
    sha = _assets.sha256_of(raw)
    checks = []
    if download.sha256:
        checks.append(_assets._check_sha(download.sha256, sha, download.url))
    md5 = _md5_of(raw)
    if download.md5:
        if md5 != download.md5.lower():
            raise _assets._Rejected(f"md5 mismatch for {download.url} (expected {download.md5}, got {md5})")
        checks.append("md5")
    return {"archive_sha256": sha, "archive_md5": md5, "archive_size": size,
            "archive_verification": " + ".join(checks) or "none published: recorded on first download"}


def _place(tree: Path, download: Download, member: str, data: bytes) -> bool:
    """Write an archive member into ``tree/HR`` or ``tree/LR`` under its bare name; False if not wanted."""
    if fnmatch.fnmatchcase(member, download.hr_glob):
        folder = "HR"
    elif download.lr_glob and fnmatch.fnmatchcase(member, download.lr_glob):
        folder = "LR"
    else:
        return False
    target = tree / folder / Path(member).name
    if target.exists():
        raise _assets._Rejected(f"two members are named {target.name} ({member})")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return True


def _extract(download: Download, raw: Path, tree: Path) -> None:
    if zipfile.is_zipfile(raw):
        with zipfile.ZipFile(raw) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    name = info.filename
                    if (fnmatch.fnmatchcase(name, download.hr_glob)
                            or (download.lr_glob and fnmatch.fnmatchcase(name, download.lr_glob))):
                        _place(tree, download, name, zf.read(info))
    elif tarfile.is_tarfile(raw):
        with tarfile.open(raw) as tf:
            for info in tf:
                if info.isfile():
                    name = info.name
                    if (fnmatch.fnmatchcase(name, download.hr_glob)
                            or (download.lr_glob and fnmatch.fnmatchcase(name, download.lr_glob))):
                        _place(tree, download, name, tf.extractfile(info).read())
    else:
        raise _assets._Rejected(f"{download.url} is neither a zip nor a tar archive")
    if not (tree / "HR").is_dir():
        raise _assets._Rejected(f"no member of {download.url} matches {download.hr_glob}")


def _fetch_into(download: Download, work: Path, tree: Path) -> dict:
    """Download ``download`` and put the kept files into ``tree``; return provenance details."""
    if download.kind == "files":
        for member in download.members:
            url = download.url.replace("{name}", member)
            folder = "LR" if download.lr_glob and fnmatch.fnmatchcase(member, download.lr_glob) else "HR"
            (tree / folder).mkdir(parents=True, exist_ok=True)
            _assets._download_url(url, tree / folder / Path(member).name)
        return {"archive_verification": "per-file download: only the content checksum applies"}
    if download.kind != "archive":
        raise _assets._Rejected(f"unknown download kind {download.kind}")
    raw = work / "download"
    _assets._download_url(download.url, raw)
    details = _verify_download(download, raw)
    _extract(download, raw, tree)
    raw.unlink()
    return details


def _install_tree(tree: Path, target: Path, work: Path) -> None:
    """Rename the complete, verified ``tree`` to ``target`` (replacing an invalid earlier copy)."""
    if target.exists():
        os.replace(target, work / "previous")
    os.replace(tree, target)


def _download_tried(source: DatasetSource) -> list[str]:
    return [f"{d.url} (not tried: downloading not enabled)" for d in source.downloads]


def fetch_dataset(name: str, cache_dir: str | os.PathLike | None = None, verify: bool = False) -> Path:
    """Download dataset ``name`` into ``<cache>/datasets/<name>/`` (``HR/``, ``LR/``, ``provenance.json``) and
    return that folder. A valid cached copy is returned as it is (``verify`` re-hashes every file).

    Each declared source is tried in turn: downloaded into a hidden temporary folder beside the target, its
    archive checksums (size, sha256, md5) and content checksum verified, the wanted files extracted, the
    provenance written, and only then renamed into place. Raises :class:`DatasetUnavailable` naming the URLs
    tried and the config key when no source delivers (always for user-supplied sets).
    """
    source = get_source(name)
    root = dataset_cache_dir(cache_dir)
    target = root / name
    if _cache_valid(target, verify):
        return target
    tried = []
    if source.user_supplied:
        tried.append(f"no download source: {source.licence}")
    else:
        root.mkdir(parents=True, exist_ok=True)
    for download in source.downloads:
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
        tree = work / "tree"
        tree.mkdir()
        try:
            details = _fetch_into(download, work, tree)
            files = _file_records(tree)
            if not files:
                raise _assets._Rejected("nothing was extracted")
            content = content_sha256(files)
            if download.content_sha256 and content != download.content_sha256:
                raise _assets._Rejected(f"content sha256 mismatch for {download.url} "
                                        f"(expected {download.content_sha256}, got {content})")
            record = {
                "name": name, "source": download.url, "kind": download.kind, **details,
                "content_sha256": content,
                "content_verification": "content_sha256" if download.content_sha256
                else "none published: recorded on first download",
                "checksum_source": download.checksum_source, "licence": source.licence,
                "description": source.description,
                "fetched_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "files": files,
            }
            write_text(tree / PROVENANCE_FILE, json.dumps(record, indent=2) + "\n")
            _install_tree(tree, target, work)
            return target
        except (_assets._Rejected, OSError, ValueError, zipfile.BadZipFile, tarfile.TarError) as err:
            if _cache_valid(target):  # another process installed it meanwhile
                return target
            tried.append(f"{download.url}: {err}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise DatasetUnavailable(name, tried, source.key, f" (a folder <{MIRROR_CONFIG_KEY}>/{source.mirror_names[0]}, "
                             f"layout: {source.layout})" if not source.config_key else f" (layout: {source.layout})")


# ---------------------------------------------------------------------------------------------- resolution


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
    raise DatasetUnavailable(name, tried, source.key, f" (layout: {source.layout})")


def iter_image_pairs(
    name: str, scale: int = 4, mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None, download: bool = False,
) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """Yield ``(image_name, hr, provided_lr)``: ``provided_lr`` is the set's own LR image for real-degradation
    sets (RealSR V3) and None for the others (and for the demo sets)."""
    spec = get_dataset(name)
    if spec.is_demo:
        loaders = _skimage_loaders()
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
        yield image_name, read_image(path), (read_image(lr_path) if lr_path is not None else None)


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


def prepare_dataset(
    name: str, out_dir: str | os.PathLike, scale: int, mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None, download: bool = False,
) -> list[str]:
    """Write ``out_dir/HR/<image>.png`` (mod-cropped to ``scale``) and ``out_dir/LR_x<scale>/<image>.png``.

    The LR image is MATLAB-compatible bicubic x1/scale of the written HR image, except for sets that ship their
    own LR images (RealSR V3, real degradation): their provided LR image is written, cropped to HR/scale.
    Sources: the mirror, then ``<cache_dir>/datasets/<name>``, then (``download=True``) :func:`fetch_dataset`.
    Files are written atomically. Returns the image names in order.
    """
    out_dir = Path(out_dir)
    names = []
    for image_name, hr, provided_lr in iter_image_pairs(name, scale, mirror, cache_dir, download):
        hr = mod_crop(hr, scale)
        lr = imresize(hr, 1.0 / scale) if provided_lr is None else _crop_provided_lr(image_name, hr, provided_lr,
                                                                                     scale)
        write_image(out_dir / "HR" / f"{image_name}.png", hr)
        write_image(out_dir / f"LR_x{scale}" / f"{image_name}.png", lr)
        names.append(image_name)
    return names


def read_prepared(out_dir: str | os.PathLike, scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Read back a prepared dataset as ``(image_name, hr, lr)`` triples, sorted by name."""
    out_dir = Path(out_dir)
    return [
        (path.stem, read_image(path), read_image(out_dir / f"LR_x{scale}" / path.name))
        for path in list_images(out_dir / "HR")
    ]

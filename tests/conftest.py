"""Shared fixtures: the read-only reference data (a mirror directory) and thread limits."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit
from typing import NoReturn

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

torch.set_num_threads(int(os.environ.get("SRREPRO_TEST_THREADS", "1")))

# The files that take longest, slowest first (seconds measured on two workers of a 2-core machine, 2026-12-07): they
# are handed out first, so that no worker is left running one of them alone at the end (pyproject.toml addopts).
SLOWEST_FILES = (
    "test_paper_smoke.py",  # 600 s: the whole paper grid as a smoke run
    "test_workflow.py",  # 550 s
    "test_all_target.py",  # 190 s
    "test_slurm.py",  # 160 s
    "test_released_track.py",  # 150 s
    "test_workstation_smoke.py",  # 130 s
    "test_bench_gpu.py",  # 110 s
    "test_interruptions.py",  # 110 s
    "test_planning.py",  # 100 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the files of :data:`SLOWEST_FILES` first, in that order; every other test keeps its place."""
    rank = {name: i for i, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def skip_unless_ci(message: str) -> NoReturn:
    """Skip a test whose input (data, weights, a reference library) is missing; in CI (``CI`` set) fail instead."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _mirror() -> Path:
    return Path(os.environ.get("SRREPRO_MIRROR", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The mirror directory with real benchmark data (``SRREPRO_MIRROR``, default ``../shared/data``).

    In CI (``CI=true``) a missing mirror is an error, never a skip.
    """
    path = _mirror()
    if not (path / "SelfExSR").is_dir():
        skip_unless_ci(f"mirror directory {path} has no SelfExSR/ folder; set SRREPRO_MIRROR to the data mirror")
    return path


@pytest.fixture(scope="session")
def asset_cache() -> Path:
    """Shared asset cache (``SRREPRO_ASSET_CACHE``, default ``.cache/assets`` in the checkout): fetched once."""
    return Path(os.environ.get("SRREPRO_ASSET_CACHE", REPO / ".cache" / "assets"))


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    try:
        socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), 10).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def nrqm_model(asset_cache) -> Path:
    """The Ma/NRQM model file (asset ``nrqm-model``), from the cache or fetched into it.

    Skipped only when the file is absent here: not cached and none of its download hosts can be reached (it is
    published nowhere offline). A fetch that fails although a source is reachable (bad URL, bad file) fails.
    """
    from srrepro.data.assets import ASSETS, fetch_asset
    from srrepro.errors import AssetUnavailable

    try:
        return fetch_asset("nrqm-model", asset_cache)
    except AssetUnavailable as err:
        reachable = [s.location for s in ASSETS["nrqm-model"].sources if _reachable(s.location)]
        if reachable:
            pytest.fail(f"{err}; yet {', '.join(reachable)} can be reached: the fetch is broken")
        pytest.skip(f"the NRQM model file is absent: not in {asset_cache} and no download host is reachable")


def write_paired_dataset(root: Path, count: int, size: int, seed: int) -> Path:
    """A prepared-dataset folder (HR/, LR_x4/) of random images constant on 4x4 blocks, so LR = HR[::4, ::4]."""
    rng = np.random.default_rng(seed)
    (root / "HR").mkdir(parents=True)
    (root / "LR_x4").mkdir()
    for i in range(count):
        lr = rng.integers(0, 256, (size // 4, size // 4 + 4 * i, 3), dtype=np.uint8)
        Image.fromarray(lr).save(root / "LR_x4" / f"{i:03d}.png")
        Image.fromarray(lr.repeat(4, 0).repeat(4, 1)).save(root / "HR" / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A tiny training set for the trainer's tests: three random 64-px HR images and their exact x4 LR."""
    return write_paired_dataset(tmp_path_factory.mktemp("train"), count=3, size=64, seed=1)


@pytest.fixture(scope="module")
def val_dir(tmp_path_factory) -> Path:
    """A tiny validation set: one random 32-px HR image and its exact x4 LR."""
    return write_paired_dataset(tmp_path_factory.mktemp("val"), count=1, size=32, seed=2)


@pytest.fixture(scope="session")
def sftgan_seg_file(tmp_path_factory) -> Path:
    """A synthetic ``segmentation_OST_bic.pth`` in SFTGAN's own key layout (flat ``feature.N…`` and ``deconv``):
    OutdoorSceneSeg with seeded random weights and non-trivial BatchNorm statistics, saved as a plain state dict
    without ``num_batches_tracked`` (as torch 0.4.0, the release's version, wrote it)."""
    from srrepro.models.segmentation_prior import OutdoorSceneSeg

    torch.manual_seed(7)
    net = OutdoorSceneSeg()
    state = {}
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_mean"):
            value = torch.randn_like(value) * 0.1
        elif key.endswith("running_var"):
            value = torch.rand_like(value) + 0.5
        state[key] = value.clone()
    path = tmp_path_factory.mktemp("sftgan") / "segmentation_OST_bic.pth"
    torch.save(state, path)
    return path


@pytest.fixture
def tmpfs():
    """``mount(path, size="1m", read_only=False)``: mount a real tmpfs file system on ``path`` (created), read-only or
    small enough to fill, so that writes fail as on a real read-only or full disk (for root too); unmounted at the
    end. Skipped, with the reason, where mounting is not permitted (it needs root or CAP_SYS_ADMIN)."""
    import subprocess

    mounted = []

    def mount(path: Path, size: str = "1m", read_only: bool = False) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        options = f"size={size}" + (",ro" if read_only else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                                text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs on {path} here (needs root or CAP_SYS_ADMIN): {result.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(path)], check=True)

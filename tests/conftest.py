"""Shared fixtures: the read-only reference data (a mirror directory) and thread limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

torch.set_num_threads(int(os.environ.get("SRREPRO_TEST_THREADS", "1")))


def _mirror() -> Path:
    return Path(os.environ.get("SRREPRO_MIRROR", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The mirror directory with real benchmark data (``SRREPRO_MIRROR``, default ``../shared/data``).

    In CI (``CI=true``) a missing mirror is an error, never a skip.
    """
    path = _mirror()
    if not (path / "SelfExSR").is_dir():
        message = f"mirror directory {path} has no SelfExSR/ folder; set SRREPRO_MIRROR to the data mirror"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def asset_cache() -> Path:
    """Shared asset cache (``SRREPRO_ASSET_CACHE``, default ``.cache/assets`` in the checkout): fetched once."""
    return Path(os.environ.get("SRREPRO_ASSET_CACHE", REPO / ".cache" / "assets"))

"""Seeded random stand-ins for the weights that can only be downloaded, for smoke runs (config key ``smoke``).

A smoke run exercises every variant end to end on a machine that may have no network. Four assets cannot be had
without one: ``vgg19`` (perceptual loss), ``resnet50`` (Table III), ``sftgan-seg`` (SPSAGAN's segmentation prior)
and ``nrqm-model`` (Ma / PI). Each generator here writes a file of the asset's real format (same state-dict keys
and shapes; the NRQM MATLAB struct) filled with seeded random values, so every code path that reads the asset runs
and every number computed from it is meaningless.

Stand-ins live in their own folder, never in the asset cache: :func:`fetch_stand_in` writes
``<folder>/<asset file name>`` and a sidecar whose ``provenance`` is :data:`PROVENANCE`. They are requested by
putting a :class:`StandIn` in ``local_paths`` (see :func:`stand_in_paths`); ``fetch_asset`` hands those names here.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from srrepro.atomic import atomic_path, write_text

PROVENANCE = "random stand-in for a smoke run"
SEED = 0


def _torch_state_file(build: Callable[[], object], keep_prefix: str | None = None):
    """A writer saving the state dict of ``build()`` initialised under :data:`SEED` (the caller's RNG untouched)."""

    def write(path: Path) -> None:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            state = build().state_dict()
        if keep_prefix:
            state = {k: v for k, v in state.items() if k.startswith(keep_prefix)}
        torch.save(state, path)

    return write


def _vgg19():
    from srrepro.models.backbones import VGGFeatures

    return VGGFeatures("vgg19")


def _resnet50():
    from srrepro.models.backbones import ResNet50

    return ResNet50()


def _outdoor_scene_seg():
    from srrepro.models.segmentation_prior import OutdoorSceneSeg

    return OutdoorSceneSeg()


def _random_forest(rng: np.random.Generator, n_features: int, trees: int = 4, depth: int = 3) -> dict:
    """A ``regRF_train`` struct of full binary trees (breadth-first, 1-based links, one column per tree)."""
    nodes = 2 ** (depth + 1) - 1
    inner = 2**depth - 1
    index = np.arange(1, nodes + 1)[:, None].repeat(trees, 1)
    is_inner = index <= inner
    struct = {
        "lDau": np.where(is_inner, 2 * index, 0).astype(np.int32),
        "rDau": np.where(is_inner, 2 * index + 1, 0).astype(np.int32),
        "nodestatus": np.where(is_inner, -3, -1).astype(np.int32),
        "upper": np.where(is_inner, rng.normal(0.0, 1.0, (nodes, trees)), 0.0),
        "avnode": rng.uniform(0.0, 10.0, (nodes, trees)),
        "mbest": np.where(is_inner, rng.integers(1, n_features + 1, (nodes, trees)), 0).astype(np.int32),
    }
    struct.update(nrnodes=np.int32(nodes), ndtree=np.full((trees, 1), nodes, np.int32), ntree=np.int32(trees),
                  mse=np.zeros((trees, 1)), coef=np.zeros((2, 1)))
    return struct


def _nrqm_model(path: Path) -> None:
    """Ma et al.'s ``model.mat`` layout: struct ``model`` with ``rf`` (cell of 3 forests) and ``linear`` (4x1)."""
    import scipy.io

    from srrepro.metrics.nrqm_features import N_DCT, N_GSM, N_SVD

    rng = np.random.default_rng(SEED)
    rf = np.empty((1, 3), dtype=object)
    for i, dims in enumerate((N_DCT, N_GSM, N_SVD)):
        rf[0, i] = _random_forest(rng, dims)
    linear = np.concatenate([[0.0], rng.dirichlet(np.ones(3))]).reshape(4, 1)  # a convex mix of the three scores
    scipy.io.savemat(path, {"model": {"rf": rf, "linear": linear}})


#: asset name → writer of its stand-in file
GENERATORS: dict[str, Callable[[Path], None]] = {
    "vgg19": _torch_state_file(_vgg19),  # features.* only: the classifier is never read (vgg_features keeps features.*)
    "resnet50": _torch_state_file(_resnet50),
    "sftgan-seg": _torch_state_file(_outdoor_scene_seg),
    "nrqm-model": _nrqm_model,
}
STAND_IN_ASSETS = tuple(GENERATORS)


@dataclass(frozen=True)
class StandIn:
    """In ``local_paths``: use the random stand-in of that asset, generated in ``folder`` (not the asset cache)."""

    folder: str | os.PathLike


def stand_in_paths(folder: str | os.PathLike) -> dict[str, StandIn]:
    """``local_paths`` entries that make ``fetch_asset`` return a stand-in for every download-only asset."""
    return {name: StandIn(folder) for name in STAND_IN_ASSETS}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".provenance.json")


def fetch_stand_in(name: str, filename: str, folder: str | os.PathLike) -> Path:
    """``<folder>/<filename>``, the stand-in of asset ``name``, written (atomically) on first use with its sidecar."""
    target = Path(folder) / filename
    sidecar = _sidecar(target)
    if target.is_file() and sidecar.is_file():
        return target
    with atomic_path(target) as tmp:
        GENERATORS[name](tmp)
    from srrepro.data.downloads import sha256_of

    write_text(sidecar, json.dumps({
        "name": name, "file": target.name, "source": PROVENANCE, "provenance": PROVENANCE, "seed": SEED,
        "file_sha256": sha256_of(target),
        "description": f"seeded random values in the format of asset '{name}'; not the real weights",
        "fetched_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }, indent=2) + "\n")
    return target

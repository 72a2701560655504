"""Seeded random stand-ins for the weights that can only be downloaded, for smoke runs (config key ``smoke``).

These assets cannot be had without a network: ``vgg19`` (perceptual loss), ``resnet50`` (Table III), ``sftgan-seg``
(SPSAGAN's segmentation prior), ``nrqm-model`` (Ma / PI) and the authors' released generators (the released track,
``init_from: released:<name>``). Each writer here produces a file of the asset's real format (same state-dict keys
and shapes, the official key layout for the released files; the NRQM MATLAB struct) filled with values seeded by
:data:`srrepro.data.stand_ins.SEED`, so every code path that reads the asset runs and every number computed from it
is meaningless. :func:`stand_in_paths` gives the ``local_paths`` entries that request them; where and how they are
written and labelled is :mod:`srrepro.data.stand_ins`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from srrepro.data.stand_ins import SEED, StandIn
from srrepro.metrics.nrqm_features import N_DCT, N_GSM, N_SVD
from srrepro.models import build_model
from srrepro.models.backbones import ResNet50, VGGFeatures
from srrepro.models.checkpoints import ours_to_official
from srrepro.models.released import RELEASED_MODELS, released_parts
from srrepro.models.segmentation_prior import OutdoorSceneSeg


def _torch_state_file(build: Callable[[], torch.nn.Module]) -> Callable[[Path], None]:
    """A writer saving the state dict of ``build()`` initialised under :data:`SEED` (the caller's RNG untouched)."""

    def write(path: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            state = build().state_dict()
        torch.save(state, path)

    return write


def _vgg19() -> torch.nn.Module:
    return VGGFeatures("vgg19")


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

    rng = np.random.default_rng(SEED)
    rf = np.empty((1, 3), dtype=object)
    for i, dims in enumerate((N_DCT, N_GSM, N_SVD)):
        rf[0, i] = _random_forest(rng, dims)
    linear = np.concatenate([[0.0], rng.dirichlet(np.ones(3))]).reshape(4, 1)  # a convex mix of the three scores
    scipy.io.savemat(path, {"model": {"rf": rf, "linear": linear}})


def _released_file(name: str, part: int) -> Callable[[Path], None]:
    """A writer of file ``part`` of released model ``name``: the seeded model's module in the official key layout
    (both files of an Fs pair come from the same seeded model)."""

    def write(path: Path) -> None:
        spec = RELEASED_MODELS[name]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            model = build_model(spec.arch, **spec.options)
        torch.save(ours_to_official(released_parts(name, model)[part].state_dict()), path)

    return write


#: asset name → writer of its stand-in file
WRITERS: dict[str, Callable[[Path], None]] = {
    "vgg19": _torch_state_file(_vgg19),  # features.* only: the classifier is never read (vgg_features keeps features.*)
    "resnet50": _torch_state_file(ResNet50),
    "sftgan-seg": _torch_state_file(OutdoorSceneSeg),
    "nrqm-model": _nrqm_model,
    **{asset: _released_file(name, part) for name, spec in RELEASED_MODELS.items()
       for part, asset in enumerate(spec.assets)},
}
STAND_IN_ASSETS = tuple(WRITERS)


def stand_in_paths(folder: str | os.PathLike) -> dict[str, StandIn]:
    """``local_paths`` entries that make ``fetch_asset`` return a stand-in for every download-only asset."""
    return {name: StandIn(folder, WRITERS[name]) for name in STAND_IN_ASSETS}

"""The manifest of a training run: resolved variant, seed, data, initialisation, code and package versions, assets;
and which of its settings make a run folder hold "the same run" as a new request."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

import srrepro

# The variant key whose growth only extends a run's schedule: the iterations before it are the same steps.
SCHEDULE_LENGTH = "variant.train.iterations"


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def folder_fingerprint(folder: Path) -> str:
    """sha256 of the relative names and sizes of the files below ``folder`` (cheap: no file is read)."""
    folder = Path(folder)
    listing = "".join(f"{p.relative_to(folder).as_posix()}\t{p.stat().st_size}\n"
                      for p in sorted(folder.rglob("*")) if p.is_file())
    return hashlib.sha256(listing.encode()).hexdigest()


def data_fingerprint(data) -> str | list | dict:
    """:func:`folder_fingerprint` of the training data: of its folder, of each folder of a pool, or of each folder
    of a mixture with its ratio (keyed by position, so that moving the data elsewhere changes nothing)."""
    if isinstance(data, dict):
        return {str(i): {"ratio": ratio, "files": folder_fingerprint(folder)} for i, (folder, ratio) in
                enumerate(data.items())}
    if isinstance(data, (list, tuple)):
        return [folder_fingerprint(folder) for folder in data]
    return folder_fingerprint(data)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(srrepro.__file__).parent, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def run_manifest(cfg, seed, threads, device, data, val_dir, init_checkpoint, asset_options, perceptual_source,
                 pruning=None, prior_source=None, world_size: int = 1, precision: dict | None = None,
                 prune_data=None, skipped_images: dict | None = None) -> dict:
    """``data``: the training data as :func:`srrepro.training.patches.describe_data` gives it (a folder, a pool
    (list) or {folder: ratio}); ``prune_data``: so described, the data Eq. 8 is measured on (pruning runs only,
    part of the run's identity); ``skipped_images``: the training images ``train.small_images: skip`` left out
    (:meth:`srrepro.training.patches.PatchSampler.skipped_record`; not part of the identity: the data and the
    setting decide it)."""
    fingerprints = {"train": data_fingerprint(data), "val": folder_fingerprint(val_dir) if val_dir else None}
    if prune_data is not None:
        fingerprints["prune"] = data_fingerprint(prune_data)
    return {
        "variant": json.loads(json.dumps(cfg)), "seed": seed, "threads": threads, "device": str(device),
        "world_size": world_size, "precision": precision,
        "data_dir": data, "val_dir": str(val_dir) if val_dir else None,
        "data_fingerprint": fingerprints, "skipped_images": skipped_images,
        "init_checkpoint": ({"path": str(init_checkpoint), "sha256": _file_sha256(init_checkpoint)}
                            if init_checkpoint else None),
        "git_commit": _git_commit(),
        "versions": {"srrepro": srrepro.__version__, "python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "cuda": torch.version.cuda},
        "assets": {"provenance": (asset_options or {}).get("provenance"), "perceptual": perceptual_source,
                   "segmentation_prior": prior_source},
        "pruning": pruning,
    }


def _identity(manifest: dict) -> dict:
    """What makes two runs the same run: the resolved variant, the seed, the initialising weights (by content) and
    the training and validation data (by file names and sizes). Paths, versions, threads, device and the number of
    data-parallel processes may differ."""
    init = manifest.get("init_checkpoint") or {}
    return {"variant": manifest.get("variant"), "seed": manifest.get("seed"), "init_checkpoint": init.get("sha256"),
            "data": manifest.get("data_fingerprint")}


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict) and value:
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def _added_since(key: str, previous: dict, value) -> bool:
    """Whether ``key`` is a train setting that the previous manifest lacks (the code gained it since) and that is at
    its default now: the older run trained as the default does (e.g. ``train.small_images: refuse``)."""
    from srrepro.training.variant import PRUNE_SETTINGS, TRAIN_SETTINGS

    name = key.removeprefix("variant.train.")
    setting = {**TRAIN_SETTINGS, **PRUNE_SETTINGS}.get(name) if name != key else None
    return setting is not None and name not in previous and value == setting.default


def changed_keys(previous: dict, current: dict) -> list[str]:
    """Dotted keys of the run identity (e.g. ``variant.train.lr_g``, ``seed``, ``init_checkpoint``) whose values
    differ between two manifests. A train setting added to the code since the previous run, at its default now,
    is no change (:func:`_added_since`)."""
    old, new = _flatten(_identity(previous)), _flatten(_identity(current))
    missing = object()
    earlier_train = (previous.get("variant") or {}).get("train") or {}
    return sorted(k for k in old.keys() | new.keys() if old.get(k, missing) != new.get(k, missing)
                  and not (k not in old and _added_since(k, earlier_train, new[k])))


def extends(previous: dict, current: dict) -> bool:
    """True when ``current`` only lengthens ``previous``: more iterations, every other identity key unchanged
    (milestones included). Its first iterations are then the same steps, so the old run can continue."""
    return (changed_keys(previous, current) == [SCHEDULE_LENGTH]
            and current["variant"]["train"]["iterations"] > previous["variant"]["train"]["iterations"])

"""The manifest of a training run: resolved variant, seed, data, initialisation, code and package versions, assets."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

import srrepro


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(srrepro.__file__).parent, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def run_manifest(cfg, seed, threads, device, data_dir, val_dir, init_checkpoint, asset_options, perceptual_source,
                 pruning=None, prior_source=None) -> dict:
    """``data_dir``: a folder, a pool (list) or {folder: ratio}, as :func:`srrepro.training.patches.describe_data`."""
    return {
        "variant": cfg, "seed": seed, "threads": threads, "device": str(device),
        "data_dir": data_dir, "val_dir": str(val_dir) if val_dir else None,
        "init_checkpoint": ({"path": str(init_checkpoint), "sha256": _file_sha256(init_checkpoint)}
                            if init_checkpoint else None),
        "git_commit": _git_commit(),
        "versions": {"srrepro": srrepro.__version__, "python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "cuda": torch.version.cuda},
        "assets": {"provenance": (asset_options or {}).get("provenance"), "perceptual": perceptual_source,
                   "segmentation_prior": prior_source},
        "pruning": pruning,
    }

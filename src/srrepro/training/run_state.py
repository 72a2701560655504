"""Checkpoint, resume and log files of a training run directory.

``<out>/checkpoints/iter_NNNNNNNN.pt`` holds everything needed to continue bit-identically: network, optimiser and
scheduler states, the iteration, the RNG states of torch (CPU and CUDA), numpy and python, and the patch sampler's
generator. Files are written atomically and hold only tensors and plain containers (loaded with ``weights_only``).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import torch

from srrepro.atomic import atomic_path

CHECKPOINT_DIR = "checkpoints"
TRAIN_LOG = "train_log.jsonl"
VAL_LOG = "val_log.csv"


def checkpoint_path(out_dir: Path, iteration: int) -> Path:
    return out_dir / CHECKPOINT_DIR / f"iter_{iteration:08d}.pt"


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Checkpoint files of a run, oldest first."""
    return sorted((out_dir / CHECKPOINT_DIR).glob("iter_*.pt"))


def latest_checkpoint(out_dir: Path) -> Path | None:
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def rng_state() -> dict:
    """RNG states of torch, CUDA, numpy and python as tensors and plain values."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos, "has_gauss": has_gauss, "gauss": gauss},
        "python": {"version": version, "state": list(py_state), "gauss": py_gauss},
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["gauss"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))


def save_checkpoint(out_dir: Path, iteration: int, state: dict, keep: int) -> Path:
    """Atomically write the checkpoint of ``iteration``; delete all but the newest ``keep`` (at least 1) checkpoints."""
    path = checkpoint_path(out_dir, iteration)
    with atomic_path(path) as tmp:
        torch.save({"iteration": iteration, **state}, tmp)
    remove_checkpoints(out_dir, keep=max(keep, 1))
    return path


def remove_checkpoints(out_dir: Path, keep: int = 0) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    checkpoints = list_checkpoints(out_dir)
    for old in checkpoints[: len(checkpoints) - keep]:
        old.unlink()


def load_checkpoint(path: Path, device: torch.device) -> dict:
    return torch.load(path, map_location=device, weights_only=True)


def append_train_log(out_dir: Path, record: dict) -> None:
    with open(out_dir / TRAIN_LOG, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def append_val_log(out_dir: Path, row: dict) -> None:
    path = out_dir / VAL_LOG
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def truncate_logs(out_dir: Path, iteration: int) -> None:
    """Drop log records written after ``iteration`` (by a run killed before its next checkpoint) and torn lines."""
    train_log = out_dir / TRAIN_LOG
    if train_log.exists():
        kept = [line for line in train_log.read_text().splitlines(keepends=True)
                if line.endswith("\n") and json.loads(line)["iteration"] <= iteration]
        train_log.write_text("".join(kept))
    val_log = out_dir / VAL_LOG
    if val_log.exists():
        lines = val_log.read_text().splitlines(keepends=True)
        kept = lines[:1] + [line for line in lines[1:] if line.endswith("\n") and int(line.split(",", 1)[0]) <= iteration]
        val_log.write_text("".join(kept))

"""The files of a training run folder: its lock, checkpoints and logs, and what happens to them across attempts.

``<out>/checkpoints/iter_NNNNNNNN.pt`` holds everything needed to continue bit-identically: network, optimiser and
scheduler states, the iteration, the RNG states of torch (CPU and CUDA), numpy and python, and the patch sampler's
generator; a data-parallel run adds every rank's RNG states (``rank_rng``; the networks, optimisers and the sampler
are the same on every rank). Files are written atomically, byte-identical for identical states, and hold only tensors
and plain containers (loaded with ``weights_only``, onto the CPU). An unreadable checkpoint is renamed
``*.pt.corrupt`` and the previous one is used. ``<out>/run.lock`` makes one process at a time own the folder (see
:func:`claim`). A run superseded by a changed configuration is moved to the sibling folder
``<out>.superseded-<UTC time>``. In a data-parallel run only rank 0 calls what writes here.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import json
import os
import random
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from srrepro.atomic import atomic_file, remove_temporaries
from srrepro.errors import CheckpointError, RunFolderBusy, SrreproError

CHECKPOINT_DIR = "checkpoints"
TRAIN_LOG = "train_log.jsonl"
VAL_LOG = "val_log.csv"
TENSORBOARD_DIR = "tensorboard"
LOCK = "run.lock"


def note(message: str) -> None:
    """A line in the training log (stderr) about what happened to the run folder."""
    print(message, file=sys.stderr, flush=True)


_HELD: set[Path] = set()  # run folders this process owns


@contextlib.contextmanager
def claim(out_dir: Path, then=None) -> Iterator[None]:
    """Own ``out_dir`` for the duration: an exclusive ``flock`` on ``run.lock``, which holds this process's PID,
    host and start time while it trains.

    A live owner (the kernel holds its lock until it exits, even after ``kill -9``; NFS passes locks to the server)
    makes this raise :class:`RunFolderBusy` naming its PID, host and the folder. The lock of a dead owner is gone:
    this process takes over and says so. The file itself stays (deleting it would let two processes lock two files).
    ``then``: called once the lock is held, before anything is said (the CLI opens the job's log there, so that a
    process refused here never touches the owner's log). A process already owning ``out_dir`` claims it again freely.
    """
    out_dir = Path(out_dir)
    if out_dir.resolve() in _HELD:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = _lock_holder(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise RunFolderBusy(
                    f"run folder {out_dir} is in use by process {holder.get('pid', '?')} on host "
                    f"{holder.get('host', '?')} (since {holder.get('started', '?')}); wait until it ends, or stop it "
                    f"(kill {holder.get('pid', '<pid>')} on that host) and run again") from None
            raise SrreproError(f"cannot lock {path}: {err.strerror}; the run folder must be on a file system "
                               "with file locks") from None
        if then is not None:
            then()
        previous = _lock_holder(fd)
        if previous:
            note(f"taking over run folder {out_dir} from process {previous.get('pid')} on host "
                 f"{previous.get('host')}, which ended without releasing it")
        _write_lock(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        _HELD.add(out_dir.resolve())
        try:
            yield
        finally:
            _HELD.discard(out_dir.resolve())
            _write_lock(fd, "")
    finally:
        os.close(fd)  # releases the lock


def _lock_holder(fd: int) -> dict:
    text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {"pid": "?", "host": "?", "started": f"unreadable lock file: {text[:40]!r}"}


def _write_lock(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)


def remove_stale_temporaries(out_dir: Path, *published: Path) -> None:
    """Delete temporaries of atomic writes cut short by a kill: in the run folder, its checkpoints and beside
    ``published`` files."""
    found = remove_temporaries(out_dir) + remove_temporaries(out_dir / CHECKPOINT_DIR)
    for path in published:
        found += remove_temporaries(path.parent, path.name)
    if found:
        note(f"removed {len(found)} temporary file(s) left by an interrupted write: {', '.join(map(str, found))}")


def has_run_files(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds anything besides its lock."""
    return out_dir.is_dir() and any(p.name != LOCK for p in out_dir.iterdir())


def move_aside(out_dir: Path) -> Path:
    """Move everything in ``out_dir`` but its lock to a new sibling ``<name>.superseded-<UTC time>``; return it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = out_dir.parent / f"{out_dir.name}.superseded-{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = out_dir.parent / f"{out_dir.name}.superseded-{stamp}-{suffix}"
    target.mkdir()
    for entry in sorted(out_dir.iterdir()):
        if entry.name != LOCK:
            shutil.move(entry, target / entry.name)
    return target


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
    previous = latest_checkpoint(out_dir)  # the same tensors: its size is what a full disk is told this one needs
    with atomic_file(path, previous.stat().st_size if previous else None) as fh:
        torch.save({"iteration": iteration, **state}, fh)
    remove_checkpoints(out_dir, keep=max(keep, 1))
    return path


def remove_checkpoints(out_dir: Path, keep: int = 0) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    checkpoints = list_checkpoints(out_dir)
    for old in checkpoints[: max(len(checkpoints) - keep, 0)]:
        old.unlink()


def rank_rng_state(state: dict, rank: int) -> dict:
    """The RNG states of ``rank`` in a checkpoint: ``rank_rng`` (data-parallel runs: every rank's), else ``rng``.
    A rank the checkpoint does not know (the run continues with more processes) takes rank 0's."""
    per_rank = state.get("rank_rng", [state["rng"]])
    return per_rank[rank] if rank < len(per_rank) else state["rng"]


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's state, every tensor on the CPU (RNG states must be; the optimisers move theirs)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load_latest_checkpoint(out_dir: Path) -> tuple[Path, dict] | None:
    """The newest readable checkpoint and its state (on the CPU), None when there is none.

    Unreadable newer ones (e.g. truncated by a full disk or a lost write) are renamed ``*.corrupt`` with a warning
    naming them. When every checkpoint is unreadable, raise :class:`CheckpointError` and leave them in place.
    """
    failures = []
    for path in reversed(list_checkpoints(out_dir)):
        try:
            state = load_checkpoint(path)
        except Exception as err:  # torch raises many types for truncated or foreign files
            first_line = (str(err).strip().splitlines() or [""])[0]
            failures.append((path, f"{type(err).__name__}: {first_line}"))
            continue
        for bad, reason in failures:
            bad.rename(bad.with_name(bad.name + ".corrupt"))
            note(f"warning: checkpoint {bad} is unreadable ({reason}); renamed it to {bad.name}.corrupt and "
                 f"fell back to {path.name}")
        return path, state
    if failures:
        reasons = "; ".join(f"{path.name}: {reason}" for path, reason in failures)
        raise CheckpointError(f"no usable checkpoint in {out_dir / CHECKPOINT_DIR} ({reasons}); to train this run "
                              f"from scratch, delete or move away the run folder {out_dir}")
    return None


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

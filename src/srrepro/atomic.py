"""Atomic file output: write to a temporary file beside the target, then rename over it; and an exclusive lock
for the processes that fill one shared cache.

A reader never sees a half-written file, and an interrupted run leaves either the old file or none (plus, after a
``kill -9`` during the write, a temporary ``.<name>.<random>.tmp<suffix>`` that :func:`remove_temporaries` deletes).
Files are created with mode 0666 less the umask, like any other file the user writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO, Iterator


def _temporary_name(target: Path) -> Path:
    return target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}"


def _create_temporary(target: Path) -> Path:
    """Create an empty temporary file beside ``target``; the kernel applies the umask to mode 0666."""
    while True:
        tmp = _temporary_name(target)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``target``.

    The temporary name keeps the target's suffix so that libraries choosing a format by extension work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temporary(target)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file object that becomes ``target`` on success.

    Hand this object, not a path, to ``torch.save``: given a path, torch names the archive's records after the
    (random) temporary file, and two saves of the same tensors would differ byte for byte.
    """
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        yield fh


def remove_temporaries(folder: str | os.PathLike, name: str = "*") -> list[Path]:
    """Delete the temporaries :func:`atomic_path` left in ``folder`` for targets matching ``name`` (a glob)."""
    found = sorted(Path(folder).glob(f".{name}.*.tmp*"))
    for path in found:
        path.unlink(missing_ok=True)
    return found


def write_text(target: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def copy_file(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Atomically copy ``source`` to ``target``: a hard link where both lie on one file system (no bytes written;
    files here are replaced, never modified in place, so the two names cannot drift apart), else a copy."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


@contextlib.contextmanager
def exclusive_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` itself (created if absent), waiting for any other holder.

    Processes filling one shared cache take turns: a second job fetching the same asset finds the first's verified
    copy instead of replacing files the first is still reading. No lock file is left behind, and the lock goes with
    its process, even after a kill.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

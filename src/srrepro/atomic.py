"""Atomic file output: write to a temporary file beside the target, then rename over it; and an exclusive lock
for the processes that fill one shared cache.

A reader never sees a half-written file, and an interrupted run (or a full disk, reported as
:class:`~srrepro.errors.DiskFull`) leaves either the old file or none (plus, after a
``kill -9`` during the write, a temporary ``.<name>.<random>.tmp<suffix>`` that :func:`remove_temporaries` deletes).
Files are created with mode 0666 less the umask, like any other file the user writes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO, Iterator

from srrepro.errors import DiskFull, SrreproError, format_size


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


def disk_full(err: BaseException) -> bool:
    """Whether ``err``, or an error it was raised from or during (torch wraps the OSError of a full disk in a
    RuntimeError), is a full file system (ENOSPC) or an exhausted quota (EDQUOT)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``target``.

    The temporary name keeps the target's suffix so that libraries choosing a format by extension work. A full disk
    raises :class:`~srrepro.errors.DiskFull` naming ``target``, the space it needs (``size`` when the caller knows
    it, else more than what was written) and the space free; the temporary is removed and ``target`` is unchanged.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temporary(target)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except Exception as err:
        if not disk_full(err):
            raise
        written = tmp_path.stat().st_size if tmp_path.exists() else 0
        tmp_path.unlink(missing_ok=True)
        needed = format_size(size) if size else f"more than the {format_size(written)} written"
        raise DiskFull(target, needed, shutil.disk_usage(target.parent).free) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike, size: int | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file object that becomes ``target`` on success (``size``: as for :func:`atomic_path`).

    Hand this object, not a path, to ``torch.save``: given a path, torch names the archive's records after the
    (random) temporary file, and two saves of the same tensors would differ byte for byte.
    """
    with atomic_path(target, size) as tmp, open(tmp, "wb") as fh:
        yield fh


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output ``path`` that cannot be written: a new file must be creatable in the
    nearest existing folder among ``path`` and its parents (a real probe, so that a read-only mount or an immutable
    folder fails it for root too). Raises :class:`~srrepro.errors.SrreproError` naming the folder and ``path``."""
    path = Path(path)
    folder = path.absolute()
    while not folder.is_dir():
        folder = folder.parent
    try:
        probe = _create_temporary(folder / ".srrepro-write-test")
    except OSError as err:
        target = "" if folder == path.absolute() else f" (where {path} goes)"
        raise SrreproError(f"cannot write to {folder}{target}: {err.strerror}; choose a writable location or make it "
                           f"writable") from None
    probe.unlink(missing_ok=True)


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
    with atomic_path(target, len(data)) as tmp:
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

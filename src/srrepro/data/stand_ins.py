"""Stand-in asset files for smoke runs (config key ``smoke``): where they live and how they are labelled.

A smoke run exercises every variant end to end on a machine that may have no network; the weights that can only be
downloaded are replaced by files of the same format filled with seeded random values (their writers, which know the
networks, are :mod:`srrepro.stand_in_weights`). Stand-ins live in their own folder, never in the asset cache:
:func:`fetch_stand_in` writes ``<folder>/<asset file name>`` and a sidecar whose ``provenance`` is
:data:`PROVENANCE`. They are requested by putting a :class:`StandIn` in ``local_paths``; ``fetch_asset`` hands those
names here.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from srrepro.atomic import atomic_path, write_text
from srrepro.data.downloads import sha256_of

PROVENANCE = "random stand-in for a smoke run"
SEED = 0


@dataclass(frozen=True)
class StandIn:
    """In ``local_paths``: use a random stand-in of that asset, written by ``write(path)`` into ``folder`` (not the
    asset cache)."""

    folder: str | os.PathLike
    write: Callable[[Path], None]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".provenance.json")


def fetch_stand_in(name: str, filename: str, stand_in: StandIn) -> Path:
    """``<folder>/<filename>``, the stand-in of asset ``name``, written (atomically) on first use with its sidecar."""
    target = Path(stand_in.folder) / filename
    sidecar = _sidecar(target)
    if target.is_file() and sidecar.is_file():
        return target
    with atomic_path(target) as tmp:
        stand_in.write(tmp)
    write_text(sidecar, json.dumps({
        "name": name, "file": target.name, "source": PROVENANCE, "provenance": PROVENANCE, "seed": SEED,
        "file_sha256": sha256_of(target),
        "description": f"seeded random values in the format of asset '{name}'; not the real weights",
        "fetched_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }, indent=2) + "\n")
    return target

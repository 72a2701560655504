"""Import the third-party implementations our code is checked against (torchvision, lpips, pyiqa).

The pipeline itself never imports them. The tests compare our backbones and LPIPS with torchvision and the
``lpips`` package, and ``bench/bench_metrics.py`` times pyiqa beside our metrics.

PyPI's torchvision wheel is built against CUDA torch. Against this project's CPU torch its compiled operators
(``_C.so``) do not load, and torchvision then fails while registering fake kernels for ``nms`` and ``qnms``.
:func:`import_torchvision` declares those two schemas in that case, so that torchvision's Python layer imports.
Models and transforms work; the detection operators (nms, roi_align, ...) stay unavailable and are never called.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import torch

_DETECTION_OPS = ("nms", "qnms")
_LIBRARIES: list = []  # torch.library fragments must outlive their registrations


def import_torchvision() -> ModuleType:
    """torchvision, importable even where its compiled operators cannot load; raises ImportError if absent."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        raise ImportError("torchvision is not installed (it is in the test extra: pip install -e '.[test]')")
    extension = next(Path(spec.origin).parent.glob("_C*.so"), None)
    if not _LIBRARIES and not _loads(extension):
        library = torch.library.Library("torchvision", "DEF")
        for op in _DETECTION_OPS:
            library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _LIBRARIES.append(library)
    return importlib.import_module("torchvision")


def _loads(extension: Path | None) -> bool:
    if extension is None:
        return False
    try:
        torch.ops.load_library(str(extension))
    except (OSError, RuntimeError):
        return False
    return True


def import_reference(name: str) -> ModuleType:
    """``lpips`` or ``pyiqa`` (or torchvision itself), importing torchvision first as above."""
    import_torchvision()
    return importlib.import_module(name)


PYIQA_INSTALL = ".venv/bin/pip install --no-deps --target .bench/pyiqa -r bench/requirements-pyiqa.txt"


def import_pyiqa(site: str | os.PathLike | None = None) -> ModuleType:
    """pyiqa, from ``site`` (the folder ``bench/requirements-pyiqa.txt`` is installed into) or the environment.

    Raises ImportError with the install command when it is in neither.
    """
    if site is not None and str(site) not in sys.path:
        sys.path.insert(0, str(site))
    if importlib.util.find_spec("pyiqa") is None:
        where = f" in {site}" if site is not None else ""
        raise ImportError(f"pyiqa not found{where}; install it beside the project with `{PYIQA_INSTALL}`")
    return import_reference("pyiqa")

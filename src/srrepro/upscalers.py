"""Turn a model specification into an upscaling function ``lr_uint8_rgb -> sr_uint8_rgb``.

``'bicubic'`` is MATLAB-compatible bicubic interpolation; anything else is a checkpoint file, either ours or an
official ESRGAN-style state dict (see :mod:`srrepro.models.checkpoints`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from srrepro.bicubic import imresize
from srrepro.errors import CheckpointError

Upscaler = Callable[[np.ndarray], np.ndarray]


def load_generator(spec: str) -> torch.nn.Module:
    """A generator from one of our checkpoints or an official ESRGAN-style file.

    An official Fs-SRGAN pair is given as ``FsSRGAN_E.pth+FsSRGAN_G.pth``: SR = G(E(LR)).
    """
    if "+" in spec:
        extractor, trunk = (load_generator(part) for part in spec.split("+", 1))
        return torch.nn.Sequential(extractor, trunk)
    from srrepro.models.checkpoints import is_own_checkpoint, load_model, load_official

    path = Path(spec)
    if not path.is_file():
        raise CheckpointError(f"model file {path} does not exist (use 'bicubic' or a checkpoint path)")
    return load_model(path) if is_own_checkpoint(path) else load_official(path)


def load_upscaler(spec: str, *, scale: int, tile: int | None = None) -> Upscaler:
    """Return the upscaling function for ``spec`` ('bicubic' or a checkpoint path)."""
    if spec == "bicubic":
        return lambda lr: imresize(lr, scale)
    from srrepro.inference import upscale

    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator = load_generator(spec).eval().to(device)

    def run(lr: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return upscale(generator, lr, tile=tile, device=device)

    return run

"""SR inference: turn a model specification into an upscaling function and run it on images and folders.

``'bicubic'`` is MATLAB-compatible bicubic interpolation; ``'released:<name>'`` one of the authors' released models
(:mod:`srrepro.models.released`, fetched as verified assets); anything else is a checkpoint file, either ours or an
official ESRGAN-style state dict (see :mod:`srrepro.models.checkpoints`). Generators run whole or in overlapping
tiles on 8-bit RGB images.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from srrepro.atomic import write_text
from srrepro.errors import CheckpointError
from srrepro.imaging.images import list_images, read_image, write_image
from srrepro.imaging.matlab import imresize

Upscaler = Callable[[np.ndarray], np.ndarray]
TIMING_FILE = "timing.json"


def load_generator(spec: str, asset_options: dict | None = None) -> torch.nn.Module:
    """A generator from one of our checkpoints, an official ESRGAN-style file or ``released:<name>`` (a released
    model fetched with ``asset_options``, see :func:`srrepro.models.released.load_released`).

    An official Fs-SRGAN pair is given as ``FsSRGAN_E.pth+FsSRGAN_G.pth``: SR = G(E(LR)).
    """
    from srrepro.models.released import SPEC_PREFIX, load_released

    if spec.startswith(SPEC_PREFIX):
        return load_released(spec[len(SPEC_PREFIX):], asset_options)
    if "+" in spec:
        extractor, trunk = (load_generator(part) for part in spec.split("+", 1))
        return torch.nn.Sequential(extractor, trunk)
    from srrepro.models.checkpoints import is_own_checkpoint, load_model, load_official

    path = Path(spec)
    if not path.is_file():
        raise CheckpointError(f"model file {path} does not exist (use 'bicubic' or a checkpoint path)")
    return load_model(path) if is_own_checkpoint(path) else load_official(path)


def load_upscaler(spec: str, *, scale: int, tile: int | None = None, asset_options: dict | None = None) -> Upscaler:
    """Return the upscaling function for ``spec`` ('bicubic', 'released:<name>' or a checkpoint path)."""
    if spec == "bicubic":
        return lambda lr: imresize(lr, scale)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator = load_generator(spec, asset_options).eval().to(device)

    def run(lr: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return upscale(generator, lr, tile=tile, device=device)

    return run


def _to_uint8(sr: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] nominal → (H, W, 3) uint8, clamped and rounded."""
    return sr[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


@torch.inference_mode()
def upscale(model: nn.Module, lr_uint8_rgb: np.ndarray, tile: int | None = None, overlap: int = 16,
            device: str | torch.device = "cpu") -> np.ndarray:
    """Super-resolve an (H, W, 3) uint8 RGB image with ``model`` (moved to ``device``, set to eval mode).

    With ``tile``, the LR image is processed in ``tile``x``tile`` pieces, each padded by ``overlap`` LR pixels of real
    context on every side (less at the borders); only the pieces' centres are kept, so peak memory is bounded by one
    padded tile and the result matches whole-image inference up to the model's influence beyond ``overlap`` pixels.
    Networks with global attention (SPSAGAN) are not tile-invariant.
    """
    if lr_uint8_rgb.dtype != np.uint8 or lr_uint8_rgb.ndim != 3 or lr_uint8_rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {lr_uint8_rgb.dtype} {lr_uint8_rgb.shape}")
    if tile is not None and (tile < 1 or overlap < 0):
        raise ValueError(f"tile must be ≥ 1 and overlap ≥ 0, got tile={tile}, overlap={overlap}")
    model = model.to(device).eval()
    lr = torch.from_numpy(np.require(lr_uint8_rgb, requirements=["C", "W"])).permute(2, 0, 1).unsqueeze(0)
    height, width = lr.shape[-2:]
    if tile is None or (tile >= height and tile >= width):
        return _to_uint8(model(lr.to(device, torch.float32) / 255))
    out = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + tile + overlap, height), min(left + tile + overlap, width)
            sr = model(lr[..., y0:y1, x0:x1].to(device, torch.float32) / 255)
            scale = sr.shape[-1] // (x1 - x0)
            if out is None:
                out = np.empty((height * scale, width * scale, 3), dtype=np.uint8)
            core_h, core_w = min(tile, height - top), min(tile, width - left)
            crop = sr[..., (top - y0) * scale:(top - y0 + core_h) * scale, (left - x0) * scale:(left - x0 + core_w) * scale]
            out[top * scale:(top + core_h) * scale, left * scale:(left + core_w) * scale] = _to_uint8(crop)
    return out


def upscale_folder(lr_dir, out_dir, model: str, *, scale: int, tile: int | None = None,
                   asset_options: dict | None = None) -> dict:
    """Super-resolve every image of ``lr_dir`` into ``out_dir/<stem>.png`` and write ``timing.json`` there.

    Returns the timing record (images, seconds, seconds_per_image).
    """
    upscaler = load_upscaler(model, scale=scale, tile=tile, asset_options=asset_options)
    paths = list_images(lr_dir)
    out_dir = Path(out_dir)
    start = time.perf_counter()
    for index, path in enumerate(paths, 1):
        write_image(out_dir / f"{path.stem}.png", upscaler(read_image(path)))
        print(f"[{index}/{len(paths)}] {path.name}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    timing = {"images": len(paths), "seconds": elapsed, "seconds_per_image": elapsed / max(1, len(paths)),
              "threads": torch.get_num_threads()}
    write_text(out_dir / TIMING_FILE, json.dumps(timing, indent=1))
    return timing

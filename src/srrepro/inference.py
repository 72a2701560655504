"""Run a generator on an 8-bit RGB image, whole or in overlapping tiles, and count parameters."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those requiring grad when ``trainable_only``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


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

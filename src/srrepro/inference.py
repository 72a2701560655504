"""SR inference: turn a model specification into an upscaling function and run it on images and folders.

``'bicubic'`` is MATLAB-compatible bicubic interpolation; ``'released:<name>'`` one of the authors' released models
(:mod:`srrepro.models.released`, fetched as verified assets); anything else is a model spec (:func:`model_files`): a
checkpoint file, either ours or an official ESRGAN-style state dict (see :mod:`srrepro.models.checkpoints`), or an
official Fs-SRGAN pair ``EXTRACTOR+TRUNK``. Generators run whole or in overlapping tiles on 8-bit RGB images;
those with global context (:func:`whole_image_only`) always whole.
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
from srrepro.errors import CheckpointError, DiskFull, SrreproError
from srrepro.imaging.images import check_output_folder, list_images, read_image, staged_folder, write_image
from srrepro.imaging.matlab import imresize

Upscaler = Callable[[np.ndarray], np.ndarray]
TIMING_FILE = "timing.json"


def model_files(spec: str) -> tuple[Path] | tuple[Path, Path]:
    """The checkpoint file(s) a model ``spec`` names: one file, or an official Fs pair ``EXTRACTOR+TRUNK``.

    A spec that is an existing file is that file, '+' in its name or not (``run+1/model.pt``). Otherwise it must split
    at exactly one '+' into two existing files (``FsSRGAN_E.pth+FsSRGAN_G.pth``); anything else raises
    :class:`CheckpointError` naming the spec.
    """
    path = Path(spec)
    if path.is_file():
        return (path,)
    splits = [(Path(spec[:i]), Path(spec[i + 1:])) for i, char in enumerate(spec) if char == "+"]
    pairs = [pair for pair in splits if pair[0].is_file() and pair[1].is_file()]
    if len(pairs) == 1:
        return pairs[0]
    if pairs:
        ways = "; ".join(f"{e} + {g}" for e, g in pairs)
        raise CheckpointError(f"model '{spec}' splits into EXTRACTOR+TRUNK in {len(pairs)} ways ({ways}); "
                              f"rename the files so that one '+' separates them")
    problem = "is a folder" if path.is_dir() else "does not exist"
    pair_hint = ", nor does a '+' in it separate two existing files" if splits else ""
    raise CheckpointError(f"model file {spec} {problem}{pair_hint}; use 'bicubic', a checkpoint file or an Fs pair "
                          f"EXTRACTOR+TRUNK")


def load_checkpoint(path: Path, asset_options: dict | None = None) -> nn.Module:
    """A network from one of our checkpoints (its segmentation prior's weights fetched with ``asset_options``) or an
    official ESRGAN-style file."""
    from srrepro.models.checkpoints import is_own_checkpoint, load_model, load_official

    return load_model(path, asset_options) if is_own_checkpoint(path) else load_official(path)


def _input_width(model: nn.Module) -> int:
    """Channels the first convolution of ``model`` takes."""
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels


def load_fs_pair(extractor_path: Path, trunk_path: Path, asset_options: dict | None = None) -> nn.Module:
    """SR = G(E(LR)) from an official Fs-SRGAN extractor file and trunk file, checked to fit together.

    E must take RGB and keep the image size (it has no upsampling); G must take as many channels as E puts out.
    """
    extractor = load_checkpoint(extractor_path, asset_options).eval()
    trunk = load_checkpoint(trunk_path, asset_options).eval()
    if (width := _input_width(extractor)) != 3:
        raise CheckpointError(f"{extractor_path} takes {width} channels, not RGB: it is not the extractor of an "
                              f"EXTRACTOR+TRUNK pair (is the order swapped?)")
    probe = torch.zeros(1, 3, 8, 8)
    with torch.inference_mode():
        features = extractor(probe)
    if features.shape[-2:] != probe.shape[-2:]:
        raise CheckpointError(f"{extractor_path} is not a feature extractor: it turns an 8x8 image into "
                              f"{features.shape[-1]}x{features.shape[-2]} (the first file of EXTRACTOR+TRUNK must "
                              f"keep the image size)")
    if (width := _input_width(trunk)) != features.shape[1]:
        raise CheckpointError(f"{extractor_path} puts out {features.shape[1]} channels but {trunk_path} takes "
                              f"{width}: they are not an EXTRACTOR+TRUNK pair")
    return torch.nn.Sequential(extractor, trunk)


def load_generator(spec: str, asset_options: dict | None = None) -> torch.nn.Module:
    """The generator a model spec names: ``released:<name>`` (fetched with ``asset_options``, see
    :func:`srrepro.models.released.load_released`) or the file(s) of :func:`model_files`."""
    from srrepro.models.released import SPEC_PREFIX, load_released

    if spec.startswith(SPEC_PREFIX):
        return load_released(spec[len(SPEC_PREFIX):], asset_options)
    files = model_files(spec)
    return load_fs_pair(*files, asset_options) if len(files) == 2 else load_checkpoint(files[0], asset_options)


def _check_scale(spec: str, scale: int, lr: np.ndarray, sr: np.ndarray) -> None:
    """Raise CheckpointError naming both scales when ``sr`` is not ``lr`` upscaled by ``scale``."""
    (h, w), (sr_h, sr_w) = lr.shape[:2], sr.shape[:2]
    if (sr_h, sr_w) == (h * scale, w * scale):
        return
    model_scale = f"x{sr_h // h}" if sr_h % h == 0 and sr_w == w * (sr_h // h) else "by a non-integer factor"
    raise CheckpointError(f"model {spec} upscales {model_scale} ({w}x{h} -> {sr_w}x{sr_h}), not x{scale} as asked; "
                          f"use a x{scale} model, or the model's scale with data degraded by it")


def load_upscaler(spec: str, *, scale: int, tile: int | None = None, asset_options: dict | None = None,
                  amp: str = "fp32") -> Upscaler:
    """Return the upscaling function for ``spec`` ('bicubic' or a model spec, see :func:`load_generator`); ``amp``
    'bf16' runs the generator under bf16 autocast (opt-in: published comparisons use fp32).

    The function raises :class:`CheckpointError` naming both scales when the model does not upscale by ``scale``.
    """
    if spec == "bicubic":
        return lambda lr: imresize(lr, scale)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator = load_generator(spec, asset_options).eval().to(device)
    if tile is not None and whole_image_only(generator):
        print(f"{spec}: global context (attention, GroupNorm or global pooling): run on whole images, not in "
              f"{tile}-px tiles", file=sys.stderr, flush=True)
        tile = None

    def run(lr: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            sr = upscale(generator, lr, tile=tile, device=device, amp=amp)
        _check_scale(spec, scale, lr, sr)
        return sr

    return run


def whole_image_only(model: nn.Module) -> bool:
    """True when the output at a pixel depends on the whole image (SPSAGAN's global attention; GroupNorm and global
    pooling, as in Wu's blocks): tiles would compute another function, so such a generator is never tiled."""
    from srrepro.models.spsagan import SelfAttentionLayer, SPSALayer

    return any(isinstance(m, (SelfAttentionLayer, SPSALayer, nn.GroupNorm, nn.AdaptiveAvgPool2d)) for m in model.modules())


def _to_uint8(sr: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] nominal → (H, W, 3) uint8, clamped and rounded."""
    return sr[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


@torch.inference_mode()
def upscale(model: nn.Module, lr_uint8_rgb: np.ndarray, tile: int | None = None, overlap: int = 16,
            device: str | torch.device = "cpu", amp: str = "fp32") -> np.ndarray:
    """Super-resolve an (H, W, 3) uint8 RGB image with ``model`` (moved to ``device``, set to eval mode), in fp32 or
    (``amp`` 'bf16') under bf16 autocast.

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
    if amp not in ("fp32", "bf16"):
        raise ValueError(f"amp must be 'fp32' or 'bf16', got {amp!r}")
    device_type = torch.device(device).type

    def run(x: torch.Tensor) -> torch.Tensor:
        if amp == "fp32":
            return model(x)
        with torch.autocast(device_type, dtype=torch.bfloat16):
            return model(x).float()

    lr = torch.from_numpy(np.require(lr_uint8_rgb, requirements=["C", "W"])).permute(2, 0, 1).unsqueeze(0)
    height, width = lr.shape[-2:]
    if tile is None or (tile >= height and tile >= width):
        return _to_uint8(run(lr.to(device, torch.float32) / 255))
    out = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + tile + overlap, height), min(left + tile + overlap, width)
            sr = run(lr[..., y0:y1, x0:x1].to(device, torch.float32) / 255)
            scale = sr.shape[-1] // (x1 - x0)
            if out is None:
                out = np.empty((height * scale, width * scale, 3), dtype=np.uint8)
            core_h, core_w = min(tile, height - top), min(tile, width - left)
            crop = sr[..., (top - y0) * scale:(top - y0 + core_h) * scale, (left - x0) * scale:(left - x0 + core_w) * scale]
            out[top * scale:(top + core_h) * scale, left * scale:(left + core_w) * scale] = _to_uint8(crop)
    return out


def upscale_with(upscaler: Upscaler, lr_dir, out_dir, label: str = "", overwrite: bool = False) -> dict:
    """Super-resolve every image of ``lr_dir`` with ``upscaler`` into ``out_dir/<stem>.png`` and write the timing
    record (images, seconds, seconds_per_image, threads) there as ``timing.json``; return it.

    ``out_dir`` must not be or contain ``lr_dir``. A non-empty ``out_dir`` is refused unless ``overwrite``: the images
    are written into a staging folder that replaces ``out_dir`` whole once every image succeeds, so ``out_dir``
    never holds two models' images (nor a timing record of other images), and is left as it was on failure.
    """
    paths = list_images(lr_dir)
    check_output_folder(lr_dir, out_dir)
    check_replaceable(out_dir, overwrite)
    prefix = f"{label}: " if label else ""
    with staged_folder(out_dir, replace=True) as stage:
        start = time.perf_counter()
        for index, path in enumerate(paths, 1):
            try:
                write_image(stage / f"{path.stem}.png", upscaler(read_image(path)))
            except DiskFull as err:  # name the output, not the staging folder
                raise DiskFull(Path(out_dir) / f"{path.stem}.png", err.needed, err.free, f"{out_dir} is unchanged; "
                               f"free some space there and run the same command again") from None
            print(f"[{index}/{len(paths)}] {prefix}{path.name}", file=sys.stderr, flush=True)
        elapsed = time.perf_counter() - start
        timing = {"images": len(paths), "seconds": elapsed, "seconds_per_image": elapsed / len(paths),
                  "threads": torch.get_num_threads()}
        write_text(stage / TIMING_FILE, json.dumps(timing, indent=1))
    return timing


def check_replaceable(out_dir, overwrite: bool) -> None:
    """Refuse an output folder that holds files (another run's or model's) unless ``overwrite``."""
    held = sorted(Path(out_dir).iterdir()) if Path(out_dir).is_dir() else []
    if held and not overwrite:
        raise SrreproError(f"output folder {out_dir} already holds {len(held)} files ({held[0].name}, ...), from "
                           f"another run or model; name a new or empty folder, or pass --overwrite to replace it")


def upscale_folder(lr_dir, out_dir, model: str, *, scale: int, tile: int | None = None,
                   asset_options: dict | None = None, amp: str = "fp32", overwrite: bool = False) -> dict:
    """Super-resolve every image of ``lr_dir`` with ``model`` (see :func:`load_upscaler`); see :func:`upscale_with`."""
    check_output_folder(lr_dir, out_dir)  # before the model is loaded
    check_replaceable(out_dir, overwrite)
    upscaler = load_upscaler(model, scale=scale, tile=tile, asset_options=asset_options, amp=amp)
    return upscale_with(upscaler, lr_dir, out_dir, overwrite=overwrite)

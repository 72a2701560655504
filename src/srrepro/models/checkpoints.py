"""Checkpoints: the old-ESRGAN/BasicSR key naming of the released weights (refs §2) and the project's own format.

Key map (ours ↔ official; nb residual blocks, n upsampling stages; u = 0..n-1):
    conv_first.*                          ↔ model.0.*
    trunk.blocks.{i}.rdb{k}.convs.{j}.*   ↔ model.1.sub.{i}.RDB{k}.conv{j+1}.0.*   (RRDB; j = 0..3)
    trunk.blocks.{i}.rdb{k}.conv_out.*    ↔ model.1.sub.{i}.RDB{k}.conv5.0.*
    trunk.blocks.{i}.conv1.* / conv2.*    ↔ model.1.sub.{i}.res.0.* / res.2.*      (SRResNet without BN)
    trunk.conv.*                          ↔ model.1.sub.{nb}.*
    upconvs.{u}.*                         ↔ model.{3 + 3u}.* (RRDB: upsample, conv, LReLU; model.3, model.6 at x4)
                                            model.{2 + 3u}.* (SRResNet: conv, pixel shuffle, ReLU; model.2, model.5)
    conv_hr.*                             ↔ model.{2 + 3n}.*                      (model.8 at x4)
    conv_last.*                           ↔ model.{4 + 3n}.*                      (model.10 at x4)
RRDBNet (RRDB_ESRGAN_x4, RRDB_PSNR_x4, FASRGAN_G, FsSRGAN_G and FA_FsSRGAN_G with a 64-channel first conv), the
shared extractor (FsSRGAN_E, FA_FsSRGAN_E: model.0 and model.1 only) and SRResNetNoBN (SRResNet_bicx4_in3nf64nb16)
use this map.

Own format: a dict {'format': 'srrepro.model', 'version': 1, 'arch', 'options', 'state_dict'} written atomically;
``load_model`` rebuilds the architecture from the registry. Every load uses ``weights_only=True`` on the CPU and any
failure raises :class:`CheckpointError` naming the file (and, for an official file, its missing or unexpected keys).
A training checkpoint (``<run>/checkpoints/iter_N.pt``) is not a model file: it is refused, naming the run's
``model.pt``, rather than its generator taken silently.
A generator's pretrained segmentation prior (SPSAGAN's OutdoorSceneSeg) is not in the state dict: ``load_model``
re-attaches it from its asset.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import nn

from srrepro.atomic import atomic_file
from srrepro.errors import CheckpointError
from srrepro.models.registry import build_model
from srrepro.models.segmentation_prior import attach_prior_weights

FORMAT = "srrepro.model"
VERSION = 1

_OFF_RDB = re.compile(r"model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)")
_OFF_RES = re.compile(r"model\.1\.sub\.(\d+)\.res\.([02])\.(weight|bias)")
_OFF_SUB = re.compile(r"model\.1\.sub\.(\d+)\.(weight|bias)")
_OFF_TOP = re.compile(r"model\.(\d+)\.(weight|bias)")
_OUR_RDB = re.compile(r"trunk\.blocks\.(\d+)\.rdb([123])\.(?:convs\.(\d)|conv_out)\.(weight|bias)")
_OUR_RES = re.compile(r"trunk\.blocks\.(\d+)\.conv([12])\.(weight|bias)")
_OUR_UP = re.compile(r"upconvs\.(\d+)\.(weight|bias)")
_OUR_PLAIN = re.compile(r"(conv_first|trunk\.conv|conv_hr|conv_last)\.(weight|bias)")


def _official_layout(keys) -> tuple[int, int, int]:
    """(nb, number of upsampling stages, index of the first upsampling conv) of an official state dict; 0 stages for
    an extractor. The first upsampling conv is model.3 after a nearest upsample (RRDB), model.2 before a pixel
    shuffle (SRResNet)."""
    rrdb = {int(m[1]) for k in keys if (m := _OFF_RDB.fullmatch(k))}
    res = {int(m[1]) for k in keys if (m := _OFF_RES.fullmatch(k))}
    first_up = 2 if res and not rrdb else 3
    tops = {int(m[1]) for k in keys if (m := _OFF_TOP.fullmatch(k))}
    fits = [n for n in range(1, 5) if {first_up + 3 * u for u in range(n)} | {2 + 3 * n, 4 + 3 * n} <= tops]
    return len(rrdb | res), max(fits, default=0), first_up


def official_to_ours(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename old-ESRGAN/BasicSR keys to ours; raises ValueError on a key outside the layout."""
    nb, n_up, first_up = _official_layout(state_dict)
    top = {0: "conv_first", **{first_up + 3 * u: f"upconvs.{u}" for u in range(n_up)}}
    if n_up:
        top.update({2 + 3 * n_up: "conv_hr", 4 + 3 * n_up: "conv_last"})
    out = {}
    for key, value in state_dict.items():
        if m := _OFF_RDB.fullmatch(key):
            conv = "conv_out" if m[3] == "5" else f"convs.{int(m[3]) - 1}"
            out[f"trunk.blocks.{m[1]}.rdb{m[2]}.{conv}.{m[4]}"] = value
        elif m := _OFF_RES.fullmatch(key):
            out[f"trunk.blocks.{m[1]}.conv{1 if m[2] == '0' else 2}.{m[3]}"] = value
        elif (m := _OFF_SUB.fullmatch(key)) and int(m[1]) == nb:
            out[f"trunk.conv.{m[2]}"] = value
        elif (m := _OFF_TOP.fullmatch(key)) and int(m[1]) in top:
            out[f"{top[int(m[1])]}.{m[2]}"] = value
        else:
            raise ValueError(f"key '{key}' is not part of the old ESRGAN/BasicSR layout (nb={nb}, "
                             f"{n_up} upsampling stages)")
    return out


def ours_to_official(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename our RRDBNet / SharedExtractor / SRResNetNoBN keys to the official naming; raises ValueError on other
    keys."""
    rrdb = {m[1] for k in state_dict if (m := _OUR_RDB.fullmatch(k))}
    res = {m[1] for k in state_dict if (m := _OUR_RES.fullmatch(k))}
    nb, first_up = len(rrdb | res), 2 if res and not rrdb else 3
    n_up = len({m[1] for k in state_dict if (m := _OUR_UP.fullmatch(k))})
    plain = {"conv_first": "model.0", "trunk.conv": f"model.1.sub.{nb}",
             "conv_hr": f"model.{2 + 3 * n_up}", "conv_last": f"model.{4 + 3 * n_up}"}
    out = {}
    for key, value in state_dict.items():
        if m := _OUR_RDB.fullmatch(key):
            conv = 5 if m[3] is None else int(m[3]) + 1
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{conv}.0.{m[4]}"] = value
        elif m := _OUR_RES.fullmatch(key):
            out[f"model.1.sub.{m[1]}.res.{0 if m[2] == '1' else 2}.{m[3]}"] = value
        elif m := _OUR_UP.fullmatch(key):
            out[f"model.{first_up + 3 * int(m[1])}.{m[2]}"] = value
        elif m := _OUR_PLAIN.fullmatch(key):
            out[f"{plain[m[1]]}.{m[2]}"] = value
        else:
            raise ValueError(f"key '{key}' has no old-ESRGAN/BasicSR equivalent")
    return out


def describe_official(state_dict: dict[str, torch.Tensor]) -> tuple[str, dict]:
    """(arch, options) of the network an official state dict belongs to, inferred from its keys and shapes."""
    nb, n_up, first_up = _official_layout(state_dict)
    first = state_dict["model.0.weight"]
    nf, in_nc = first.shape[0], first.shape[1]
    if n_up == 0:
        gc = state_dict["model.1.sub.0.RDB1.conv1.0.weight"].shape[0] if nb else 32
        return "fs_extractor", {"in_nc": int(in_nc), "nf": int(nf), "nb": nb, "gc": int(gc)}
    out_nc = int(state_dict[f"model.{4 + 3 * n_up}.weight"].shape[0])
    if first_up == 2:
        return "srresnet_nobn", {"in_nc": int(in_nc), "out_nc": out_nc, "nf": int(nf), "nb": nb, "scale": 2**n_up}
    gc = state_dict["model.1.sub.0.RDB1.conv1.0.weight"].shape[0] if nb else 32
    return "rrdbnet", {"in_nc": int(in_nc), "out_nc": out_nc, "nf": int(nf), "nb": nb, "gc": int(gc),
                       "scale": 2**n_up}


def _torch_load(path: str | os.PathLike):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist or is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or foreign files
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise CheckpointError(f"'{path}' is not a readable tensor-only torch checkpoint: "
                              f"{type(err).__name__}: {first_line}") from err


def _load_strict(model: nn.Module, state_dict: dict, path) -> None:
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"'{path}' does not match the {type(model).__name__} architecture: {err}") from err


def _key_mismatch(official: dict, model: nn.Module) -> str:
    """'missing [...], unexpected [...]' in official key names, or '' when ``official`` has exactly ``model``'s keys."""
    try:
        expected = set(ours_to_official(model.state_dict()))
    except ValueError:
        return ""
    missing, unexpected = sorted(expected - set(official)), sorted(set(official) - expected)
    parts = [f"{label} keys {keys[:6]}" + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
             for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
    return "; ".join(parts)


def load_official(path: str | os.PathLike, model: nn.Module | None = None) -> nn.Module:
    """Load an official old-ESRGAN/BasicSR style file (RRDB_ESRGAN_x4, RRDB_PSNR_x4, FASRGAN_G, FsSRGAN_E/G,
    FA_FsSRGAN_E/G, SRResNet_bicx4_in3nf64nb16).

    Without ``model`` the architecture (RRDBNet, shared extractor or SRResNetNoBN; nb, widths, scale) is inferred from
    the keys. Loading is strict: a missing, unexpected or mis-shaped key raises CheckpointError naming the file and
    the keys (in the file's naming).
    """
    obj = _torch_load(path)
    if isinstance(obj, dict) and "nets" in obj and "iteration" in obj:
        raise CheckpointError(_training_checkpoint_message(Path(path), obj["iteration"]))
    for wrapper in ("params_ema", "params", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or "model.0.weight" not in obj:
        raise CheckpointError(f"'{path}' is not an old-ESRGAN state dict (no 'model.0.weight' key)")
    try:
        state_dict = official_to_ours(obj)
        arch, options = describe_official(obj)
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"'{path}': {err}") from err
    if model is None:
        model = build_model(arch, **options)
    elif mismatch := _key_mismatch(obj, model):
        raise CheckpointError(f"'{path}' does not match the {type(model).__name__} architecture: {mismatch}")
    _load_strict(model, state_dict, path)
    return model


def save_model(model: nn.Module, arch: str, options: dict, path: str | os.PathLike) -> None:
    """Write ``model`` with the registry name and options that rebuild it, atomically; the same weights give the
    same bytes."""
    payload = {"format": FORMAT, "version": VERSION, "arch": arch, "options": dict(options),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    with atomic_file(path) as fh:
        torch.save(payload, fh)


def _training_checkpoint_message(path: Path, iteration) -> str:
    """Why a training checkpoint (``<run>/checkpoints/iter_N.pt``, :mod:`srrepro.training.run_state`: networks,
    optimisers and RNG states) is refused where a model file is expected, naming the run's final model."""
    run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    final = run / "model.pt"
    where = (f"use the run's final model {final}" if final.is_file() else
             f"the run has not written its final model {final} yet: finish the training (run the same train command "
             f"to resume it), then use that file")
    return f"'{path}' is a training checkpoint (iteration {iteration} of the run in {run}), not a model file; {where}"


def is_own_checkpoint(path: str | os.PathLike) -> bool:
    """True when ``path`` holds a checkpoint written by :func:`save_model` (CheckpointError if unreadable)."""
    obj = _torch_load(path)
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def load_model(path: str | os.PathLike, asset_options: dict | None = None, *, with_prior: bool = True) -> nn.Module:
    """Rebuild and strictly load a model written by :func:`save_model`.

    A segmentation prior with pretrained weights is re-attached from its asset (``asset_options``: ``cache_dir``,
    ``local_paths``; default: the default asset cache), raising :class:`~srrepro.errors.AssetUnavailable` naming
    the asset and its config key when it cannot be found. ``with_prior=False`` skips that (for reading weights only).
    """
    obj = _torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is not an srrepro model checkpoint (missing format '{FORMAT}')")
    if obj.get("version") != VERSION:
        raise CheckpointError(f"'{path}' has checkpoint version {obj.get('version')!r}; this code reads {VERSION}")
    try:
        model = build_model(obj["arch"], **obj["options"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"'{path}': cannot build architecture {obj.get('arch')!r}: {err}") from err
    _load_strict(model, obj["state_dict"], path)
    if with_prior:
        attach_prior_weights(model, asset_options)
    return model

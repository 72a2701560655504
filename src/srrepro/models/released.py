"""The authors' released models (refs §2): the asset files each is made of, the architecture they load into, loaders.

| model         | asset files (:data:`srrepro.data.assets.RELEASED_FILES`)     | architecture                        |
|---------------|---------------------------------------------------------------|-------------------------------------|
| `fasrgan`     | released-fasrgan-g (FASRGAN_G.pth)                            | rrdbnet, 23 RRDBs                   |
| `fs_srgan`    | released-fs-srgan-e + released-fs-srgan-g                     | fs_rrdb_generator E1G16: G(E(LR))   |
| `fa_fs_srgan` | released-fa-fs-srgan-e + released-fa-fs-srgan-g               | fs_rrdb_generator E2G15: G(E(LR))   |
| `esrgan`      | released-esrgan (RRDB_ESRGAN_x4.pth)                          | rrdbnet, 23 RRDBs                   |
| `rrdb_psnr`   | released-rrdb-psnr (RRDB_PSNR_x4.pth)                         | rrdbnet, 23 RRDBs                   |
| `srresnet`    | released-srresnet (SRResNet_bicx4_in3nf64nb16.pth)            | srresnet_nobn, 16 blocks, no BN     |

Every file loads strictly through the official key map (:func:`srrepro.models.checkpoints.load_official`,
``torch.load(weights_only=True)``). ``srrepro upscale --model released:<name>`` uses :func:`load_released`;
:func:`released_init_file` writes the model as an ``init_checkpoint`` for training (``init_from: released:<name>``).
``asset_options`` holds keyword arguments of :func:`srrepro.data.assets.fetch_asset` (``cache_dir``, ``local_paths``,
``mirror``, ``released_url``, ``timeout``; other keys are ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from srrepro.data.assets import default_cache_dir, fetch_with_options
from srrepro.errors import ConfigError
from srrepro.models.checkpoints import load_official, save_model
from srrepro.models.registry import build_model

SPEC_PREFIX = "released:"  # a model spec naming a released model: released:<name>
MODEL_PREFIX = "released_"  # the name under which a released model's results appear: released_<name>


def model_id(name: str) -> str:
    """The name of released model ``name``'s results in metric files, the summary and the tables."""
    return f"{MODEL_PREFIX}{name}"


@dataclass(frozen=True)
class ReleasedModel:
    """A released generator: its asset files (one generator file, or the extractor E then the trunk G), the
    registered architecture and options they load into, a label for tables, and the procedure it was trained with
    (``psnr``: a PSNR-oriented model that can replace an own pre-training, ``init_from: released:<name>``)."""

    assets: tuple[str, ...]
    arch: str
    options: dict = field(default_factory=dict)
    label: str = ""
    procedure: str = "ragan"


RELEASED_MODELS: dict[str, ReleasedModel] = {
    "fasrgan": ReleasedModel(("released-fasrgan-g",), "rrdbnet", {"nb": 23}, "FASRGAN (released)", "ragan_fa"),
    "fs_srgan": ReleasedModel(("released-fs-srgan-e", "released-fs-srgan-g"), "fs_rrdb_generator",
                              {"split": "E1G16"}, "Fs-SRGAN (released)"),
    "fa_fs_srgan": ReleasedModel(("released-fa-fs-srgan-e", "released-fa-fs-srgan-g"), "fs_rrdb_generator",
                                 {"split": "E2G15"}, "FA+Fs-SRGAN (released)", "ragan_fa"),
    "esrgan": ReleasedModel(("released-esrgan",), "rrdbnet", {"nb": 23}, "ESRGAN (released)"),
    "rrdb_psnr": ReleasedModel(("released-rrdb-psnr",), "rrdbnet", {"nb": 23}, "RRDB_PSNR (released)", "psnr"),
    "srresnet": ReleasedModel(("released-srresnet",), "srresnet_nobn", {"nb": 16}, "SRResNet (BasicSR, released)",
                              "psnr"),
}


def released_model(name: str) -> ReleasedModel:
    """The :class:`ReleasedModel` called ``name`` (ConfigError listing the names otherwise)."""
    if name not in RELEASED_MODELS:
        raise ConfigError(f"unknown released model '{name}'; released models: {', '.join(RELEASED_MODELS)}")
    return RELEASED_MODELS[name]


def released_parts(name: str, model: nn.Module) -> tuple[nn.Module, ...]:
    """The modules of ``model`` (built as released model ``name``) that its files hold, in
    :attr:`ReleasedModel.assets` order: extractor E and trunk G for the Fs pairs, else the whole generator."""
    return (model.extractor, model.generator_trunk) if len(released_model(name).assets) == 2 else (model,)


def load_released_files(name: str, paths) -> nn.Module:
    """Build released model ``name`` and load its files ``paths`` (in :attr:`ReleasedModel.assets` order) strictly."""
    spec = released_model(name)
    model = build_model(spec.arch, **spec.options)
    parts = released_parts(name, model)
    if len(paths) != len(parts):
        raise ConfigError(f"released model '{name}' is made of {len(parts)} files, got {len(paths)}")
    for part, path in zip(parts, paths):
        load_official(path, part)
    return model.eval()


def load_released(name: str, asset_options: dict | None = None) -> nn.Module:
    """Released model ``name``, ready for inference: its files fetched and verified (git blob SHA-1), then loaded.

    Raises ConfigError for an unknown name, AssetUnavailable when a file cannot be obtained, CheckpointError when a
    file does not fit the architecture.
    """
    spec = released_model(name)
    paths = [fetch_with_options(asset, asset_options) for asset in spec.assets]
    return load_released_files(name, paths)


def released_init_file(name: str, asset_options: dict | None = None, out: str | os.PathLike | None = None) -> Path:
    """Write released model ``name`` as one of our checkpoints (``save_model``) to ``out`` (default
    ``<asset cache>/released/<name>.pt``) and return the path: a file ``train_variant(init_checkpoint=...)``
    loads (``load_init_weights``: a plain generator initialises G, an E+G pair initialises E and G)."""
    spec = released_model(name)
    model = load_released(name, asset_options)
    cache_dir = (asset_options or {}).get("cache_dir")
    out = Path(out) if out is not None else Path(cache_dir or default_cache_dir()) / "released" / f"{name}.pt"
    save_model(model, spec.arch, spec.options, out)
    return out

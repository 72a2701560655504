"""Synthetic files of the authors' released models in their official key layout: seeded random weights of the real
architecture, saved under the official (flat) key names, one file per released asset (two for the Fs pairs)."""

from __future__ import annotations

from pathlib import Path

import torch

from srrepro.data.assets import ASSETS
from srrepro.models import build_model
from srrepro.models.checkpoints import ours_to_official
from srrepro.models.released import RELEASED_MODELS, released_parts


def official_files(name: str, folder: Path, seed: int = 0,
                   grey: float | None = None) -> tuple[torch.nn.Module, list[Path]]:
    """The random model of released model ``name`` and its files in the official layout, written into ``folder``.

    ``grey``: shrink the last convolution's weights and set its bias, so the model outputs about that grey level
    (0..1) with some texture instead of the black image a random network clips to."""
    torch.manual_seed(seed)
    spec = RELEASED_MODELS[name]
    model = build_model(spec.arch, **spec.options).eval()
    if grey is not None:
        last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        with torch.no_grad():
            last.weight.mul_(1e-2)
            last.bias.fill_(grey)
    parts = released_parts(name, model)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for asset, part in zip(spec.assets, parts):
        paths.append(folder / ASSETS[asset].filename)
        torch.save(ours_to_official(part.state_dict()), paths[-1])
    return model, paths

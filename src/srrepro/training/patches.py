"""Paired training patches from prepared dataset folders (:mod:`srrepro.data.prepared`), loaded once into memory.

The training data is one folder, a list of folders (one pool: every image equally likely) or a mapping
folder → ratio (a mixture: each patch first draws its folder by ratio, then an image of it; e.g. SPSAGAN's
OST : DIV2K = 10 : 1). Sampling is in-process and driven only by a seeded :class:`torch.Generator`, whose state is
checkpointed; with one folder or a pool no draw is spent on choosing the folder. In a data-parallel run every rank
draws the positions of the whole global batch from the same generator and crops only its own slice, so the ranks'
slices together are the single-process batch of the seed, and the generator's state is the same on every rank (one
state in the checkpoint restores them all, whatever the number of ranks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from srrepro.data.prepared import read_prepared
from srrepro.errors import ConfigError


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) → uint8 CHW tensor."""
    return torch.from_numpy(image).permute(2, 0, 1).contiguous()


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th (0..7) of the 8 dihedral transforms of a (..., H, W) tensor: bit 0 hflip, bit 1 vflip, bit 2 transpose."""
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4:
        x = x.transpose(-1, -2)
    return x


TrainingData = str | os.PathLike | list | tuple | Mapping


def data_sources(data: TrainingData) -> tuple[list[Path], list[float] | None]:
    """(folders, ratios or None) of a training-data specification (see the module docstring)."""
    if isinstance(data, Mapping):
        folders, ratios = [Path(k) for k in data], [float(v) for v in data.values()]
        if not folders or any(not r > 0 for r in ratios):
            raise ConfigError(f"training data mixture {dict(data)}: needs at least one folder, every ratio > 0")
        return folders, ratios
    if isinstance(data, (list, tuple)):
        if not data:
            raise ConfigError("training data: empty list of folders")
        return [Path(d) for d in data], None
    return [Path(data)], None


def describe_data(data: TrainingData) -> str | list[str] | dict[str, float]:
    """The training data as recorded in a run manifest: a folder, a pool (list) or {folder: ratio}."""
    folders, ratios = data_sources(data)
    if ratios is not None:
        return {str(f): r for f, r in zip(folders, ratios)}
    return [str(f) for f in folders] if isinstance(data, (list, tuple)) else str(folders[0])


SMALL_IMAGES = ("refuse", "skip")


class PatchSampler:
    """Random aligned LR/HR crops with dihedral augmentation; batches are float32 in [0, 1].

    ``data``: a prepared folder, a list of them (one pool) or {folder: ratio} (see the module docstring).
    ``small_images`` (the variant's ``train.small_images``): an image whose LR side is smaller than the LR patch is
    refused (``"refuse"``, naming it) or left out (``"skip"``: listed in :attr:`skipped` as ``<folder name>/<image>``,
    which :meth:`skipped_record` describes for the run's manifest); a folder of a mixture, or a pool, left without an
    image is refused either way.
    """

    def __init__(self, data: TrainingData, scale: int, hr_patch: int, seed: int, augment: bool = True,
                 small_images: str = "refuse"):
        if hr_patch % scale:
            raise ConfigError(f"train.hr_patch ({hr_patch}) must be a multiple of the scale ({scale})")
        if small_images not in SMALL_IMAGES:
            raise ConfigError(f"train.small_images: {small_images!r} is not one of {', '.join(SMALL_IMAGES)}")
        self.scale, self.hr_patch, self.lr_patch, self.augment = scale, hr_patch, hr_patch // scale, augment
        folders, ratios = data_sources(data)
        groups, self.skipped = [], []
        for folder in folders:
            group = []
            for name, hr, lr in read_prepared(folder, scale):
                if min(lr.shape[:2]) >= self.lr_patch:
                    group.append((name, to_tensor(lr), to_tensor(hr)))
                elif small_images == "skip":
                    self.skipped.append(f"{folder.name}/{name}")
                else:
                    raise ConfigError(f"train.hr_patch ({hr_patch}) is larger than training image {name} of {folder} "
                                      f"(LR {lr.shape[:2]}, HR {hr.shape[:2]}); lower train.hr_patch, or set "
                                      f"train.small_images: skip to leave such images out (counted in the run's "
                                      f"manifest)")
            groups.append(group)
        # a pool is one group; a mixture keeps one group per folder and draws the group by ratio
        self.groups = groups if ratios is not None else [[pair for group in groups for pair in group]]
        empty = [str(f) for f, g in zip(folders, groups) if not g] if ratios is not None else (
            [] if self.groups[0] else [", ".join(map(str, folders))])
        if empty:
            raise ConfigError(f"train.small_images: skip leaves no training image in {'; '.join(empty)}: every LR "
                              f"image is smaller than the LR patch of {self.lr_patch} px (train.hr_patch {hr_patch}); "
                              f"lower train.hr_patch")
        self.ratios = torch.tensor(ratios, dtype=torch.float64) if ratios is not None else None
        self.generator = torch.Generator().manual_seed(seed)

    def skipped_record(self) -> dict | None:
        """The images left out (``small_images: skip``) as recorded in a run's manifest, or None when none was."""
        if not self.skipped:
            return None
        return {"count": len(self.skipped), "names": list(self.skipped),
                "reason": f"LR side smaller than the LR patch of {self.lr_patch} px (train.hr_patch {self.hr_patch} "
                          f"/ scale {self.scale}); train.small_images: skip"}

    def _pick(self) -> tuple[str, torch.Tensor, torch.Tensor]:
        gen = self.generator
        group = self.groups[int(torch.multinomial(self.ratios, 1, generator=gen))] if self.ratios is not None \
            else self.groups[0]
        return group[int(torch.randint(len(group), (1,), generator=gen))]

    def sample(self, batch_size: int, rank: int = 0, ranks: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Slice ``rank`` of ``ranks`` equal slices of one batch of ``batch_size`` patches (the whole batch by
        default): LR (b,3,p,p), HR (b,3,p·s,p·s) with b = batch_size / ranks. Slices are consecutive batch positions."""
        lrs, hrs = [], []
        gen, p, s = self.generator, self.lr_patch, self.scale
        mine = range(rank * batch_size // ranks, (rank + 1) * batch_size // ranks)
        for position in range(batch_size):
            _, lr, hr = self._pick()
            top = int(torch.randint(lr.shape[1] - p + 1, (1,), generator=gen))
            left = int(torch.randint(lr.shape[2] - p + 1, (1,), generator=gen))
            k = int(torch.randint(8, (1,), generator=gen)) if self.augment else 0
            if position in mine:
                lrs.append(dihedral(lr[:, top:top + p, left:left + p], k))
                hrs.append(dihedral(hr[:, top * s:(top + p) * s, left * s:(left + p) * s], k))
        return torch.stack(lrs).float().div_(255), torch.stack(hrs).float().div_(255)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

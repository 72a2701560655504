"""Paired training patches from a prepared dataset folder, loaded once into memory.

Layout: ``<dir>/HR/*.png`` and ``<dir>/LR_x{scale}/*.png`` with the same file names, HR exactly ``scale`` times LR.
Sampling is in-process and driven only by a seeded :class:`torch.Generator`, whose state is checkpointed.
"""

from __future__ import annotations

from pathlib import Path

import torch

from srrepro.errors import ConfigError
from srrepro.images import read_image


def load_pairs(data_dir: str | Path, scale: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Read every (name, LR, HR) pair as uint8 CHW tensors, sorted by name."""
    data_dir = Path(data_dir)
    hr_dir, lr_dir = data_dir / "HR", data_dir / f"LR_x{scale}"
    names = sorted(p.name for p in hr_dir.glob("*.png"))
    if not names:
        raise ConfigError(f"data directory {data_dir}: no PNG images in {hr_dir}")
    pairs = []
    for name in names:
        if not (lr_dir / name).is_file():
            raise ConfigError(f"data directory {data_dir}: {lr_dir / name} is missing (every HR image needs its LR)")
        hr = torch.from_numpy(read_image(hr_dir / name)).permute(2, 0, 1).contiguous()
        lr = torch.from_numpy(read_image(lr_dir / name)).permute(2, 0, 1).contiguous()
        if hr.shape[1] != lr.shape[1] * scale or hr.shape[2] != lr.shape[2] * scale:
            raise ConfigError(f"data directory {data_dir}: {name} HR {tuple(hr.shape[1:])} is not {scale}x "
                              f"its LR {tuple(lr.shape[1:])}")
        pairs.append((name, lr, hr))
    return pairs


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th (0..7) of the 8 dihedral transforms of a (..., H, W) tensor: bit 0 hflip, bit 1 vflip, bit 2 transpose."""
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4:
        x = x.transpose(-1, -2)
    return x


class PatchSampler:
    """Random aligned LR/HR crops with dihedral augmentation; batches are float32 in [0, 1]."""

    def __init__(self, data_dir: str | Path, scale: int, hr_patch: int, seed: int, augment: bool = True):
        if hr_patch % scale:
            raise ConfigError(f"train.hr_patch ({hr_patch}) must be a multiple of the scale ({scale})")
        self.scale, self.hr_patch, self.lr_patch, self.augment = scale, hr_patch, hr_patch // scale, augment
        self.pairs = load_pairs(data_dir, scale)
        for name, lr, _ in self.pairs:
            if min(lr.shape[1:]) < self.lr_patch:
                raise ConfigError(f"train.hr_patch ({hr_patch}) is larger than training image {name} "
                                  f"(LR {tuple(lr.shape[1:])})")
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch (LR (B,3,p,p), HR (B,3,p·s,p·s))."""
        lrs, hrs = [], []
        gen, p, s = self.generator, self.lr_patch, self.scale
        for _ in range(batch_size):
            _, lr, hr = self.pairs[int(torch.randint(len(self.pairs), (1,), generator=gen))]
            top = int(torch.randint(lr.shape[1] - p + 1, (1,), generator=gen))
            left = int(torch.randint(lr.shape[2] - p + 1, (1,), generator=gen))
            k = int(torch.randint(8, (1,), generator=gen)) if self.augment else 0
            lrs.append(dihedral(lr[:, top:top + p, left:left + p], k))
            hrs.append(dihedral(hr[:, top * s:(top + p) * s, left * s:(left + p) * s], k))
        return torch.stack(lrs).float().div_(255), torch.stack(hrs).float().div_(255)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

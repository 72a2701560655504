"""TensorBoard event files of a training run, in ``<run_dir>/tensorboard/`` (optional: ``pip install -e
'.[tensorboard]'``; without the package nothing is written and training runs the same).

Scalars at every ``train_log.jsonl`` record: ``loss/<term>`` (``loss/g/total``, ``loss/d/gan``, ...), ``lr/<g|d>``
(the first parameter group) and ``time/seconds_per_iteration``; at every validation ``val/<metric>`` (computable
metrics only) and the images ``val_crops/<image>``: the SR of a fixed central LR crop beside the HR crop, for the
first :data:`CROP_IMAGES` validation images. The crops are super-resolved on their own, so their borders may differ
slightly from the same region of the full-image SR that the metrics see.

Resume: readers (TensorBoard, ``EventAccumulator``) read a folder's event files in name order, and a file whose first
event says "purge from step s" makes them drop what earlier files logged at steps >= s. A resumed run opens its file
with ``purge_step = checkpoint iteration + 1``, so the steps an interrupted attempt logged after its last checkpoint
are not shown twice. Everything logged up to a checkpoint is flushed before the checkpoint is written. In a
data-parallel run only rank 0 writes (the others pass no folder).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn

CROP_IMAGES = 3
CROP_LR = 32  # LR crop side in pixels (128 HR pixels at x4)


def _after_existing_files(log_dir: Path) -> None:
    """Event file names start with their creation second: within the second of the newest file, wait for the next
    one, so that the new file sorts after it."""
    stamps = [int(p.name.split(".")[3]) for p in log_dir.glob("events.out.tfevents.*")
              if len(p.name.split(".")) > 3 and p.name.split(".")[3].isdigit()]
    delay = max(stamps, default=0) + 1 - time.time()
    if 0 < delay <= 2:
        time.sleep(delay)


class TensorBoardLog:
    """Scalars and images for TensorBoard; every method does nothing when tensorboard is not installed."""

    def __init__(self, log_dir: Path | None, purge_step: int | None = None):
        """``log_dir`` None: write nothing (the ranks of a data-parallel run but rank 0)."""
        self.writer = None
        if log_dir is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("tensorboard is not installed: no event files (pip install -e '.[tensorboard]')", file=sys.stderr,
                  flush=True)
            return
        log_dir.mkdir(parents=True, exist_ok=True)
        _after_existing_files(log_dir)
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def scalars(self, step: int, values: dict[str, float | None]) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                if value is not None:
                    self.writer.add_scalar(tag, value, step)

    def crops(self, step: int, model: nn.Module, pairs, device: torch.device) -> None:
        """Log the SR | HR crops of the first validation ``pairs`` (name, LR, HR uint8 CHW tensors)."""
        if self.writer is not None:
            for name, image in sample_crops(model, pairs, device).items():
                self.writer.add_image(f"val_crops/{name}", image, step, dataformats="CHW")

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@torch.no_grad()
def sample_crops(model: nn.Module, pairs, device: torch.device) -> dict[str, torch.Tensor]:
    """SR of a central LR crop beside the matching HR crop (uint8 CHW), per validation image."""
    was_training = model.training
    model.eval()
    out = {}
    for name, lr, hr in pairs[:CROP_IMAGES]:
        scale = hr.shape[-1] // lr.shape[-1]
        h, w = min(CROP_LR, lr.shape[-2]), min(CROP_LR, lr.shape[-1])
        top, left = (lr.shape[-2] - h) // 2, (lr.shape[-1] - w) // 2
        lr_crop = lr[:, top:top + h, left:left + w]
        hr_crop = hr[:, top * scale:(top + h) * scale, left * scale:(left + w) * scale]
        sr = model(lr_crop[None].to(device, torch.float32) / 255).clamp(0, 1)
        sr = (sr[0] * 255).round().byte().cpu()
        out[name] = torch.cat([sr, hr_crop], dim=-1)
    model.train(was_training)
    return out

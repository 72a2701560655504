"""What crosses between host and device in the training loop, and when: no host synchronisation per iteration.

A CUDA step is queued and the host runs ahead; reading a loss value (``.item()``, ``bool(tensor)``) or copying a
batch from pageable memory waits for the queue to drain. :func:`to_device` copies batches from pinned memory, so the
copy does not wait; :class:`LossWindow` keeps the loss values and their finiteness on the device and reads them in
one transfer at the iterations that need them (logging, checkpoint, validation, the last iteration). A non-finite
loss is still caught before any checkpoint or validation could see its weights, and the error names the exact
iteration at which it first appeared.
"""

from __future__ import annotations

from pathlib import Path

import torch

from srrepro.errors import TrainingDiverged
from srrepro.training import run_state


def to_device(batch: torch.Tensor, device: torch.device, memory_format: torch.memory_format) -> torch.Tensor:
    """A host batch on ``device`` in ``memory_format``; on CUDA via pinned memory, so the copy is asynchronous."""
    if device.type == "cuda":
        batch = batch.pin_memory()
    return batch.to(device, non_blocking=True).contiguous(memory_format=memory_format)


class LossWindow:
    """The loss terms of the iterations since the last host read, kept on the device.

    ``add`` is called every iteration and returns the latest values as floats (one device-to-host transfer) at an
    iteration that is a multiple of one of ``intervals`` (zeros are ignored) or is ``last``, else None. At such an
    iteration it raises :class:`~srrepro.errors.TrainingDiverged` when a term was non-finite at any iteration of the
    window, naming the term, the first such iteration, the window and the last checkpoint of ``out_dir``.
    """

    def __init__(self, out_dir: str | Path, last: int, *intervals: int):
        self.out_dir, self.last, self.intervals = Path(out_dir), last, [n for n in intervals if n]
        self.names: list[str] = []
        self.state: torch.Tensor | None = None  # rows: latest value, first non-finite iteration (0: none), its value
        self.window_start = 0

    def add(self, values: dict[str, torch.Tensor], iteration: int) -> dict[str, float] | None:
        latest = torch.stack([v.detach().double() for v in values.values()])
        if self.state is None or list(values) != self.names:
            self.names = list(values)
            self.state = torch.zeros(3, len(latest), dtype=torch.float64, device=latest.device)
        if not self.window_start:
            self.window_start = iteration
        first_bad = (~latest.isfinite()) & (self.state[1] == 0)
        self.state = torch.stack([latest, torch.where(first_bad, float(iteration), self.state[1]),
                                  torch.where(first_bad, latest, self.state[2])])
        if iteration != self.last and all(iteration % n for n in self.intervals):
            return None
        current, bad_at, bad_value = self.state.tolist()  # the one host synchronisation of the window
        start, self.window_start = self.window_start, 0
        bad = [(at, i) for i, at in enumerate(bad_at) if at]
        if bad:
            at, i = min(bad)
            checkpoint = run_state.latest_checkpoint(self.out_dir)
            raise TrainingDiverged(
                f"loss term '{self.names[i]}' is {bad_value[i]} at iteration {int(at)} (first non-finite value in "
                f"iterations {start}..{iteration}, checked at iteration {iteration}); last good checkpoint: "
                f"{checkpoint if checkpoint else 'none'}; lower the learning rate or check the data")
        return dict(zip(self.names, current))

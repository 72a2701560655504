"""Data-parallel training on several processes, one per GPU, launched by ``torchrun``.

``torchrun --standalone --nproc_per_node=N -m srrepro.cli train ...`` starts N processes (ranks) with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` set; :func:`process_group` joins them: NCCL with one GPU per rank
(``cuda:LOCAL_RANK``) when CUDA is available, gloo on CPU. Without ``WORLD_SIZE`` > 1 nothing here communicates and
a run is exactly the single-process run.

The networks are replicas on every rank and see the rank's slice of the global batch (``train.batch_size`` is the
global batch; :func:`local_batch`). Three things make N ranks compute the single-process step on the global batch:

* :func:`average_gradients`: between the backward pass and the step of each optimiser, the gradients of that
  optimiser's parameters are averaged over the ranks (one all-reduce of their concatenation). The Fs-SRGAN extractor
  E is in both optimisers, so its gradients of the G step and of the D step are each averaged before their step; a D
  frozen in the G step has no gradients then and none are exchanged. This is DistributedDataParallel's arithmetic
  without its wrapper. The wrapper syncs only what runs through a wrapped module's ``forward`` (the steps call the
  pair's ``generate``/``discriminate``, so E, G and D would each need one); with ``find_unused_parameters=False`` it
  fails one iteration after a step that leaves part of a wrapped module without gradient (seen: the UNet
  discriminator under the non-FA ``ragan``, whose map decoder gets none), and ``True`` walks the autograd graph at
  every forward. The price: communication does not overlap the backward pass (one all-reduce of the G, then the D,
  gradients per iteration: ~0.1 GB at paper scale, milliseconds on NVLink against a step of a few hundred).
* :class:`SyncBatchNorm` (every BatchNorm of the generator and the discriminator, :func:`sync_batchnorm`): batch
  statistics of the global batch, differentiably all-reduced, on any backend (``torch.nn.SyncBatchNorm`` runs on GPU
  only, so the CPU tests could not exercise it).
* :func:`batch_mean`: the relativistic average GAN's batch mean E[C(x)] over the global batch.

Rank 0 owns the run folder (lock, manifest, logs, TensorBoard, checkpoints, the final model); every rank restores the
checkpoint rank 0 chose (:func:`broadcast_object`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from srrepro.errors import ConfigError, SrreproError


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: ``rank`` of ``size`` processes, ``local`` on its machine."""

    rank: int = 0
    size: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes the run folder."""
        return self.rank == 0


# How long a rank waits in a collective: the others wait while rank 0 validates (PI on Set14 takes minutes on the
# CPU) or writes a checkpoint; NCCL's default (10 min) is too short for that. A rank that dies is noticed by torchrun.
COLLECTIVE_TIMEOUT = timedelta(hours=2)


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@contextlib.contextmanager
def process_group(device: str | None) -> Iterator[tuple[Ranks, torch.device]]:
    """Join the job's processes (when ``WORLD_SIZE`` > 1) and yield (ranks, this rank's device).

    ``device``: None picks CUDA when available; a CUDA device becomes ``cuda:LOCAL_RANK`` in a data-parallel job.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if size == 1:
        yield Ranks(), chosen
        return
    ranks = Ranks(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    cuda = chosen.type == "cuda"
    if cuda:
        chosen = torch.device("cuda", ranks.local)
        torch.cuda.set_device(chosen)
    dist.init_process_group("nccl" if cuda else "gloo", rank=ranks.rank, world_size=size, timeout=COLLECTIVE_TIMEOUT,
                            **({"device_id": chosen} if cuda else {}))
    try:
        yield ranks, chosen
    finally:
        dist.destroy_process_group()


def local_batch(batch_size: int, ranks: Ranks) -> int:
    """Patches per rank: ``train.batch_size`` is the global batch, split evenly."""
    if batch_size % ranks.size:
        raise ConfigError(f"variant key 'train.batch_size' ({batch_size}) is the global batch and must be divisible by "
                          f"the number of training processes ({ranks.size}); change one of them")
    return batch_size // ranks.size


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (picklable objects)."""
    if not _active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def from_main(value: Any, error: SrreproError | None = None) -> Any:
    """Rank 0's ``value`` on every rank. ``error`` (rank 0's failure) is raised there and stops the other ranks with
    an error of the same message (the command line prints rank 0's only)."""
    if _active():
        value, message = broadcast_object((value, None if error is None else str(error)))
        if message is not None and error is None:
            raise SrreproError(message)
    if error is not None:
        raise error
    return value


def main_first(action: Callable[[], Any]) -> Any:
    """``action()`` on every rank, rank 0 first (e.g. a download into a shared cache, then the cached file)."""
    result, error = None, None
    if not _active() or dist.get_rank() == 0:
        try:
            result = action()
        except SrreproError as err:
            error = err
    from_main(None, error)
    return action() if _active() and dist.get_rank() != 0 else result


def gather_objects(value: Any) -> list:
    """Every rank's ``value``, in rank order, on every rank (picklable objects)."""
    if not _active():
        return [value]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def barrier() -> None:
    if _active():
        dist.barrier()


def same_modules(*modules: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (after an initialisation that should already agree);
    shapes that differ between ranks raise instead of deadlocking."""
    if not _active():
        return
    tensors = [t for m in modules for t in [*m.parameters(), *m.buffers()]]
    shapes = [tuple(t.shape) for t in tensors]
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, shapes)
    if any(s != shapes for s in everyone):
        raise RuntimeError("the ranks built networks of different shapes (e.g. a pruning measured differently)")
    with torch.no_grad():
        for tensor in tensors:
            dist.broadcast(tensor, src=0)


def average_gradients(optimizer: torch.optim.Optimizer) -> None:
    """Average the gradients of ``optimizer``'s parameters over the ranks (no-op in one process).

    Every rank runs the same steps, so the same parameters have gradients everywhere; a parameter without gradient
    (None) stays without, as Adam then skips it.
    """
    if not _active():
        return
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    for dtype in dict.fromkeys(g.dtype for g in grads):
        same = [g for g in grads if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in same])
        dist.all_reduce(flat)
        flat.div_(dist.get_world_size())
        for grad, part in zip(same, flat.split([g.numel() for g in same])):
            grad.copy_(part.view_as(grad))


class _AllReduce(torch.autograd.Function):
    """Differentiable sum over the ranks: the gradient of each rank's input is the sum of the ranks' gradients of
    the output (what ``torch.distributed.nn.functional.all_reduce``, now deprecated, computes)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _AllReduce.apply(grad)


def batch_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the global batch (all elements, all ranks), differentiable; ``x.mean()`` in one process."""
    if not _active():
        return x.mean()
    return _AllReduce.apply(x.mean()) / dist.get_world_size()


def mean_over_ranks(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-rank loss values (means over the rank's slice) → their global-batch values, the same on every rank."""
    if not _active() or not values:
        return values
    stacked = torch.stack([v.detach().float() for v in values.values()])
    dist.all_reduce(stacked)
    stacked.div_(dist.get_world_size())
    return dict(zip(values, stacked))


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training-mode statistics are those of the global batch over all ranks (equal slices).

    Each rank's per-channel mean and biased variance are gathered by one differentiable all-reduce and combined
    exactly (mean of the means; mean of the variances plus the variance of the means). Running statistics follow
    ``nn.BatchNorm`` (momentum, unbiased variance of the global batch). In eval mode, or in one process, it is
    ``nn.BatchNorm``; its state dict has the same keys, so checkpoints and model files do not change.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch_stats = self.training or self.running_mean is None
        if not (batch_stats and _active()):
            return super().forward(x)
        self._check_input_dim(x)
        size, rank = dist.get_world_size(), dist.get_rank()
        dims = [0, *range(2, x.dim())]
        xf = x.float()  # statistics in float32, also under bf16 autocast
        local = torch.stack([xf.mean(dims), xf.var(dims, unbiased=False)])  # (2, C)
        slot = torch.zeros(size, 1, 1, device=x.device)
        slot[rank] = 1
        gathered = _AllReduce.apply(slot * local)  # (ranks, 2, C): every rank's statistics
        means, variances = gathered[:, 0], gathered[:, 1]
        mean = means.mean(0)
        var = variances.mean(0) + (means - mean).pow(2).mean(0)
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                count = x.numel() // x.shape[1] * size
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * (count / max(count - 1, 1)), alpha=factor)
        shape = [1, -1, *[1] * (x.dim() - 2)]
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.BatchNorm1d/2d/3d`` in ``module`` by :class:`SyncBatchNorm`, keeping its parameters,
    buffers and mode (in place; returns ``module``)."""
    for name, child in module.named_children():
        if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
            synced = SyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                   child.track_running_stats)
            if child.affine:
                synced.weight, synced.bias = child.weight, child.bias
            if child.track_running_stats:
                synced.running_mean, synced.running_var = child.running_mean, child.running_var
                synced.num_batches_tracked = child.num_batches_tracked
            synced.train(child.training)
            setattr(module, name, synced)
        else:
            sync_batchnorm(child)
    return module

"""The training loop of one variant: PSNR pre-training or a GAN phase, with checkpoints, resume, logs, validation.

``train_variant`` resolves the variant (:mod:`srrepro.training.variant`; the format is ``docs/variant-format.md``),
builds the networks, initialises them (:mod:`srrepro.training.initialisation`), and runs the procedure's steps
(:mod:`srrepro.training.procedures`) on seeded patches (:mod:`srrepro.training.patches`), checkpointing into
``out_dir`` (:mod:`srrepro.training.run_state`) and validating periodically (:mod:`srrepro.training.validation`).

Outputs in ``out_dir``: ``checkpoints/iter_*.pt``, ``train_log.jsonl``, ``val_log.csv`` (iteration, one column per
metric, empty when unavailable, ``unavailable`` with the reasons), ``manifest.json`` and the final ``model.pt``.
For a pruned SPSAGAN generator the manifest's ``pruning`` describes the masks (see docs/variant-format.md), and
``train_log.jsonl`` starts with a record ``{"iteration": 0, "event": "pruning", ...}``.
TensorBoard event files go to ``tensorboard/`` when tensorboard is installed (:mod:`srrepro.training.tensorboard_log`).

Restarts (:func:`_open_run`, :mod:`srrepro.training.run_state`): one process at a time owns ``out_dir`` (``run.lock``).
A run restarted on a folder holding the same run (:mod:`srrepro.training.manifest`) continues from its newest
readable checkpoint; the result is bit-identical on CPU, and every file written with ``torch.save`` is
byte-identical. The same holds when only ``train.iterations`` grew. A folder holding any other run is moved aside.

Several GPUs (:mod:`srrepro.training.distributed`): started by ``torchrun --standalone --nproc_per_node=N -m
srrepro.cli train ...``, the N processes train data-parallel. ``train.batch_size`` is the global batch (N must divide
it); each rank crops its slice of the batch the single-process run of the seed draws, and BatchNorm, the RaGAN
averages and the gradients (E's of both steps included) are those of the global batch, so the ranks compute the
single-process steps. Rank 0 owns ``out_dir`` (lock, manifest, logs, TensorBoard, checkpoints, model); every rank
restores the checkpoint rank 0 chose.

The host waits for the device only at log, checkpoint and validation iterations (:mod:`srrepro.training.host_sync`).

Ctrl-C stops a single-process run after the iteration in progress (a second Ctrl-C at once) with
:class:`~srrepro.errors.Interrupted`, naming the iteration and the checkpoint the same command resumes from; a full
disk stops it with :class:`~srrepro.errors.DiskFull`, naming the file, the space needed and free, and that checkpoint.

Determinism: the seed drives weight init (torch), numpy/python RNGs and the patch sampler's own generator.
On CPU with the same thread count runs are bit-identical. On CUDA cuDNN is set to deterministic algorithms without
benchmarking and ``torch.use_deterministic_algorithms(True, warn_only=True)`` is on, yet some kernels have no
deterministic version and only warn: the bilinear upsampling backward of the UNet discriminator (atomicAdd),
adaptive average pooling backward, and index/scatter-based ops; bf16 autocast changes results too.
Data-parallel runs: bit-identical for the same N, seed and threads on CPU (gloo), and after a resume (also after a
kill of a rank) with the same N; on CUDA, NCCL's all-reduce adds its own order (fixed only with NCCL_ALGO and
NCCL_PROTO pinned). Not bit-identical: N ranks against 1 rank or another N (a run resumed with another N too). The
steps are the same but the float32 summation order is not (per-rank partial sums, the all-reduces, the combined
BatchNorm statistics); Adam turns these ~1e-7 relative differences into whole ±lr steps where a gradient is at noise
level, and later GAN steps spread them. Measured (tests/test_distributed.py): after two iterations 2 ranks x B/2 are
1.3e-3 (of the update's norm) from 1 rank x B, as close as one rank with the same batch reordered (2.3e-3).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from srrepro.atomic import copy_file, disk_full, write_text
from srrepro.errors import ConfigError, DiskFull, Interrupted, SrreproError
from srrepro.models.checkpoints import save_model
from srrepro.models.pairs import GANPair
from srrepro.models.rrsb_pruning import pruning_stats
from srrepro.models.segmentation_prior import attach_prior_weights
from srrepro.models.spsagan import SPSAGenerator
from srrepro.training import distributed, run_state
from srrepro.training.host_sync import LossWindow, to_device
from srrepro.training.initialisation import is_dense, load_init_weights, prune_for_training
from srrepro.training.losses import perceptual_features, perceptual_loss
from srrepro.training.manifest import changed_keys, extends, run_manifest
from srrepro.training.patches import PatchSampler, describe_data
from srrepro.training.precision import resolve_precision
from srrepro.training.procedures import PROCEDURES, Networks, loss_weights, step_context
from srrepro.training.tensorboard_log import TensorBoardLog
from srrepro.training.validation import Validator
from srrepro.training.variant import build_networks, generator_options, resolve_variant

FINAL_MODEL = "model.pt"
MANIFEST = "manifest.json"


def _make_optimizers(cfg: dict, nets: Networks):
    train = cfg["train"]
    adam = {"betas": tuple(train["betas"]), "weight_decay": train["weight_decay"]}
    groups: dict[float, list] = {}
    for name, param in nets.named_generator_parameters():
        lr = next((v for k, v in train["lr_g_overrides"].items() if name.startswith(k)), train["lr_g"])
        groups.setdefault(lr, []).append(param)
    opt_g = torch.optim.Adam([{"params": p, "lr": lr} for lr, p in groups.items()], **adam)
    opt_d = torch.optim.Adam(nets.discriminator_parameters(), lr=train["lr_d"], **adam) if nets.discriminator else None
    optimizers = {"g": opt_g, **({"d": opt_d} if opt_d else {})}
    schedule = {
        "multistep": lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, train["milestones"], train["gamma"]),
        "halve_every": lambda opt: torch.optim.lr_scheduler.StepLR(opt, train["step_size"], train["gamma"]),
    }[train["lr_schedule"]]
    return optimizers, {k: schedule(opt) for k, opt in optimizers.items()}


def _set_threads_and_determinism(threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # only settable before the first parallel work of the process
        pass
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_variant(variant: dict, data_dir, out_dir, *, seed: int, threads: int, val_dir=None, init_checkpoint=None,
                  asset_options: dict | None = None, progress: bool = True, device: str | None = None,
                  stop_after: int | None = None, publish_to: str | os.PathLike | None = None,
                  prune_data=None) -> Path | None:
    """Train ``variant`` on ``data_dir`` into ``out_dir`` and return the final model file (our checkpoint format).

    ``data_dir``: a prepared folder, a list of them (one pool) or {folder: ratio} (a mixture drawn by ratio; see
    :mod:`srrepro.training.patches`). ``prune_data`` (same forms), with ``generator.prune``: the training data of
    the run being pruned (``init_checkpoint``'s), on which Eq. 8 is measured, as during the last iterations of its
    training (SPSAGAN §3.2).
    ``asset_options``: ``cache_dir``, ``local_paths`` (asset name → file) for the VGG and segmentation-prior weights,
    ``perceptual_features`` (an nn.Module replacing the VGG extractor, e.g. in tests) and ``provenance`` (recorded in
    the manifest). ``device``: default CUDA when available. ``stop_after``: stop after this iteration without
    finishing, as if killed (for resume tests); returns None then. ``publish_to``: also copy the final model there,
    atomically (the workflow's output), and return that path. ``threads``: per process.

    Started by ``torchrun`` with several processes, each call is one rank of a data-parallel job
    (:mod:`srrepro.training.distributed`): rank 0 writes ``out_dir`` and every rank returns the same value.
    """
    cfg = resolve_variant(variant)
    _set_threads_and_determinism(threads)
    with distributed.process_group(device) as (ranks, device):
        return _train(cfg, data_dir, Path(out_dir), ranks, device, seed=seed, threads=threads, val_dir=val_dir,
                      init_checkpoint=init_checkpoint, asset_options=asset_options or {}, progress=progress,
                      stop_after=stop_after, publish_to=publish_to, prune_data=prune_data)


def _train(cfg: dict, data_dir, out_dir: Path, ranks: distributed.Ranks, device: torch.device, *, seed: int,
           threads: int, val_dir, init_checkpoint, asset_options: dict, progress: bool, stop_after: int | None,
           publish_to, prune_data) -> Path | None:
    train = cfg["train"]
    prune = cfg["generator"].get("prune", False)
    if prune and (not init_checkpoint or prune_data is None):
        raise ConfigError("variant key 'generator.prune' needs an init_checkpoint (the unpruned run to prune) and its "
                          "training data (prune_data; `srrepro train --prune-data`), on which Eq. 8 is measured")
    final_path = out_dir / FINAL_MODEL
    distributed.local_batch(train["batch_size"], ranks)  # refuse an uneven split before anything happens
    _seed_everything(seed)
    nets = build_networks(cfg)
    prior_source = distributed.main_first(lambda: attach_prior_weights(nets.model, asset_options))
    if ranks.size > 1:  # batch statistics of the global batch, in the generator (SRResNet) and the discriminator
        distributed.sync_batchnorm(nets.model)
        if nets.discriminator is not None:
            distributed.sync_batchnorm(nets.discriminator)
    procedure = PROCEDURES[cfg["procedure"]]
    train, precision = resolve_precision(train, device)
    cfg = {**cfg, "train": train}  # the arithmetic decided for this device (train.amp auto), recorded in the manifest
    memory_format = torch.channels_last if train["channels_last"] else torch.preserve_format
    perceptual, perceptual_source = None, None
    if loss_weights(cfg).get("perceptual"):  # rank 0 fetches the weights into the cache first
        features, perceptual_source = distributed.main_first(lambda: perceptual_features(cfg["perceptual_layer"],
                                                                                         asset_options))
        perceptual = perceptual_loss(cfg, features).to(device, memory_format=memory_format)
        if train["amp"] == "bf16":  # its steps run under bf16 autocast only
            perceptual.store_frozen_as(torch.bfloat16)
    sampler = PatchSampler(data_dir, cfg["scale"], train["hr_patch"], seed, train["augment"], train["small_images"])
    validator = (Validator(Path(val_dir), cfg["scale"], train["val_metrics"], device, asset_options)
                 if ranks.main and val_dir and train["validate_every"] else None)
    separate_d = nets.discriminator is not None and not isinstance(nets.model, GANPair)

    with contextlib.ExitStack() as owner:
        manifest, state, opened, failure = None, None, {}, None
        if ranks.main:  # rank 0 owns the folder and decides where the run starts; the others follow
            try:
                owner.enter_context(run_state.claim(out_dir))
                run_state.remove_stale_temporaries(out_dir, *([Path(publish_to)] if publish_to else []))
                manifest = run_manifest(cfg, seed, threads, device, describe_data(data_dir), val_dir, init_checkpoint,
                                        asset_options, perceptual_source, prior_source=prior_source,
                                        world_size=ranks.size, precision=precision,
                                        prune_data=describe_data(prune_data) if prune else None,
                                        skipped_images=sampler.skipped_record())
                if sampler.skipped:
                    run_state.note(f"train.small_images: skip: left out {len(sampler.skipped)} training image(s) "
                                   f"smaller than the LR patch of {sampler.lr_patch} px: {', '.join(sampler.skipped)}")
                checkpoint, state = _open_run(out_dir, manifest) or (None, None)
                opened = {"checkpoint": checkpoint and str(checkpoint),
                          "finished": state is not None and state["iteration"] >= train["iterations"]
                          and final_path.exists()}
            except SrreproError as err:
                failure = err
        opened = distributed.from_main(opened, failure)
        if opened["finished"]:
            published = _publish(final_path, publish_to, ranks.main)
            distributed.barrier()
            return published
        if opened["checkpoint"] and not ranks.main:
            state = run_state.load_checkpoint(Path(opened["checkpoint"]))
        start = state["iteration"] if state else 0
        if state is not None:
            nets.model.load_state_dict(state["nets"]["model"])  # before the optimisers: rebuilds pruned blocks
        else:
            fresh = ({k: v.detach().clone() for k, v in nets.model.state_dict().items()}
                     if prune and train["prune_weights"] == "scratch" else None)
            if init_checkpoint:
                load_init_weights(nets, Path(init_checkpoint))
            pruning = None
            if prune:
                pruning = prune_for_training(cfg, nets.model, prune_data, seed, device, fresh)
            elif isinstance(nets.model, SPSAGenerator) and not is_dense(nets.model):
                pruning = {"source": "init_checkpoint", **pruning_stats(nets.model)}
            if ranks.main:
                manifest["pruning"] = pruning
        nets.model.to(device, memory_format=memory_format)
        if nets.discriminator is not None:
            nets.discriminator.to(device, memory_format=memory_format)
        distributed.same_modules(nets.model, *([nets.discriminator] if separate_d else []))
        optimizers, schedulers = _make_optimizers(cfg, nets)

        if state is not None:
            if separate_d and "discriminator" in state["nets"]:
                nets.discriminator.load_state_dict(state["nets"]["discriminator"])
            for key, opt in optimizers.items():
                opt.load_state_dict(state["optimizers"][key])
                schedulers[key].load_state_dict(state["schedulers"][key])
            sampler.load_state_dict(state["sampler"])
            run_state.set_rng_state(run_state.rank_rng_state(state, ranks.rank))
            if ranks.main:
                run_state.truncate_logs(out_dir, start)
                run_state.note(f"resuming from checkpoint {opened['checkpoint']} at iteration {start}")
        elif ranks.main:
            _start_afresh(out_dir, manifest)
        del state  # its tensors are in the networks and optimisers now

        ctx = step_context(cfg, nets, optimizers["g"], optimizers.get("d"), perceptual, device)

        def save(iteration: int) -> None:
            rng = distributed.gather_objects(run_state.rng_state())  # every rank's, for an exact resume
            if not ranks.main:
                return
            modules = {"model": nets.model.state_dict()}
            if separate_d:
                modules["discriminator"] = nets.discriminator.state_dict()
            run_state.save_checkpoint(out_dir, iteration, {
                "nets": modules, "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
                "sampler": sampler.state_dict(), "rng": rng[0], **({"rank_rng": rng} if ranks.size > 1 else {})},
                train["keep_checkpoints"])

        board = TensorBoardLog(out_dir / run_state.TENSORBOARD_DIR if ranks.main else None,
                               purge_step=start + 1 if start else None)
        bar = tqdm(total=train["iterations"], initial=start, desc=cfg["procedure"], unit="it", file=sys.stderr,
                   mininterval=10, ascii=True, disable=not (progress and ranks.main), dynamic_ncols=False)
        busy, window_count = 0.0, 0  # step time (sampling, G and D steps, the window's host read) since the last record
        loss_window = LossWindow(out_dir, train["iterations"], train["log_every"], train["checkpoint_every"],
                                 train["validate_every"] if val_dir else 0)  # the same windows on every rank
        iteration, cut_short = start, False
        ctrl_c = contextlib.ExitStack()  # the loop's own Ctrl-C handling, until the loop ends
        asked_to_stop = ctrl_c.enter_context(_stop_on_ctrl_c(ranks.size == 1))
        try:
            for iteration in range(start + 1, train["iterations"] + 1):
                began = time.perf_counter()
                lr, hr = sampler.sample(train["batch_size"], ranks.rank, ranks.size)
                lr, hr = to_device(lr, device, memory_format), to_device(hr, device, memory_format)
                values = distributed.mean_over_ranks(procedure.step(ctx, lr, hr))  # the global batch's losses
                for scheduler in schedulers.values():
                    scheduler.step()
                scalars = loss_window.add(values, iteration)  # floats + finiteness check at log/checkpoint/validation
                busy += time.perf_counter() - began
                window_count += 1
                last = iteration == train["iterations"]
                if ranks.main and (iteration % train["log_every"] == 0 or last):
                    record = {"iteration": iteration, "seconds_per_iteration": busy / window_count,
                              **{f"lr_{k}": opt.param_groups[0]["lr"] for k, opt in optimizers.items()}, **scalars}
                    run_state.append_train_log(out_dir, record)
                    board.scalars(iteration, {"time/seconds_per_iteration": record["seconds_per_iteration"],
                                              **{f"lr/{k}": record[f"lr_{k}"] for k in optimizers},
                                              **{f"loss/{k}": record[k] for k in values}})
                    bar.set_postfix({"g": f"{record['g/total']:.4g}"}, refresh=False)
                    busy, window_count = 0.0, 0
                if validator and (iteration % train["validate_every"] == 0 or last):
                    row = validator(nets.model, iteration)
                    run_state.append_val_log(out_dir, row)
                    board.scalars(iteration, {f"val/{name}": row[name] for name in validator.metrics})
                    board.crops(iteration, nets.model, validator.pairs, device)
                if iteration % train["checkpoint_every"] == 0 or last:
                    board.flush()  # events up to the checkpoint are on disk before it is
                    save(iteration)
                bar.update(1)
                if stop_after is not None and iteration >= stop_after:
                    return None
                if asked_to_stop():
                    raise Interrupted(f"interrupted at iteration {iteration}; run the same command to resume "
                                      f"({_resume_point(out_dir)})")
        except KeyboardInterrupt:  # wherever the loop was: a second Ctrl-C, or any in a data-parallel run
            cut_short = True  # a library cut short mid-call may not close cleanly (TensorBoard's writer thread)
            raise Interrupted(f"interrupted at iteration {iteration}; run the same command to resume "
                              f"({_resume_point(out_dir)})") from None
        except Exception as err:
            if not disk_full(err):
                raise
            path, needed, free = ((err.path, err.needed, err.free) if isinstance(err, DiskFull) else
                                  (out_dir, "more space", shutil.disk_usage(out_dir).free))
            raise DiskFull(path, needed, free, f"free some space there and run the same command again: training "
                                               f"resumes {_resume_point(out_dir)}") from None
        finally:
            ctrl_c.close()
            bar.close()
            if not cut_short:  # TensorBoard's events after the last checkpoint are purged on resume anyway
                board.close()
        if ranks.main:
            save_model(nets.model, cfg["generator"]["arch"], generator_options(cfg), final_path)
            if train["keep_checkpoints"] == 0:  # keep none once the final model is written (smoke runs)
                run_state.remove_checkpoints(out_dir)
        published = _publish(final_path, publish_to, ranks.main)
        distributed.barrier()  # every rank returns once the model is written
        return published


@contextlib.contextmanager
def _stop_on_ctrl_c(defer: bool):
    """Yield a function telling whether Ctrl-C (SIGINT) asked the loop to stop. ``defer``: the first Ctrl-C only asks,
    and the loop stops after the iteration in progress (its checkpoint written, no library cut short mid-call); a
    second one interrupts at once. Not deferred (the plain KeyboardInterrupt) outside the main thread, where SIGINT
    is ignored, and in data-parallel runs, whose ranks must stop together."""
    asked = []
    previous = signal.getsignal(signal.SIGINT)
    if not defer or previous is signal.SIG_IGN or threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def ask(signum, frame):
        asked.append(signum)
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, ask)
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)


def _resume_point(out_dir: Path) -> str:
    """Where the same command continues the run in ``out_dir``: its newest checkpoint's iteration."""
    latest = run_state.latest_checkpoint(out_dir)
    return (f"from the checkpoint of iteration {int(latest.stem.split('_')[1])}" if latest else
            "from the start: no checkpoint was written yet")


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _open_run(out_dir: Path, manifest: dict) -> tuple[Path, dict] | None:
    """The checkpoint (path, state on the CPU) to continue from, or None to start afresh.

    ``out_dir`` continues when its manifest describes the same run (:func:`~srrepro.training.manifest.changed_keys`
    is empty) or this run cut shorter (:func:`~srrepro.training.manifest.extends`: only ``train.iterations`` grew;
    the old final model is then deleted and the manifest records the extension). Any other run in it is moved aside
    whole (:func:`~srrepro.training.run_state.move_aside`), so nothing of it mixes into the new one. A run continued
    with another number of processes sees the same patches in the same global batches (:mod:`.patches`) but is no
    longer bit-identical to an uninterrupted one; the manifest records the change.
    """
    previous = _read_manifest(out_dir / MANIFEST)
    changed = changed_keys(previous, manifest) if previous else ["manifest.json (missing or unreadable)"]
    if previous and (not changed or extends(previous, manifest)):
        resumed = run_state.load_latest_checkpoint(out_dir)
        if not resumed:
            return None
        updated = dict(previous)
        if changed:
            old, new = previous["variant"]["train"]["iterations"], manifest["variant"]["train"]["iterations"]
            (out_dir / FINAL_MODEL).unlink(missing_ok=True)
            updated["variant"] = manifest["variant"]
            updated["extended"] = [*previous.get("extended", []), {
                "from_iterations": old, "resumed_at": resumed[1]["iteration"], "git_commit": manifest["git_commit"]}]
            run_state.note(f"train.iterations grew from {old} to {new}: continuing the run in {out_dir} "
                           f"(its final model of {old} iterations is deleted)")
        before, now = previous.get("world_size", 1), manifest["world_size"]
        if before != now:
            updated["world_size"] = now
            updated["world_size_changes"] = [*previous.get("world_size_changes", []), {
                "resumed_at": resumed[1]["iteration"], "from": before, "to": now}]
            run_state.note(f"continuing the run in {out_dir}, trained so far by {before} process(es), with {now}: "
                           "the same patches and global batches, but not bit-identical to an uninterrupted run")
        if updated != previous:
            write_text(out_dir / MANIFEST, json.dumps(updated, indent=2))
        return resumed
    if run_state.has_run_files(out_dir):
        moved = run_state.move_aside(out_dir)
        run_state.note(f"run folder {out_dir} held a different run (changed: {', '.join(changed)}); moved it to "
                       f"{moved}; training afresh")
    return None


def _start_afresh(out_dir: Path, manifest: dict) -> None:
    """Clear what an attempt killed before its first checkpoint left, then write the manifest."""
    run_state.truncate_logs(out_dir, -1)
    shutil.rmtree(out_dir / run_state.TENSORBOARD_DIR, ignore_errors=True)
    (out_dir / FINAL_MODEL).unlink(missing_ok=True)
    write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2))
    pruning = manifest["pruning"]
    if pruning is not None and pruning["source"] == "measured":
        run_state.append_train_log(out_dir, {"iteration": 0, "event": "pruning", **{
            k: pruning[k] for k in ("kept_per_block", "fraction_pruned", "generator_parameters_before",
                                    "generator_parameters")}})


def _publish(final_path: Path, publish_to, write: bool = True) -> Path:
    """Copy the final model to ``publish_to`` (when given) and return where it is; ``write`` False: only say where
    (the ranks of a data-parallel run but rank 0)."""
    if publish_to is None:
        return final_path
    if write:
        copy_file(final_path, publish_to)
    return Path(publish_to)

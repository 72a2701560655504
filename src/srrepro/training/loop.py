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

Determinism: the seed drives weight init (torch), numpy/python RNGs and the patch sampler's own generator.
The host waits for the device only at log, checkpoint and validation iterations (:mod:`srrepro.training.host_sync`).
On CPU with the same thread count runs are bit-identical. On CUDA cuDNN is set to deterministic algorithms without
benchmarking and ``torch.use_deterministic_algorithms(True, warn_only=True)`` is on, yet some kernels have no
deterministic version and only warn: the bilinear upsampling backward of the UNet discriminator (atomicAdd),
adaptive average pooling backward, and index/scatter-based ops; bf16 autocast changes results too.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from srrepro.atomic import copy_file, write_text
from srrepro.errors import ConfigError
from srrepro.models.checkpoints import save_model
from srrepro.models.pairs import GANPair
from srrepro.models.rrsb_pruning import pruning_stats
from srrepro.models.segmentation_prior import attach_prior_weights
from srrepro.models.spsagan import SPSAGenerator
from srrepro.training import run_state
from srrepro.training.host_sync import LossWindow, to_device
from srrepro.training.initialisation import is_dense, load_init_weights, prune_for_training
from srrepro.training.losses import PERCEPTUAL_LAYERS, PerceptualLoss, perceptual_features
from srrepro.training.manifest import changed_keys, extends, run_manifest
from srrepro.training.patches import PatchSampler, describe_data
from srrepro.training.procedures import PROCEDURES, StepContext
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
                  stop_after: int | None = None, publish_to: str | os.PathLike | None = None) -> Path | None:
    """Train ``variant`` on ``data_dir`` into ``out_dir`` and return the final model file (our checkpoint format).

    ``data_dir``: a prepared folder, a list of them (one pool) or {folder: ratio} (a mixture drawn by ratio; see
    :mod:`srrepro.training.patches`).
    ``asset_options``: ``cache_dir``, ``local_paths`` (asset name → file) for the VGG and segmentation-prior weights,
    ``perceptual_features`` (an nn.Module replacing the VGG extractor, e.g. in tests) and ``provenance`` (recorded in
    the manifest). ``device``: default CUDA when available. ``stop_after``: stop after this iteration without
    finishing, as if killed (for resume tests); returns None then. ``publish_to``: also copy the final model there,
    atomically (the workflow's output), and return that path.
    """
    cfg = resolve_variant(variant)
    train = cfg["train"]
    out_dir = Path(out_dir)
    final_path = out_dir / FINAL_MODEL
    _set_threads_and_determinism(threads)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    _seed_everything(seed)
    nets = build_networks(cfg)
    prior_source = attach_prior_weights(nets.model, asset_options)
    procedure = PROCEDURES[cfg["procedure"]]
    weights = {k: float(v) for k, v in cfg["losses"].items() if not k.endswith("_criterion")}
    perceptual, perceptual_source = None, None
    if weights.get("perceptual"):
        features, perceptual_source = perceptual_features(cfg["perceptual_layer"], asset_options or {})
        perceptual = PerceptualLoss(features, cfg["losses"]["perceptual_criterion"],
                                    PERCEPTUAL_LAYERS[cfg["perceptual_layer"]].imagenet_normalise).to(device)
    sampler = PatchSampler(data_dir, cfg["scale"], train["hr_patch"], seed, train["augment"])
    validator = (Validator(Path(val_dir), cfg["scale"], train["val_metrics"], device, asset_options or {})
                 if val_dir and train["validate_every"] else None)
    memory_format = torch.channels_last if train["channels_last"] else torch.preserve_format

    with run_state.claim(out_dir):
        run_state.remove_stale_temporaries(out_dir, *([Path(publish_to)] if publish_to else []))
        manifest = run_manifest(cfg, seed, threads, device, describe_data(data_dir), val_dir, init_checkpoint,
                                asset_options, perceptual_source, prior_source=prior_source)
        checkpoint, state = _open_run(out_dir, manifest, device) or (None, None)
        start = state["iteration"] if state else 0
        if state is not None:
            nets.model.load_state_dict(state["nets"]["model"])  # before the optimisers: rebuilds pruned blocks
        else:
            prune = cfg["generator"].get("prune", False)
            if prune and not init_checkpoint:
                raise ConfigError("variant key 'generator.prune' needs an init_checkpoint (the unpruned run to prune)")
            fresh = ({k: v.detach().clone() for k, v in nets.model.state_dict().items()}
                     if prune and train["prune_weights"] == "scratch" else None)
            if init_checkpoint:
                load_init_weights(nets, Path(init_checkpoint))
            if prune:
                manifest["pruning"] = prune_for_training(cfg, nets.model, sampler, device, fresh)
            elif isinstance(nets.model, SPSAGenerator) and not is_dense(nets.model):
                manifest["pruning"] = {"source": "init_checkpoint", **pruning_stats(nets.model)}
        nets.model.to(device, memory_format=memory_format)
        if nets.discriminator is not None:
            nets.discriminator.to(device, memory_format=memory_format)
        optimizers, schedulers = _make_optimizers(cfg, nets)

        if state is not None:
            if nets.discriminator is not None and "discriminator" in state["nets"]:
                nets.discriminator.load_state_dict(state["nets"]["discriminator"])
            for key, opt in optimizers.items():
                opt.load_state_dict(state["optimizers"][key])
                schedulers[key].load_state_dict(state["schedulers"][key])
            sampler.load_state_dict(state["sampler"])
            run_state.set_rng_state(state["rng"])
            run_state.truncate_logs(out_dir, start)
            run_state.note(f"resuming from checkpoint {checkpoint} at iteration {start}")
        else:
            _start_afresh(out_dir, manifest)
        if start >= train["iterations"] and final_path.exists():
            return _publish(final_path, publish_to)

        ctx = StepContext(
            nets=nets, opt_g=optimizers["g"], opt_d=optimizers.get("d"), weights=weights,
            pixel_criterion=cfg["losses"]["pixel_criterion"], perceptual=perceptual, procedure=cfg["procedure"],
            autocast=((lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if train["amp"] == "bf16"
                      else nullcontext),
        )

        def save(iteration: int) -> Path:
            modules = {"model": nets.model.state_dict()}
            if nets.discriminator is not None and not isinstance(nets.model, GANPair):
                modules["discriminator"] = nets.discriminator.state_dict()
            return run_state.save_checkpoint(out_dir, iteration, {
                "nets": modules, "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
                "sampler": sampler.state_dict(), "rng": run_state.rng_state()}, train["keep_checkpoints"])

        board = TensorBoardLog(out_dir / run_state.TENSORBOARD_DIR, purge_step=start + 1 if state else None)
        bar = tqdm(total=train["iterations"], initial=start, desc=cfg["procedure"], unit="it", file=sys.stderr,
                   mininterval=10, ascii=True, disable=not progress, dynamic_ncols=False)
        busy, window_count = 0.0, 0  # step time (sampling, G and D steps, the window's host read) since the last record
        loss_window = LossWindow(out_dir, train["iterations"], train["log_every"], train["checkpoint_every"],
                                 train["validate_every"] if validator else 0)
        try:
            for iteration in range(start + 1, train["iterations"] + 1):
                began = time.perf_counter()
                lr, hr = sampler.sample(train["batch_size"])
                lr, hr = to_device(lr, device, memory_format), to_device(hr, device, memory_format)
                values = procedure.step(ctx, lr, hr)
                for scheduler in schedulers.values():
                    scheduler.step()
                scalars = loss_window.add(values, iteration)  # floats + finiteness check at log/checkpoint/validation
                busy += time.perf_counter() - began
                window_count += 1
                last = iteration == train["iterations"]
                if iteration % train["log_every"] == 0 or last:
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
        finally:
            bar.close()
            board.close()
        save_model(nets.model, cfg["generator"]["arch"], generator_options(cfg), final_path)
        return _publish(final_path, publish_to)


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _open_run(out_dir: Path, manifest: dict, device: torch.device) -> tuple[Path, dict] | None:
    """The checkpoint (path, state) to continue from, or None to start afresh.

    ``out_dir`` continues when its manifest describes the same run (:func:`~srrepro.training.manifest.changed_keys`
    is empty) or this run cut shorter (:func:`~srrepro.training.manifest.extends`: only ``train.iterations`` grew;
    the old final model is then deleted and the manifest records the extension). Any other run in it is moved aside
    whole (:func:`~srrepro.training.run_state.move_aside`), so nothing of it mixes into the new one.
    """
    previous = _read_manifest(out_dir / MANIFEST)
    changed = changed_keys(previous, manifest) if previous else ["manifest.json (missing or unreadable)"]
    if previous and (not changed or extends(previous, manifest)):
        resumed = run_state.load_latest_checkpoint(out_dir, device)
        if resumed and changed:
            old, new = previous["variant"]["train"]["iterations"], manifest["variant"]["train"]["iterations"]
            (out_dir / FINAL_MODEL).unlink(missing_ok=True)
            extension = {"from_iterations": old, "resumed_at": resumed[1]["iteration"],
                         "git_commit": manifest["git_commit"]}
            write_text(out_dir / MANIFEST, json.dumps({**previous, "variant": manifest["variant"],
                                                       "extended": [*previous.get("extended", []), extension]},
                                                      indent=2))
            run_state.note(f"train.iterations grew from {old} to {new}: continuing the run in {out_dir} "
                           f"(its final model of {old} iterations is deleted)")
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


def _publish(final_path: Path, publish_to) -> Path:
    if publish_to is None:
        return final_path
    copy_file(final_path, publish_to)
    return Path(publish_to)

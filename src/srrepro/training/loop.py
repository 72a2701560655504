"""The training loop of one variant: PSNR pre-training or a GAN phase, with checkpoints, resume, logs, validation.

``train_variant`` resolves the variant (:mod:`srrepro.training.variant`; the format is ``docs/variant-format.md``),
builds the networks, initialises them (:mod:`srrepro.training.initialisation`), and runs the procedure's steps
(:mod:`srrepro.training.procedures`) on seeded patches (:mod:`srrepro.training.patches`), checkpointing into
``out_dir`` (:mod:`srrepro.training.run_state`) and validating periodically (:mod:`srrepro.training.validation`).

Outputs in ``out_dir``: ``checkpoints/iter_*.pt``, ``train_log.jsonl``, ``val_log.csv`` (iteration, one column per
metric, empty when unavailable, ``unavailable`` with the reasons), ``manifest.json`` and the final ``model.pt``.
For a pruned SPSAGAN generator the manifest's ``pruning`` describes the masks (see docs/variant-format.md), and
``train_log.jsonl`` starts with a record ``{"iteration": 0, "event": "pruning", ...}``.
A run restarted on a folder with a checkpoint continues from it; the result is bit-identical on CPU.

Determinism: the seed drives weight init (torch), numpy/python RNGs and the patch sampler's own generator.
On CPU with the same thread count runs are bit-identical. On CUDA cuDNN is set to deterministic algorithms without
benchmarking and ``torch.use_deterministic_algorithms(True, warn_only=True)`` is on, yet some kernels have no
deterministic version and only warn: the bilinear upsampling backward of the UNet discriminator (atomicAdd),
adaptive average pooling backward, and index/scatter-based ops; bf16 autocast changes results too.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from srrepro.atomic import copy_file, write_text
from srrepro.errors import ConfigError, TrainingDiverged
from srrepro.models.checkpoints import save_model
from srrepro.models.pairs import GANPair
from srrepro.models.rrsb_pruning import pruning_stats
from srrepro.models.spsagan import SPSAGenerator
from srrepro.training import run_state
from srrepro.training.initialisation import is_dense, load_init_weights, prune_for_training
from srrepro.training.losses import PerceptualLoss, perceptual_features
from srrepro.training.manifest import run_manifest
from srrepro.training.patches import PatchSampler
from srrepro.training.procedures import PROCEDURES, StepContext
from srrepro.training.validation import Validator
from srrepro.training.variant import build_networks, generator_options, resolve_variant

FINAL_MODEL = "model.pt"
MANIFEST = "manifest.json"


def _named_generator_parameters(nets: Networks) -> list[tuple[str, nn.Parameter]]:
    if isinstance(nets.model, GANPair):
        return [(n, p) for n, p in nets.model.named_parameters() if not n.startswith("discriminator.")]
    return list(nets.model.named_parameters())


def _make_optimizers(cfg: dict, nets: Networks):
    train = cfg["train"]
    adam = {"betas": tuple(train["betas"]), "weight_decay": train["weight_decay"]}
    groups: dict[float, list] = {}
    for name, param in _named_generator_parameters(nets):
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


def _check_finite(values: dict[str, torch.Tensor], iteration: int, out_dir: Path) -> None:
    if bool(torch.stack([v.float() for v in values.values()]).isfinite().all()):
        return
    term = next(k for k, v in values.items() if not torch.isfinite(v).all())
    last = run_state.latest_checkpoint(out_dir)
    raise TrainingDiverged(f"loss term '{term}' is {values[term].item()} at iteration {iteration}; last good "
                           f"checkpoint: {last if last else 'none'}; lower the learning rate or check the data")


def train_variant(variant: dict, data_dir, out_dir, *, seed: int, threads: int, val_dir=None, init_checkpoint=None,
                  asset_options: dict | None = None, progress: bool = True, device: str | None = None,
                  stop_after: int | None = None, publish_to: str | os.PathLike | None = None) -> Path | None:
    """Train ``variant`` on ``data_dir`` into ``out_dir`` and return the final model file (our checkpoint format).

    ``asset_options``: ``cache_dir``, ``local_paths`` (asset name → file) for the VGG weights,
    ``perceptual_features`` (an nn.Module replacing the VGG extractor, e.g. in tests) and ``provenance`` (recorded in
    the manifest). ``device``: default CUDA when available. ``stop_after``: stop after this iteration without
    finishing, as if killed (for resume tests); returns None then. ``publish_to``: also copy the final model there,
    atomically (the workflow's output), and return that path.
    """
    cfg = resolve_variant(variant)
    train = cfg["train"]
    out_dir, data_dir = Path(out_dir), Path(data_dir)
    final_path = out_dir / FINAL_MODEL
    _set_threads_and_determinism(threads)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    _seed_everything(seed)
    nets = build_networks(cfg)
    procedure = PROCEDURES[cfg["procedure"]]
    weights = {k: float(v) for k, v in cfg["losses"].items() if k != "pixel_criterion"}
    perceptual, perceptual_source = None, None
    if weights.get("perceptual"):
        features, perceptual_source = perceptual_features(cfg["perceptual_layer"], asset_options or {})
        perceptual = PerceptualLoss(features).to(device)
    sampler = PatchSampler(data_dir, cfg["scale"], train["hr_patch"], seed, train["augment"])
    validator = (Validator(Path(val_dir), cfg["scale"], train["val_metrics"], device, asset_options or {})
                 if val_dir and train["validate_every"] else None)
    memory_format = torch.channels_last if train["channels_last"] else torch.preserve_format

    start, state, pruning = 0, None, None
    latest = run_state.latest_checkpoint(out_dir)
    manifest_path = out_dir / MANIFEST
    if latest is not None:
        previous = json.loads(manifest_path.read_text())
        if previous["variant"] != json.loads(json.dumps(cfg)) or previous["seed"] != seed:
            raise ConfigError(f"out_dir {out_dir} holds a run of a different variant or seed; use a new folder")
        state = run_state.load_checkpoint(latest, device)
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
            pruning = prune_for_training(cfg, nets.model, sampler, device, fresh)
        elif isinstance(nets.model, SPSAGenerator) and not is_dense(nets.model):
            pruning = {"source": "init_checkpoint", **pruning_stats(nets.model)}
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
        start = state["iteration"]
        run_state.truncate_logs(out_dir, start)
        print(f"resuming from checkpoint {latest} at iteration {start}", file=sys.stderr, flush=True)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        run_state.truncate_logs(out_dir, -1)  # records of an attempt killed before its first checkpoint
        write_text(manifest_path, json.dumps(run_manifest(cfg, seed, threads, device, data_dir, val_dir, init_checkpoint,
                                                       asset_options, perceptual_source, pruning), indent=2))
        if pruning is not None and pruning["source"] == "measured":
            run_state.append_train_log(out_dir, {"iteration": 0, "event": "pruning", **{
                k: pruning[k] for k in ("kept_per_block", "fraction_pruned", "generator_parameters_before",
                                        "generator_parameters")}})
    if start >= train["iterations"] and final_path.exists():
        return _publish(final_path, publish_to)

    ctx = StepContext(
        nets=nets, opt_g=optimizers["g"], opt_d=optimizers.get("d"), weights=weights,
        pixel_criterion=cfg["losses"]["pixel_criterion"], perceptual=perceptual, procedure=cfg["procedure"],
        autocast=(lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if train["amp"] == "bf16" else nullcontext,
    )

    def save(iteration: int) -> Path:
        modules = {"model": nets.model.state_dict()}
        if nets.discriminator is not None and not isinstance(nets.model, GANPair):
            modules["discriminator"] = nets.discriminator.state_dict()
        return run_state.save_checkpoint(out_dir, iteration, {
            "nets": modules, "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
            "sampler": sampler.state_dict(), "rng": run_state.rng_state()}, train["keep_checkpoints"])

    bar = tqdm(total=train["iterations"], initial=start, desc=cfg["procedure"], unit="it", file=sys.stderr,
               mininterval=10, ascii=True, disable=not progress, dynamic_ncols=False)
    busy, window_count = 0.0, 0  # step time (sampling, G and D steps, the finiteness sync) since the last record
    for iteration in range(start + 1, train["iterations"] + 1):
        began = time.perf_counter()
        lr, hr = sampler.sample(train["batch_size"])
        lr = lr.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        hr = hr.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        values = procedure.step(ctx, lr, hr)
        for scheduler in schedulers.values():
            scheduler.step()
        _check_finite(values, iteration, out_dir)
        busy += time.perf_counter() - began
        window_count += 1
        last = iteration == train["iterations"]
        if iteration % train["log_every"] == 0 or last:
            record = {"iteration": iteration, "seconds_per_iteration": busy / window_count,
                      **{f"lr_{k}": opt.param_groups[0]["lr"] for k, opt in optimizers.items()},
                      **{k: v.item() for k, v in values.items()}}
            run_state.append_train_log(out_dir, record)
            bar.set_postfix({"g": f"{record['g/total']:.4g}"}, refresh=False)
            busy, window_count = 0.0, 0
        if validator and (iteration % train["validate_every"] == 0 or last):
            run_state.append_val_log(out_dir, validator(nets.model, iteration))
        if iteration % train["checkpoint_every"] == 0 or last:
            save(iteration)
        bar.update(1)
        if stop_after is not None and iteration >= stop_after:
            bar.close()
            return None
    bar.close()
    save_model(nets.model, cfg["generator"]["arch"], generator_options(cfg), final_path)
    if train["keep_checkpoints"] == 0:
        run_state.remove_checkpoints(out_dir)
    return _publish(final_path, publish_to)


def _publish(final_path: Path, publish_to) -> Path:
    if publish_to is None:
        return final_path
    copy_file(final_path, publish_to)
    return Path(publish_to)

"""GPU readiness: paper-scale training iterations and inference on one CUDA GPU, within a time budget (~7 minutes).

Training. For each variant (default: FASRGAN, Fs-SRGAN, FA+Fs-SRGAN and ESRGAN of config/paper.yaml, with the
networks, batch and patch configured there) the library's own training iteration runs: a PatchSampler batch, its
pinned copy to the GPU and the loop's loss window (srrepro.training.host_sync), the procedure's step
(srrepro.training.procedures: G step and D step with the perceptual loss), the learning-rate schedulers;
optimisers and determinism settings are the loop's own. Four modes:

    fp32                 the configured precision (PyTorch runs fp32 convolutions in TF32 on CUDA by default)
    bf16                 bf16 autocast                                   (train.amp: bf16)
    bf16_channels_last   bf16 autocast and channels_last                 (train.channels_last: true)
    compile              bf16 + channels_last, torch.compile of E, G, D and the perceptual network

Each mode warms up (the first iterations pick kernels, or compile), times one iteration to size its window, then
times a window of at least --min-iters iterations lasting about --window seconds; torch.cuda.synchronize() runs
only before and after a timed window. Reported: iterations/s, seconds/iteration, speed-up over fp32 measured in the
same run, peak GPU memory (warm-up and window), and achieved TFLOP/s (FLOPs per iteration from srrepro.planning).
The perceptual network (VGG19 to conv5_4 at paper scale) has random weights: timing does not depend on them.

Inference. The 23-RRDB generator on an Urban100-sized image (LR 256x192 -> HR 1024x768) through
srrepro.inference.upscale (upload, forward, download), fp32 and bf16 autocast: seconds per image.

Budget. Inference first, then the eager modes of every variant, then torch.compile per variant while the remaining
budget exceeds 1.3 x the longest compile seen so far + 20 s (a skipped mode says why). --budget (default 400 s)
bounds the timed work; start-up and the FLOP counts add about half a minute, so a run takes under 8 minutes.

    python bench/bench_gpu.py bench/results/h100_sxm            # writes bench/results/h100_sxm.json and .txt
    python bench/bench_gpu.py /tmp/dry --cpu                     # a tiny CPU dry run of this script (config.yaml)

Without a CUDA GPU it refuses to run, unless --cpu is given.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import make_dataset, table  # noqa: E402

from srrepro.atomic import write_text  # noqa: E402
from srrepro.inference import upscale  # noqa: E402
from srrepro.models import build_model  # noqa: E402
from srrepro.models.backbones import VGGFeatures  # noqa: E402
from srrepro.planning import step_flops, step_signature  # noqa: E402
from srrepro.training.host_sync import LossWindow, to_device  # noqa: E402
from srrepro.training.loop import _make_optimizers, _set_threads_and_determinism  # noqa: E402  (the loop's own)
from srrepro.training.losses import PERCEPTUAL_LAYERS, perceptual_loss  # noqa: E402
from srrepro.training.patches import PatchSampler  # noqa: E402
from srrepro.training.procedures import PROCEDURES, Networks, loss_weights, step_context  # noqa: E402
from srrepro.training.variant import WORKFLOW_KEYS, build_networks, resolve_variant  # noqa: E402

VARIANTS = ["fasrgan", "fs_srgan", "fa_fs_srgan", "esrgan"]
EAGER_MODES = {"fp32": ("fp32", False), "bf16": ("bf16", False), "bf16_channels_last": ("bf16", True)}
COMPILE_MODE = "compile"  # on top of bf16_channels_last
INFERENCE = {"generator": {"arch": "rrdbnet", "nf": 64, "nb": 23, "gc": 32}, "lr_size": (192, 256)}  # (H, W)
DRY_INFERENCE = {"generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8}, "lr_size": (24, 32)}
FIRST_COMPILE_GUESS_S = 120.0  # before any compile was seen: what one is expected to take (23-RRDB G + D + VGG)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


class Trainer:
    """One variant in one mode: the training loop's per-iteration work, without logging or checkpoints."""

    def __init__(self, cfg: dict, data: Path, device: torch.device, features: nn.Module, log_dir: Path,
                 compile_backend: str | None):
        torch.manual_seed(0)
        train = cfg["train"]
        self.cfg, self.device, self.iteration = cfg, device, 0
        self.memory_format = torch.channels_last if train["channels_last"] else torch.preserve_format
        nets = build_networks(cfg)
        nets.model.to(device, memory_format=self.memory_format)
        if nets.discriminator is not None:
            nets.discriminator.to(device, memory_format=self.memory_format)
        optimizers, self.schedulers = _make_optimizers(cfg, nets)
        perceptual = perceptual_loss(cfg, copy.deepcopy(features)).to(device) if loss_weights(cfg).get("perceptual") \
            else None
        if compile_backend:
            def compiled(module):
                return module if module is None or isinstance(module, nn.Identity) else \
                    torch.compile(module, backend=compile_backend)
            nets = Networks(nets.model, compiled(nets.extractor), compiled(nets.trunk), compiled(nets.discriminator))
            if perceptual is not None:
                perceptual.features = compiled(perceptual.features)
        self.ctx = step_context(cfg, nets, optimizers["g"], optimizers.get("d"), perceptual, device)
        self.step = PROCEDURES[cfg["procedure"]].step
        self.sampler = PatchSampler(data, cfg["scale"], train["hr_patch"], 0, train["augment"])
        self.window = LossWindow(log_dir, -1, train["log_every"], train["checkpoint_every"])

    def iterate(self, count: int) -> None:
        batch = self.cfg["train"]["batch_size"]
        for _ in range(count):
            self.iteration += 1
            lr, hr = self.sampler.sample(batch)
            lr, hr = to_device(lr, self.device, self.memory_format), to_device(hr, self.device, self.memory_format)
            values = self.step(self.ctx, lr, hr)
            for scheduler in self.schedulers.values():
                scheduler.step()
            self.window.add(values, self.iteration)

    def seconds_per_iteration(self, count: int) -> float:
        sync(self.device)
        began = time.perf_counter()
        self.iterate(count)
        sync(self.device)
        return (time.perf_counter() - began) / count


class Budget:
    """The deadline of the timed work and how windows are sized within it."""

    def __init__(self, seconds: float, window: float, min_iters: int, max_iters: int, warmup: int):
        self.deadline = time.perf_counter() + seconds
        self.window, self.min_iters, self.max_iters, self.warmup = window, min_iters, max_iters, warmup

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def iterations(self, probe: float) -> int:
        wanted = math.ceil(self.window / max(probe, 1e-9))
        affordable = int(max(self.left() - 5.0, 0.0) / max(probe, 1e-9))
        return max(self.min_iters, min(wanted, self.max_iters, affordable))


def run_mode(cfg: dict, data: Path, device: torch.device, features: nn.Module, budget: Budget,
             compile_backend: str | None) -> dict:
    """Warm-up, one probe iteration, one timed window; seconds, memory, or the error that stopped it."""
    reset_memory(device)
    trainer = None
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            began = time.perf_counter()
            trainer = Trainer(cfg, data, device, features, Path(log_dir), compile_backend)
            trainer.iterate(budget.warmup)
            sync(device)
            warmup = time.perf_counter() - began
            count = budget.iterations(trainer.seconds_per_iteration(1))
            seconds = trainer.seconds_per_iteration(count)
        return {"seconds_per_iteration": seconds, "iterations_per_second": 1 / seconds, "iterations_timed": count,
                "warmup_iterations": budget.warmup, "warmup_seconds": warmup, "peak_memory_gib": peak_gib(device)}
    except Exception as err:  # recorded, and the other modes still run
        traceback.print_exc()
        if isinstance(err, torch.OutOfMemoryError):
            return {"error": f"out of GPU memory (peak {peak_gib(device):.1f} GiB before the failure)"}
        return {"error": f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"}
    finally:
        del trainer
        reset_memory(device)


def run_inference(device: torch.device, spec: dict, budget: Budget) -> dict:
    """Seconds per image of srrepro.inference.upscale on an LR image of spec['lr_size'], fp32 and bf16 autocast."""
    torch.manual_seed(0)
    model = build_model(**spec["generator"])
    image = np.random.default_rng(0).integers(0, 256, (*spec["lr_size"], 3), dtype=np.uint8)
    modes = {}
    for mode in ("fp32", "bf16"):
        reset_memory(device)

        def run(count: int, amp: str = mode) -> float:
            sync(device)
            began = time.perf_counter()
            for _ in range(count):
                upscale(model, image, device=device, amp=amp)  # the pipeline's own inference, fp32 or bf16 autocast
            sync(device)
            return (time.perf_counter() - began) / count

        run(budget.warmup)
        count = budget.iterations(run(1))
        modes[mode] = {"seconds_per_image": run(count), "runs_timed": count, "peak_memory_gib": peak_gib(device)}
    model.cpu()
    reset_memory(device)
    return {"generator": spec["generator"], "lr_size_hw": list(spec["lr_size"]),
            "hr_size_hw": [s * 4 for s in spec["lr_size"]], "modes": modes}


def speedups(modes: dict, key: str) -> None:
    """Add ``speedup_vs_fp32`` (fp32 time / mode time) to every timed mode."""
    reference = modes.get("fp32", {}).get(key)
    for timing in modes.values():
        if reference and timing.get(key):
            timing["speedup_vs_fp32"] = reference / timing[key]


def format_report(result: dict) -> str:
    def cell(value, fmt):
        return "-" if value is None else format(value, fmt)

    lines = [f"bench_gpu on {result['device']} ({'DRY RUN, ' if result['dry_run'] else ''}torch {result['torch']}, "
             f"CUDA {result['cuda']}, cuDNN {result['cudnn']}); configuration {result['config']}; "
             f"{result['elapsed_seconds']:.0f} s of timed work (budget {result['budget_seconds']:.0f} s)",
             "Training: the library's iteration (sampling, pinned copy, G and D steps, perceptual loss with random "
             "VGG weights, schedulers, loss window); cuDNN deterministic as in training.", ""]
    for step in result["training"]:
        rows = []
        for mode, t in step["modes"].items():
            if "seconds_per_iteration" not in t:
                rows.append([mode, t.get("skipped") or t.get("error"), "", "", "", "", ""])
                continue
            rows.append([mode, f"{t['iterations_per_second']:.2f}", f"{t['seconds_per_iteration']:.4f}",
                         f"{t.get('speedup_vs_fp32', float('nan')):.2f}x", cell(t["peak_memory_gib"], ".1f"),
                         cell(t.get("achieved_tflops"), ".1f"),
                         f"{t['iterations_timed']} (+{t['warmup_iterations']} warm-up, {t['warmup_seconds']:.0f} s)"])
        lines += [f"{step['variant']}: procedure {step['procedure']}, generator {step['generator']['arch']}, "
                  f"perceptual {step['perceptual_layer']}, batch "
                  f"{step['batch_size']}, HR patch {step['hr_patch']}, "
                  f"{cell(step['flops_per_iteration'] and step['flops_per_iteration'] / 1e12, '.2f')} TFLOP/iteration",
                  table(["mode", "it/s", "s/it", "vs fp32", "peak GiB", "TFLOP/s", "iterations timed"], rows), ""]
    inference = result["inference"]
    lines.append(f"Inference: {inference['generator']}, LR {inference['lr_size_hw'][1]}x{inference['lr_size_hw'][0]} "
                 f"-> HR {inference['hr_size_hw'][1]}x{inference['hr_size_hw'][0]} (srrepro.inference.upscale)")
    lines.append(table(["precision", "s/image", "vs fp32", "peak GiB", "runs timed"],
                       [[mode, f"{t['seconds_per_image']:.4f}", f"{t.get('speedup_vs_fp32', float('nan')):.2f}x",
                         cell(t["peak_memory_gib"], ".2f"), t["runs_timed"]]
                        for mode, t in inference["modes"].items()]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output path without suffix: OUT.json and OUT.txt are written")
    parser.add_argument("--configfile", help="workflow configuration (default config/paper.yaml; --cpu: config.yaml)")
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--budget", type=float, default=400.0, help="seconds of timed work (default %(default)s)")
    parser.add_argument("--window", type=float, default=5.0, help="seconds per timed window (default %(default)s)")
    parser.add_argument("--min-iters", type=int, default=10)
    parser.add_argument("--max-iters", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=3, help="warm-up iterations per mode (default %(default)s)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile mode")
    parser.add_argument("--cpu", action="store_true",
                        help="tiny dry run on the CPU that checks this script (demo networks, batch 2, 2 timed "
                             "iterations, torch.compile with the 'eager' backend); its numbers mean nothing")
    args = parser.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU is available (torch.cuda.is_available() is False); run it on a GPU machine, "
              "or pass --cpu for a tiny dry run of the script", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.cpu else "cuda")
    configfile = Path(args.configfile or ("config.yaml" if args.cpu else "config/paper.yaml"))
    config = yaml.safe_load(configfile.read_text())
    unknown = [v for v in args.variants if v not in config["variants"]]
    if unknown:
        print(f"bench_gpu: variant '{unknown[0]}' is not in {configfile}; its variants: "
              f"{', '.join(config['variants'])}", file=sys.stderr)
        return 2
    if args.cpu:  # every mode runs, however slow the machine: no budget
        args.window, args.min_iters, args.warmup, args.budget = 0.0, 2, 1, 1e6
    _set_threads_and_determinism(1 if args.cpu else config.get("threads_per_job", 8))
    budget = Budget(args.budget, args.window, args.min_iters, args.max_iters, args.warmup)
    backend = "eager" if args.cpu else "inductor"

    started = time.perf_counter()
    steps = []
    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(Path(tmp) / "data")
        inference = run_inference(device, DRY_INFERENCE if args.cpu else INFERENCE, budget)
        speedups(inference["modes"], "seconds_per_image")
        for name in args.variants:
            spec = {k: v for k, v in config["variants"][name].items() if k not in WORKFLOW_KEYS}
            cfg = resolve_variant({"scale": config["scale"], **spec}, key=f"variants.{name}")
            if args.cpu:
                cfg["train"]["batch_size"] = min(cfg["train"]["batch_size"], 2)
            layer = PERCEPTUAL_LAYERS[cfg["perceptual_layer"]]
            features = VGGFeatures(layer.arch).features[:layer.stop].eval()  # random weights: timing is the same
            modes = {}
            for mode, (amp, channels_last) in EAGER_MODES.items():
                mode_cfg = {**cfg, "train": {**cfg["train"], "amp": amp, "channels_last": channels_last}}
                modes[mode] = (run_mode(mode_cfg, data, device, features, budget, None) if budget.left() > 10
                               else {"skipped": "time budget spent"})
                print(f"{name} {mode}: {modes[mode]}", file=sys.stderr, flush=True)
            steps.append({"variant": name, "signature": step_signature(cfg), "procedure": cfg["procedure"],
                          "generator": cfg["generator"], "discriminator": cfg.get("discriminator"),
                          "perceptual_layer": cfg["perceptual_layer"],
                          "batch_size": cfg["train"]["batch_size"], "hr_patch": cfg["train"]["hr_patch"],
                          "modes": modes, "_cfg": cfg, "_features": features})
        compiles: list[float] = []  # warm-up seconds of the compiled modes so far
        for step in steps:
            cfg = {**step["_cfg"], "train": {**step["_cfg"]["train"], "amp": "bf16", "channels_last": True}}
            expected = max(compiles, default=FIRST_COMPILE_GUESS_S)
            if args.no_compile:
                step["modes"][COMPILE_MODE] = {"skipped": "--no-compile"}
            elif budget.left() < 1.3 * expected + 20:  # a compile cannot be interrupted: start one only with room
                step["modes"][COMPILE_MODE] = {"skipped": f"time budget: {budget.left():.0f} s left, a compile is "
                                                          f"expected to take {expected:.0f} s"}
            else:
                torch._dynamo.reset()
                timing = run_mode(cfg, data, device, step["_features"], budget, backend)
                compiles.append(timing.get("warmup_seconds", expected))
                step["modes"][COMPILE_MODE] = {**timing, "backend": backend}
            print(f"{step['variant']} {COMPILE_MODE}: {step['modes'][COMPILE_MODE]}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    for step in steps:  # FLOPs per iteration (CPU, meta device), outside the timed budget
        cfg = step.pop("_cfg")
        del step["_features"]
        step["flops_per_iteration"] = step_flops(cfg)
        for timing in step["modes"].values():
            if "seconds_per_iteration" in timing:
                timing["achieved_tflops"] = step["flops_per_iteration"] / timing["seconds_per_iteration"] / 1e12
        speedups(step["modes"], "seconds_per_iteration")
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "dry_run": args.cpu, "torch": torch.__version__, "cuda": torch.version.cuda,
              "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
              "config": str(configfile), "budget_seconds": args.budget, "elapsed_seconds": elapsed,
              "training": steps, "inference": inference}
    report = format_report(result)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text(Path(f"{args.out}.json"), json.dumps(result, indent=2) + "\n")
    write_text(Path(f"{args.out}.txt"), report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

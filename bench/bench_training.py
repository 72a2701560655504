"""Training throughput of every procedure, and the overhead of our training step against a plain PyTorch loop.

1. Iterations/s of ``train_variant`` for every procedure at demo scale (steady-state seconds per iteration from
   ``train_log.jsonl``: data sampling, G and D steps, the NaN check; checkpoint writing excluded).
2. Overhead: the same model, batch and losses trained by a minimal hand-written loop in this file (pre-sampled batch,
   no logging, no checks), measured in the same process, alternating with ours; ``ratio`` = ours / plain (goal ≤ 1.05).
3. With CUDA: paper-scale FASRGAN (23 RRDBs, UNet D, VGG19 conv5_4 perceptual; batch 16, HR 128) in fp32, bf16
   autocast and bf16 + channels_last: iterations/s, speed-up over fp32 and peak GPU memory.

The perceptual extractor is the cached VGG16 (``.cache/assets``) when available, else a randomly initialised VGG of
the same shape: timings do not depend on the weights. Default runtime about 3 minutes on 2 CPU cores.

    python bench/bench_training.py [--iters 2] [--batch 4] [--hr-patch 64] [--threads 2] [--procedures ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from srrepro.models.backbones import VGGFeatures, vgg_features
from srrepro.training import train_variant
from srrepro.training.losses import IMAGENET_MEAN, IMAGENET_STD
from srrepro.training.variant import build_networks, resolve_variant

RRDB = {"nf": 32, "nb": 3, "gc": 16}  # the demo configuration's generator widths


def demo_variants(hr: int) -> dict[str, dict]:
    return {
        "psnr": {"procedure": "psnr", "generator": {"arch": "rrdbnet", **RRDB}},
        "esrgan": {"procedure": "ragan", "generator": {"arch": "rrdbnet", **RRDB},
                   "discriminator": {"arch": "vgg128", "nf": 16, "input_size": hr}},
        "fasrgan": {"procedure": "ragan_fa", "generator": {"arch": "rrdbnet_unet", **RRDB, "d_nf": 16, "d_input_size": hr}},
        "fs_srgan": {"procedure": "ragan", "generator": {"arch": "fs_rrdbnet_vgg", "split": "E1G2", "nf": 32, "gc": 16, "d_nf": 16,
                                   "d_input_size": hr}},
        "fa_fs_srgan": {"procedure": "ragan_fa", "generator": {"arch": "fs_rrdbnet_unet", "split": "E1G2", "nf": 32, "gc": 16, "d_nf": 16,
                                      "d_input_size": hr}},
        "srgan": {"procedure": "bce", "generator": {"arch": "srresnet", "nf": 32, "nb": 4},
                  "discriminator": {"arch": "srgan_d", "nf": 16, "input_size": hr}},
        "srgan_fa": {"procedure": "bce_fa", "generator": {"arch": "srresnet_unet", "nf": 32, "nb": 4, "d_nf": 16, "d_input_size": hr}},
        "srgan_fs": {"procedure": "bce", "generator": {"arch": "fs_srresnet", "nf": 32, "nb": 3, "d_nf": 16, "d_input_size": hr}},
        "wu": {"procedure": "leftthomas", "generator": {"arch": "attention_srgan", "nf": 32, "nb": 2},
               "discriminator": {"arch": "srgan_leftthomas_d", "nf": 16}},
        "spsagan": {"procedure": "ragan", "generator": {"arch": "spsagan", **RRDB},
                    "discriminator": {"arch": "vgg128", "nf": 16, "input_size": hr}},
    }


def make_dataset(root: Path, count: int = 4, size: int = 256) -> Path:
    rng = np.random.default_rng(0)
    (root / "HR").mkdir(parents=True)
    (root / "LR_x4").mkdir()
    for i in range(count):
        hr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(hr).save(root / "HR" / f"{i}.png")
        Image.fromarray(hr[::4, ::4]).save(root / "LR_x4" / f"{i}.png")
    return root


def vgg(arch: str, stop: int) -> tuple[torch.nn.Module, str]:
    cached = Path(".cache/assets/vgg16_features.pt")
    if arch == "vgg16" and cached.is_file():
        return vgg_features("vgg16", cached).features[:stop], "VGG16 (cached weights)"
    return VGGFeatures(arch).features[:stop].eval(), f"{arch.upper()} (random weights, timing only)"


def ours(spec: dict, data: Path, iters: int, threads: int, features, device: str = "cpu") -> float:
    """Steady-state seconds per iteration of train_variant (second log window of ``iters`` iterations)."""
    spec = {**spec, "train": {**spec["train"], "iterations": 2 * iters, "log_every": iters,
                              "checkpoint_every": 2 * iters, "validate_every": 0}}
    with tempfile.TemporaryDirectory() as out:
        train_variant(spec, data, out, seed=0, threads=threads, progress=False, device=device,
                      asset_options={"perceptual_features": features})
        records = [json.loads(line) for line in (Path(out) / "train_log.jsonl").read_text().splitlines()]
    return records[-1]["seconds_per_iteration"]


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def plain_fasrgan(spec: dict, features, iters: int) -> float:
    """Seconds per iteration of a minimal FASRGAN loop (Eq. 9 generator, RaGAN + map discriminator)."""
    cfg = resolve_variant(spec)
    torch.manual_seed(0)
    nets = build_networks(cfg)
    g, d = nets.model.generator_trunk, nets.model.discriminator
    w, t = cfg["losses"], cfg["train"]
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.9, 0.999))
    for p in features.parameters():
        p.requires_grad_(False)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    hr = torch.rand(t["batch_size"], 3, t["hr_patch"], t["hr_patch"])
    lr = F.avg_pool2d(hr, 4)

    def iteration():
        sr = g(lr)
        for p in d.parameters():
            p.requires_grad_(False)
        c_f, m_f = d(sr)
        with torch.no_grad():
            c_r, _ = d(hr)
            real_features = features((hr - mean) / std)
        perceptual = F.l1_loss(features((sr - mean) / std), real_features)
        gan = (_bce(c_r - c_f.mean(), 0.0) + _bce(c_f - c_r.mean(), 1.0)) / 2
        attention = ((sr - hr).abs() * (1 - torch.sigmoid(m_f.detach()))).mean()
        loss_g = (perceptual + w["gan"] * gan + w["map"] * _bce(m_f, 1.0) / 2 + w["attention"] * attention
                  + w["pixel"] * F.l1_loss(sr, hr))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for p in d.parameters():
            p.requires_grad_(True)
        (c_r, m_r), (c_f, m_f) = d(hr), d(sr.detach())
        loss_d = ((_bce(c_r - c_f.mean(), 1.0) + _bce(c_f - c_r.mean(), 0.0)) / 2
                  + (_bce(m_r, 1.0) + _bce(m_f, 0.0)) / 2)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

    for _ in range(iters):
        iteration()
    began = time.perf_counter()
    for _ in range(iters):
        iteration()
    return (time.perf_counter() - began) / iters


def table(headers: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def paper_scale_amp(data: Path, iters: int, device: str = "cuda", batch: int = 16, hr: int = 128,
                    nb: int = 23) -> list[list]:
    """fp32 vs bf16 autocast vs bf16 + channels_last for paper-scale FASRGAN."""
    features, _ = vgg("vgg19", 35)
    base = {"procedure": "ragan_fa", "generator": {"arch": "rrdbnet_unet", "nb": nb, "d_input_size": hr},
            "train": {"batch_size": batch, "hr_patch": hr}}
    rows, reference = [], None
    for label, amp, channels_last in (("fp32", "fp32", False), ("bf16 autocast", "bf16", False),
                                      ("bf16 + channels_last", "bf16", True)):
        spec = {**base, "train": {**base["train"], "amp": amp, "channels_last": channels_last}}
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds = ours(spec, data, iters, 1, features, device)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
        reference = reference or seconds
        rows.append([label, f"{1 / seconds:.2f}", f"{reference / seconds:.2f}x", f"{peak:.1f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=2, help="timed iterations (after as many warm-up ones)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--hr-patch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating ours/plain rounds of the overhead test")
    parser.add_argument("--procedures", nargs="*", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    features, source = vgg("vgg16", 29)
    variants = demo_variants(args.hr_patch)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(Path(tmp) / "data")
        train = {"batch_size": args.batch, "hr_patch": args.hr_patch}
        specs = {name: {**spec, "perceptual_layer": "vgg16_conv5_3", "train": train}
                 for name, spec in variants.items() if args.procedures is None or name in args.procedures}
        print(f"CPU, {args.threads} threads, batch {args.batch}, HR patch {args.hr_patch}, perceptual: {source}\n")
        rows = []
        for name, spec in specs.items():
            seconds = ours(spec, data, args.iters, args.threads, features)
            rows.append([name, spec["generator"]["arch"], f"{seconds * 1000:.0f}", f"{1 / seconds:.2f}"])
        print(table(["procedure", "generator arch", "ms/it", "it/s"], rows))

        spec = {**variants["fasrgan"], "perceptual_layer": "vgg16_conv5_3", "train": train}
        timings = {"ours": [], "plain": []}
        for _ in range(args.rounds):
            timings["ours"].append(ours(spec, data, args.iters, args.threads, features))
            timings["plain"].append(plain_fasrgan(spec, features, args.iters))
        best = {k: min(v) for k, v in timings.items() if v}
        if best:
            print("\nOverhead of our FASRGAN step vs a plain PyTorch loop (best of "
                  f"{args.rounds} alternating rounds):\n")
            print(table(["loop", "ms/it", "ratio to plain"],
                        [[k, f"{v * 1000:.0f}", f"{v / best['plain']:.3f}"] for k, v in best.items()]))
        if torch.cuda.is_available():
            print("\nCUDA, paper-scale FASRGAN (batch 16, HR 128, 23 RRDBs, UNet D, VGG19 perceptual):\n")
            print(table(["precision", "it/s", "speed-up", "peak GiB"], paper_scale_amp(data, max(args.iters, 5))))


if __name__ == "__main__":
    main()

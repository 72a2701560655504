"""Forward+backward throughput of every generator and discriminator, at demo and paper scale.

Each row reports the median ms per iteration and images/s; ``vs naive`` divides the time of a plain RRDBNet written directly in
this file (same widths, depth and input, measured in the same run) by the row's time, for the RRDB-based rows
(> 1: faster than the naive version). Default settings finish in about 3 minutes on 2 CPU cores.

A last line times SPSAGAN's attention layer at inference on a ``--spsa-lr``-sized LR image (128: the demo's
astronaut): the layer's own row-chunked computation against the whole (N, N) matrices (the reference, same run).

    python bench/bench_models.py [--scales demo paper] [--devices cpu cuda] [--iters 3] [--channels-last] [--bf16]
                                 [--spsa-lr 128]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.models import build_model
from srrepro.models.spsagan import SPSALayer

# name, arch, demo options, paper options, input (channels, demo size, paper size), naive-RRDB widths or None
GENERATORS = [
    ("rrdbnet (ESRGAN/FASRGAN G)", "rrdbnet", {"nf": 32, "nb": 3, "gc": 16}, {}, (3, 16, 24), "nb"),
    ("Fs-SRGAN G (E1G16)", "fs_rrdbnet_vgg", {"split": "E1G2", "nf": 32, "gc": 16, "d_nf": 8, "d_input_size": 64}, {}, (3, 16, 24), "fs"),
    ("FA+Fs-SRGAN G (E2G15)", "fs_rrdbnet_unet", {"split": "E2G1", "nf": 32, "gc": 16, "d_nf": 8, "d_input_size": 32}, {},
     (3, 16, 24), "fs"),
    ("spsagan G", "spsagan", {"nf": 32, "nb": 3, "gc": 16}, {}, (3, 16, 24), "nb"),
    ("srresnet", "srresnet", {"nf": 32, "nb": 4}, {}, (3, 16, 24), None),
    ("SRGAN_Fs G", "fs_srresnet", {"nf": 32, "shared_blocks": 1, "nb": 3, "d_nf": 8, "d_input_size": 32}, {}, (3, 16, 24), None),
    ("srgan_leftthomas_g", "srgan_leftthomas_g", {"nf": 32, "nb": 2}, {}, (3, 16, 24), None),
    ("attention_srgan", "attention_srgan", {"nf": 32, "nb": 2}, {}, (3, 16, 24), None),
]
DISCRIMINATORS = [
    ("vgg128", "vgg128", {"nf": 16, "input_size": 32}, {}, (3, 32, 128), None),
    ("vgg192 on E features", "vgg192", {"in_nc": 32, "nf": 16, "input_size": 64}, {"in_nc": 64}, (None, 64, 192), None),
    ("unet_fa", "unet_fa", {"nf": 16, "input_size": 32}, {}, (3, 32, 128), None),
    ("unet_fa on E features", "unet_fa", {"in_nc": 32, "nf": 16, "input_size": 32}, {"in_nc": 64}, (None, 32, 128), None),
    ("srgan_d", "srgan_d", {"nf": 16, "input_size": 32}, {}, (3, 32, 96), None),
    ("srgan_leftthomas_d", "srgan_leftthomas_d", {"nf": 16}, {}, (3, 32, 96), None),
]


class NaiveDenseBlock(nn.Module):
    """Five convs with explicit concatenations, written out layer by layer."""

    def __init__(self, nf, gc):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        x1 = self.act(self.conv1(x))
        x2 = self.act(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.act(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.act(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1)) * 0.2 + x


class NaiveRRDBNet(nn.Module):
    """Straightforward RRDBNet: the reference the library's version is timed against."""

    def __init__(self, in_nc, nf, nb, gc):
        super().__init__()
        self.first = nn.Conv2d(in_nc, nf, 3, 1, 1)
        self.rrdbs = nn.ModuleList(nn.ModuleList(NaiveDenseBlock(nf, gc) for _ in range(3)) for _ in range(nb))
        self.trunk = nn.Conv2d(nf, nf, 3, 1, 1)
        self.up1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.up2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.last = nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x):
        fea = self.first(x)
        h = fea
        for rrdb in self.rrdbs:
            y = h
            for block in rrdb:
                y = block(y)
            h = y * 0.2 + h
        fea = fea + self.trunk(h)
        fea = F.leaky_relu(self.up1(F.interpolate(fea, scale_factor=2)), 0.2)
        fea = F.leaky_relu(self.up2(F.interpolate(fea, scale_factor=2)), 0.2)
        return self.last(F.leaky_relu(self.hr(fea), 0.2))


def naive_for(kind: str, options: dict) -> NaiveRRDBNet:
    """Naive RRDBNet with the same total RRDB count and widths as the measured generator."""
    nf, gc = options.get("nf", 64), options.get("gc", 32)
    if kind == "nb":
        return NaiveRRDBNet(3, nf, options.get("nb", 23), gc)
    split = options.get("split", "E1G16")
    n_shared, n_trunk = (int(v) for v in split[1:].split("G"))
    return NaiveRRDBNet(3, nf, n_shared + n_trunk, gc)


def make_step(model: nn.Module, x: torch.Tensor, bf16: bool):
    """A closure running one forward+backward pass and returning its duration in seconds."""
    autocast = torch.autocast(x.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def step() -> float:
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:
            out = model(x)
        outs = out if isinstance(out, tuple) else (out,)
        sum(o.float().mean() for o in outs).backward()
        model.zero_grad(set_to_none=True)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return step


def median_times(steps: list, iters: int) -> list[float]:
    """Median step time of each closure after one warm-up; the closures alternate so load changes hit all alike."""
    for step in steps:
        step()
    times = [[] for _ in steps]
    for _ in range(iters):
        for record, step in zip(times, steps):
            record.append(step())
    return [statistics.median(t) for t in times]


def prepare(model: nn.Module, x: torch.Tensor, device: str, channels_last: bool):
    model = model.to(device).train()
    x = x.to(device)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return model, x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="cuda rows are skipped without a GPU")
    parser.add_argument("--iters", type=int, default=3, help="timed iterations per row (after one warm-up; the median is reported)")
    parser.add_argument("--batch", type=int, default=2, help="≥ 2: BatchNorm in training mode")
    parser.add_argument("--size-factor", type=int, default=1, help="multiply every generator input side by this")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--spsa-lr", type=int, default=128, help="LR side for the SPSA attention line (0: skip)")
    args = parser.parse_args()
    devices = [d for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, iters {args.iters}, "
          f"channels_last {args.channels_last}, bf16 {args.bf16}")
    header = f"{'model':28s} {'scale':6s} {'device':6s} {'input':>12s} {'params':>9s} {'ms/iter':>9s} {'img/s':>8s} {'vs naive':>9s}"
    print(header)
    print("-" * len(header))
    for device in devices:
        for scale in args.scales:
            for group, rows in (("G", GENERATORS), ("D", DISCRIMINATORS)):
                for name, arch, demo, paper, (channels, demo_size, paper_size), naive_kind in rows:
                    options = demo if scale == "demo" else paper
                    size = demo_size if scale == "demo" else paper_size
                    size *= args.size_factor if group == "G" else 1
                    in_nc = channels or options.get("in_nc", 64)
                    model = build_model(arch, **options)
                    x = torch.rand(args.batch, in_nc, size, size)
                    model, x = prepare(model, x, device, args.channels_last)
                    steps = [make_step(model, x, args.bf16)]
                    if naive_kind:
                        naive, xn = prepare(naive_for(naive_kind, options), x, device, args.channels_last)
                        steps.append(make_step(naive, xn, args.bf16))
                    seconds, *naive_seconds = median_times(steps, args.iters)
                    ratio = f"{naive_seconds[0] / seconds:9.2f}" if naive_seconds else ""
                    counted = model.generator_parameters() if hasattr(model, "generator_parameters") else model.parameters()
                    params = sum(p.numel() for p in counted) / 1e6
                    print(f"{name:28s} {scale:6s} {device:6s} {f'{in_nc}x{size}x{size}':>12s} {params:8.2f}M "
                          f"{seconds * 1e3:9.1f} {args.batch / seconds:8.2f} {ratio:>9s}", flush=True)
    if args.spsa_lr:
        spsa_inference(args.spsa_lr, args.iters)


def spsa_inference(lr_size: int, iters: int) -> None:
    """SPSA layer (nf 32) without autograd: row chunks (the layer) against the whole matrices (reference)."""
    layer = SPSALayer(nf=32, scale=4).eval()
    layer.gamma.data.fill_(0.5)
    x, seg = torch.rand(1, 32, lr_size, lr_size), torch.softmax(torch.rand(1, 8, 4 * lr_size, 4 * lr_size), 1)

    def whole() -> None:
        beta, _ = layer.attention(x, seg)
        x + layer.gamma * (layer.h(x).flatten(2) @ beta.transpose(1, 2)).view_as(x)

    def timed(run):
        def step() -> float:
            start = time.perf_counter()
            with torch.no_grad():
                run()
            return time.perf_counter() - start
        return step

    chunked, reference = median_times([timed(lambda: layer(x, seg)), timed(whole)], iters)
    print(f"SPSA attention, LR {lr_size}x{lr_size} (N = {lr_size ** 2}), inference: row chunks {chunked:.2f} s, "
          f"whole matrices {reference:.2f} s, ratio {reference / chunked:.2f}")


if __name__ == "__main__":
    main()

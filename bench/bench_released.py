"""How long the `released` track takes on a CPU: each released model's SR inference, with synthetic weights of the
real architecture, on the benchmark sets of the mirror.

For every released model (srrepro.models.released.RELEASED_MODELS) the first ``--images`` LR images of each set are
super-resolved twice, through the pipeline's own path (``srrepro.inference`` as ``evaluate-model`` runs it: fp32,
whole image) and by a bare ``model(x)`` under ``torch.inference_mode`` (the reference, measured in the same run);
``vs bare`` is bare time / pipeline time (1.0: the pipeline adds nothing); each is the fastest of two passes. Each set's time is the measured seconds
per LR pixel times the set's LR pixels, so a set is estimated from a few of its images. A set absent from the mirror
can be given as NAME=LR_MEGAPIXELS (e.g. Urban100). Metrics are not included (about 1 s per image for all of them).

    python bench/bench_released.py [--mirror ../shared/data/SelfExSR] [--sets Set5 Set14 BSD100] [--images 2]
                                   [--extra-set Urban100=6.0] [--threads 2] [--models fasrgan srresnet]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srrepro.imaging.images import read_image
from srrepro.inference import upscale
from srrepro.models import build_model
from srrepro.models.released import RELEASED_MODELS


def _lr_files(mirror: Path, name: str, scale: int) -> list[Path]:
    return sorted((mirror / name / f"image_SRF_{scale}").glob(f"*_SRF_{scale}_LR.png"))


def _megapixels(paths: list[Path]) -> float:
    return sum(np.prod(Image.open(p).size) for p in paths) / 1e6


def _bare(model: torch.nn.Module, lr: np.ndarray) -> None:
    with torch.inference_mode():
        model(torch.from_numpy(lr).permute(2, 0, 1).unsqueeze(0).float() / 255)


def _pipeline(model: torch.nn.Module, lr: np.ndarray) -> None:
    with torch.inference_mode():  # as srrepro.inference.load_upscaler runs it
        upscale(model, lr)


def _timed(run, images: list[np.ndarray], repeats: int = 2) -> float:
    """The fastest of ``repeats`` passes over ``images``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for image in images:
            run(image)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_mirror = Path(os.environ.get("SRREPRO_MIRROR", "../shared/data")) / "SelfExSR"
    parser.add_argument("--mirror", type=Path, default=default_mirror, help="SelfExSR-style folder (default %(default)s)")
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD100", "Urban100"])
    parser.add_argument("--extra-set", action="append", default=[], metavar="NAME=LR_MEGAPIXELS",
                        help="a set absent from the mirror, by its LR megapixels")
    parser.add_argument("--images", type=int, default=2, help="images timed per set (default %(default)s)")
    parser.add_argument("--models", nargs="+", default=list(RELEASED_MODELS), choices=list(RELEASED_MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    sets = {name: _lr_files(args.mirror, name, args.scale) for name in args.sets}
    present = {name: files for name, files in sets.items() if files}
    megapixels = {name: _megapixels(files) for name, files in present.items()}
    for item in args.extra_set:
        name, value = item.split("=", 1)
        megapixels[name] = float(value)
    sample = [read_image(p) for files in present.values() for p in files[: args.images]]
    if not sample:
        raise SystemExit(f"bench_released: no LR image to time: none of {', '.join(args.sets)} has "
                         f"<set>/image_SRF_{args.scale}/*_SRF_{args.scale}_LR.png in {args.mirror}; --mirror must be "
                         f"the SelfExSR folder itself" + ("" if args.images > 0 else ", and --images ≥ 1"))
    sample_mp = sum(image.shape[0] * image.shape[1] for image in sample) / 1e6
    print(f"{len(sample)} LR images timed ({sample_mp:.3f} MP) from {', '.join(present)}; {args.threads} threads; "
          f"absent from {args.mirror}: {', '.join(n for n in args.sets if n not in present) or 'none'}")
    print("LR megapixels per set: " + ", ".join(f"{n} {mp:.3f}" for n, mp in megapixels.items()))
    header = ["model", "s per LR MP", "vs bare"] + [f"{n} (min)" for n in megapixels]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    totals = dict.fromkeys(megapixels, 0.0)
    for name in args.models:
        spec = RELEASED_MODELS[name]
        torch.manual_seed(0)
        model = build_model(spec.arch, **spec.options).eval()  # synthetic weights: time does not depend on them
        _pipeline(model, sample[0][:16, :16])  # warm-up
        pipeline = _timed(lambda image: _pipeline(model, image), sample)
        bare = _timed(lambda image: _bare(model, image), sample)
        rate = pipeline / sample_mp
        minutes = {n: rate * mp / 60 for n, mp in megapixels.items()}
        for n in totals:
            totals[n] += minutes[n]
        print(f"| {spec.label} | {rate:.1f} | {bare / pipeline:.2f} | "
              + " | ".join(f"{minutes[n]:.1f}" for n in megapixels) + " |")
    print(f"| all {len(args.models)} models | | | " + " | ".join(f"{totals[n]:.1f}" for n in megapixels) + " |")


if __name__ == "__main__":
    main()

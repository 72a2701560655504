"""Time the evaluation of one set of SR outputs on BSD100 with psnr, ssim, lpips and niqe.

The "model outputs" are MATLAB-bicubic x4 upscalings of the BSD100 LR images of the mirror
(``SelfExSR/BSD100/image_SRF_4``). Each metric is timed image by image (as ``evaluate_folder`` calls it), then
the faster paths: LPIPS batched by image size, and the numpy metrics spread over a process pool of ``--workers``.
The same is timed through pyiqa when pyiqa is importable; otherwise the reason is printed.

    python bench/bench_metrics.py [--mirror ../shared/data] [--workers 2] [--limit 100]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from srrepro.bicubic import imresize
from srrepro.images import read_image
from srrepro.metrics import get_metric

NUMPY_METRICS = ("psnr", "ssim", "niqe")
_WORKER_METRICS: dict = {}


def _build(name: str, cache_dir: str):
    options = {"cache_dir": cache_dir} if name in ("lpips", "niqe") else {}
    return get_metric(name, scale=4, **options)


def load_pairs(mirror: Path, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    folder = mirror / "SelfExSR" / "BSD100" / "image_SRF_4"
    pairs = []
    for hr_path in sorted(folder.glob("img_*_SRF_4_HR.png"))[:limit]:
        lr = read_image(hr_path.with_name(hr_path.name.replace("_HR", "_LR")))
        pairs.append((imresize(lr, 4.0), read_image(hr_path)))
    return pairs


def _init_worker(cache_dir: str) -> None:
    torch.set_num_threads(1)
    for name in NUMPY_METRICS:
        _WORKER_METRICS[name] = _build(name, cache_dir)


def _score(args) -> tuple[float, ...]:
    sr, hr = args
    return tuple(_WORKER_METRICS[name](sr, hr) for name in NUMPY_METRICS)


def bench_srrepro(pairs, cache_dir: str, workers: int) -> dict[str, tuple[float, float]]:
    """Seconds per metric (one image at a time) and the metric's mean."""
    results = {}
    for name in (*NUMPY_METRICS, "lpips"):
        metric = _build(name, cache_dir)
        start = time.perf_counter()
        values = [metric(sr, hr) for sr, hr in pairs]
        results[name] = (time.perf_counter() - start, float(np.mean(values)))
    lpips = _build("lpips", cache_dir)
    start = time.perf_counter()
    values = lpips.batch([sr for sr, _ in pairs], [hr for _, hr in pairs])
    results["lpips (batched)"] = (time.perf_counter() - start, float(np.mean(values)))
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(cache_dir,)) as pool:
        rows = list(pool.map(_score, pairs, chunksize=4))
    elapsed = time.perf_counter() - start
    results[f"psnr+ssim+niqe ({workers} processes)"] = (elapsed, float(np.mean([r[2] for r in rows])))
    return results


def bench_pyiqa(pairs) -> dict[str, tuple[float, float]] | str:
    """Seconds per metric through pyiqa, or the reason pyiqa cannot run here."""
    reasons = []
    for module in ("torchvision", "pyiqa"):  # pyiqa needs torchvision, whose CPU wheels need a matching torch
        try:
            __import__(module)
        except Exception as err:  # a broken torchvision raises OSError/RuntimeError, not only ImportError
            reasons.append(f"import {module}: {type(err).__name__}: {err}")
    if reasons:
        return "; ".join(reasons)
    import pyiqa
    specs = {
        "psnr": dict(test_y_channel=True, color_space="ycbcr", crop_border=4),
        "ssim": dict(test_y_channel=True, color_space="ycbcr", crop_border=4),
        "lpips": dict(version="0.0"),
        "niqe": dict(test_y_channel=True, color_space="ycbcr"),
    }
    results = {}
    for name, options in specs.items():
        metric = pyiqa.create_metric(name, device="cpu", **options)
        start = time.perf_counter()
        values = []
        for sr, hr in pairs:
            x = torch.from_numpy(sr).permute(2, 0, 1)[None].float() / 255
            y = torch.from_numpy(hr).permute(2, 0, 1)[None].float() / 255
            values.append(float(metric(x, y) if metric.metric_mode == "FR" else metric(x)))
        results[name] = (time.perf_counter() - start, float(np.mean(values)))
    return results


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("SRREPRO_MIRROR", repo.parent / "shared" / "data"))
    parser.add_argument("--cache", default=os.environ.get("SRREPRO_ASSET_CACHE", repo / ".cache" / "assets"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.workers)
    pairs = load_pairs(Path(args.mirror), args.limit)
    print(f"BSD100 bicubic x4 outputs: {len(pairs)} images, torch threads {args.workers}")
    ours = bench_srrepro(pairs, str(args.cache), args.workers)
    print(f"{'metric':<34}{'srrepro s':>10}{'mean':>10}")
    for name, (seconds, mean) in ours.items():
        print(f"{name:<34}{seconds:>10.2f}{mean:>10.4f}")
    sequential = sum(ours[n][0] for n in (*NUMPY_METRICS, "lpips"))
    fastest = ours[f"psnr+ssim+niqe ({args.workers} processes)"][0] + ours["lpips (batched)"][0]
    print(f"all four, one image at a time: {sequential:.2f} s; batched LPIPS + process pool: {fastest:.2f} s "
          f"(x{sequential / fastest:.2f})")
    theirs = bench_pyiqa(pairs)
    if isinstance(theirs, str):
        print(f"pyiqa: not run, it cannot be imported here ({theirs})")
        return
    for name, (seconds, mean) in theirs.items():
        print(f"pyiqa {name:<28}{seconds:>10.2f}{mean:>10.4f}  srrepro/pyiqa time ratio {ours[name][0] / seconds:.2f}")


if __name__ == "__main__":
    main()

"""Time the evaluation of one set of SR outputs on BSD100 with psnr, ssim, lpips and niqe.

The "model outputs" are MATLAB-bicubic x4 upscalings of the BSD100 LR images of the mirror
(``SelfExSR/BSD100/image_SRF_4``). Each metric is timed image by image (as ``evaluate_folder`` calls it), then
the faster paths: LPIPS batched by image size, and the numpy metrics spread over a process pool of ``--workers``.
The same four metrics are then timed through pyiqa, image by image as its API is called, with the same weights
(written from our verified assets into a temporary torch hub, as pyiqa cannot download them here), and the means
are printed beside ours as a cross-check. pyiqa and torchvision are not project dependencies; install them with

    .venv/bin/pip install --no-deps --target .bench/pyiqa -r bench/requirements-pyiqa.txt
    .venv/bin/python bench/bench_metrics.py [--mirror ../shared/data] [--workers 2] [--limit 100]

Without them the pyiqa part prints why it did not run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

import sys

from srrepro.data.assets import fetch_asset
from srrepro.imaging.images import read_image
from srrepro.imaging.matlab import imresize
from srrepro.metrics import get_metric

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the reference libraries live with the tests
from reference_libraries import import_pyiqa  # noqa: E402

NUMPY_METRICS = ("psnr", "ssim", "niqe")
_WORKER_METRICS: dict = {}


def _build(name: str, cache_dir: str):
    return get_metric(name, {"cache_dir": cache_dir}, scale=4)


def load_pairs(mirror: Path, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    folder = mirror / "SelfExSR" / "BSD100" / "image_SRF_4"
    found = sorted(folder.glob("img_*_SRF_4_HR.png"))[:limit]
    if not found:
        raise SystemExit(f"bench_metrics: no BSD100 image to time: {folder} holds no img_*_SRF_4_HR.png; --mirror must "
                         f"be the folder that holds SelfExSR/ (got {mirror})"
                         + ("" if limit > 0 else ", and --limit ≥ 1"))
    pairs = []
    for hr_path in found:
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


def _pyiqa_weights(cache_dir: str, folder: Path) -> dict[str, Path]:
    """pyiqa's weight files, written from our verified assets (pyiqa would download them; there is no network).

    torchvision's AlexNet checkpoint gets our ImageNet AlexNet ``features`` (all LPIPS uses) and a seeded
    classifier, since torchvision loads the whole network strictly; the LPIPS heads and NIQE's pristine
    parameters are the same files our metrics read.
    """
    import scipy.io
    import torchvision

    checkpoints = folder / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    alexnet = torchvision.models.alexnet().state_dict()
    alexnet.update(torch.load(fetch_asset("alexnet-features", cache_dir), map_location="cpu"))
    torch.save(alexnet, checkpoints / "alexnet-owt-7be5be79.pth")
    heads = folder / "lpips_v0.0_alex.pth"
    torch.save(torch.load(fetch_asset("lpips-alex-v0.0", cache_dir), map_location="cpu"), heads)
    niqe = np.load(fetch_asset("niqe-pristine", cache_dir))
    params = folder / "niqe_modelparameters.mat"
    scipy.io.savemat(params, {"mu_prisparam": niqe["mu_pris_param"], "cov_prisparam": niqe["cov_pris_param"]})
    return {"lpips": heads, "niqe": params}


def bench_pyiqa(pairs, cache_dir: str, site: Path | None) -> dict[str, tuple[float, float]] | str:
    """Seconds per metric through pyiqa (one image at a time, as its API is called), or why it cannot run."""
    try:
        pyiqa = import_pyiqa(site)
    except Exception as err:  # a broken install raises OSError/RuntimeError too, not only ImportError
        return f"{type(err).__name__}: {err}"
    results = {}
    with tempfile.TemporaryDirectory() as hub:
        previous_hub = torch.hub.get_dir()
        torch.hub.set_dir(hub)
        try:
            weights = _pyiqa_weights(cache_dir, Path(hub))
            specs = {
                "psnr": dict(test_y_channel=True, color_space="ycbcr", crop_border=4),
                "ssim": dict(test_y_channel=True, color_space="ycbcr", crop_border=4),
                "niqe": dict(test_y_channel=True, color_space="ycbcr", pretrained_model_path=str(weights["niqe"])),
                "lpips": dict(version="0.0", pretrained_model_path=str(weights["lpips"])),
            }
            for name, options in specs.items():
                metric = pyiqa.create_metric(name, device="cpu", **options)
                start = time.perf_counter()
                values = []
                for sr, hr in pairs:
                    x = torch.from_numpy(sr).permute(2, 0, 1)[None].float() / 255
                    y = torch.from_numpy(hr).permute(2, 0, 1)[None].float() / 255
                    values.append(float(metric(x, y) if metric.metric_mode == "FR" else metric(x)))
                results[name] = (time.perf_counter() - start, float(np.mean(values)))
        finally:
            torch.hub.set_dir(previous_hub)
    return results


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("SRREPRO_MIRROR", repo.parent / "shared" / "data"))
    parser.add_argument("--cache", default=os.environ.get("SRREPRO_ASSET_CACHE", repo / ".cache" / "assets"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--pyiqa-site", default=repo / ".bench" / "pyiqa",
                        help="folder holding pyiqa and torchvision (bench/requirements-pyiqa.txt)")
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
    theirs = bench_pyiqa(pairs, str(args.cache), Path(args.pyiqa_site) if args.pyiqa_site else None)
    if isinstance(theirs, str):
        print(f"pyiqa: not run ({theirs})")
        return
    print(f"{'metric':<10}{'srrepro s':>10}{'pyiqa s':>10}{'ratio':>8}{'srrepro mean':>14}{'pyiqa mean':>12}")
    for name, (seconds, mean) in theirs.items():
        ours_s, ours_mean = ours[name]
        print(f"{name:<10}{ours_s:>10.2f}{seconds:>10.2f}{ours_s / seconds:>8.2f}{ours_mean:>14.4f}{mean:>12.4f}")
    pyiqa_total = sum(seconds for seconds, _ in theirs.values())
    print(f"all four: srrepro {sequential:.2f} s one image at a time (ratio {sequential / pyiqa_total:.2f}), "
          f"{fastest:.2f} s batched + pool (ratio {fastest / pyiqa_total:.2f}); pyiqa {pyiqa_total:.2f} s")

if __name__ == "__main__":
    main()

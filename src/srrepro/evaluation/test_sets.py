"""Models on every test set in one process: super-resolve each set's LR images, then measure every metric.

The model and each metric's networks are loaded once for all sets, and the metric networks once for all the models
of one process (:func:`evaluate_models`), which is what makes a grid of many small models cheap to evaluate. The SR
images of set ``<name>`` go to ``<sr_root>/<name>/`` with its ``timing.json`` (that folder replaced whole: it never
keeps an earlier run's images); the per-image rows of all sets go to
one tidy CSV per model (model, dataset, image, metric, value, note).
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from srrepro.atomic import atomic_path
from srrepro.data.prepared import hr_folder, lr_folder
from srrepro.errors import AssetUnavailable
from srrepro.evaluation.paired_folders import COLUMNS, build_metrics, measure_folder, unavailable_rows
from srrepro.imaging.images import list_images, read_image
from srrepro.inference import load_upscaler, upscale_with


@dataclass(frozen=True)
class ModelRun:
    """One model to evaluate: its spec ('bicubic' or a model spec), the name written into its rows, the folder of
    its SR images and its CSV."""

    model: str
    name: str
    sr_root: str | os.PathLike
    out_csv: str | os.PathLike


def evaluate_models(runs: list[ModelRun], datasets: dict[str, str | os.PathLike], metrics: list[str], *, scale: int,
                    tile: int | None = None, asset_options: dict | None = None,
                    amp: str = "fp32") -> list[pd.DataFrame]:
    """:func:`evaluate_on_test_sets` for each of ``runs`` in turn, building the metric networks once (when a model
    first needs them); returns each model's rows."""
    metric_networks = functools.cache(lambda: build_metrics(metrics, scale=scale, asset_options=asset_options))
    return [evaluate_on_test_sets(run.model, run.name, datasets, run.sr_root, metrics, run.out_csv, scale=scale,
                                  tile=tile, asset_options=asset_options, amp=amp, metric_networks=metric_networks)
            for run in runs]


def evaluate_on_test_sets(model: str, name: str, datasets: dict[str, str | os.PathLike], sr_root: str | os.PathLike,
                          metrics: list[str], out_csv: str | os.PathLike, *, scale: int, tile: int | None = None,
                          asset_options: dict | None = None, amp: str = "fp32",
                          metric_networks: Callable[[], tuple[dict, dict]] | None = None) -> pd.DataFrame:
    """Upscale and evaluate ``model`` ('bicubic' or a model spec) on every prepared set of ``datasets``
    (set name → prepared folder); write the rows atomically to ``out_csv`` and return them.

    When the model's weights are an asset that cannot be obtained here (the authors' released weights offline), every
    value is n/a with the reason and the command that fetches them, and no SR image is written. With ``amp`` 'bf16'
    (opt-in) the generator runs under bf16 autocast, and what that changes is measured and printed: PSNR and LPIPS of
    each set's first image in bf16 against fp32. ``metric_networks``: returns the metrics as :func:`build_metrics`
    does, to share them between models (default: built here).
    """
    try:
        upscaler = load_upscaler(model, scale=scale, tile=tile, asset_options=asset_options, amp=amp)
    except AssetUnavailable as err:
        reason = f"{err.reason}: fetch it with `srrepro assets {err.name}` or supply {err.config_key}"
        Path(sr_root).mkdir(parents=True, exist_ok=True)  # the workflow's output folder, empty
        rows = pd.concat([unavailable_rows(hr_folder(folder), metrics, reason, model=name, dataset=dataset)
                          for dataset, folder in datasets.items()], ignore_index=True)
        with atomic_path(out_csv) as tmp:
            rows.to_csv(tmp, index=False)
        return rows
    built, unavailable = (metric_networks() if metric_networks is not None
                          else build_metrics(metrics, scale=scale, asset_options=asset_options))
    if amp != "fp32" and model != "bicubic":
        reference = load_upscaler(model, scale=scale, tile=tile, asset_options=asset_options)
        for dataset, folder in datasets.items():
            print(precision_delta(upscaler, reference, folder, scale, built, amp, dataset), file=sys.stderr, flush=True)
    frames = []
    for dataset, folder in datasets.items():
        sr_dir = Path(sr_root) / dataset
        upscale_with(upscaler, lr_folder(folder, scale), sr_dir, label=f"{name} on {dataset}", overwrite=True)
        frames.append(measure_folder(sr_dir, hr_folder(folder), metrics, built, unavailable, model=name,
                                     dataset=dataset))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    with atomic_path(out_csv) as tmp:
        rows.to_csv(tmp, index=False)
    return rows


def precision_delta(upscaler, reference, folder, scale: int, built: dict, amp: str, dataset: str) -> str:
    """One line: PSNR and LPIPS of the first image of a prepared set upscaled in ``amp`` and in fp32 (``reference``)."""
    hr_path = list_images(hr_folder(folder))[0]
    lr, hr = read_image(lr_folder(folder, scale) / hr_path.name), read_image(hr_path)
    fast, exact = upscaler(lr), reference(lr)
    parts = []
    for name in ("psnr", "lpips"):
        if name in built:
            a, b = float(built[name](fast, hr)), float(built[name](exact, hr))
            parts.append(f"{name.upper()} {a:.4f} against fp32 {b:.4f} (Δ {a - b:+.4f})")
    return f"{amp} inference on {dataset}/{hr_path.name}: " + ("; ".join(parts) or "no PSNR/LPIPS configured")

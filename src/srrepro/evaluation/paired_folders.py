"""Evaluate a folder of SR images against a folder of HR images, producing tidy per-image rows.

Rows have the columns ``model, dataset, image, metric, value, note``; a metric that cannot be computed gets
an empty value and its reason in ``note`` (shown as ``n/a (reason)`` in tables, never as 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from srrepro.atomic import atomic_path
from srrepro.errors import MetricUnavailable, SrreproError
from srrepro.imaging.images import list_images, read_image
from srrepro.metrics import get_metric

COLUMNS = ["model", "dataset", "image", "metric", "value", "note"]


def pair_images(sr_dir: str | Path, hr_dir: str | Path) -> list[tuple[str, Path, Path]]:
    """Pair SR and HR files by file stem; every HR image must have an SR counterpart (and a folder holding two files
    with one stem is refused, see :func:`~srrepro.imaging.images.list_images`)."""
    sr_by_stem = {p.stem: p for p in list_images(sr_dir)}
    pairs = []
    for hr in list_images(hr_dir):
        sr = sr_by_stem.get(hr.stem)
        if sr is None:
            raise SrreproError(f"no SR image for HR image {hr} in {sr_dir} (expected a file named {hr.stem}.*)")
        pairs.append((hr.stem, sr, hr))
    return pairs


def build_metrics(metrics: list[str], *, scale: int, asset_options: dict | None = None) -> tuple[dict, dict]:
    """Build each metric once: ``(built, unavailable)`` maps name → metric, and name → the reason it is n/a."""
    built, unavailable = {}, {}
    for name in metrics:
        try:
            built[name] = get_metric(name, asset_options, scale=scale)
        except MetricUnavailable as err:
            unavailable[name] = err.reason
    return built, unavailable


def measure_folder(sr_dir, hr_dir, metrics: list[str], built: dict, unavailable: dict, *, model: str = "",
                   dataset: str = "") -> pd.DataFrame:
    """Tidy rows of every metric on every (SR, HR) pair, with metrics built by :func:`build_metrics`."""
    rows: list[dict] = []
    for image, sr_path, hr_path in pair_images(sr_dir, hr_dir):
        sr, hr = read_image(sr_path), read_image(hr_path)
        if sr.shape != hr.shape:
            raise SrreproError(f"SR image {sr_path} has shape {sr.shape} but HR image {hr_path} has {hr.shape}")
        for name in metrics:
            value, note = np.nan, unavailable.get(name, "")
            if name in built:
                try:
                    value = float(built[name](sr, hr))
                except MetricUnavailable as err:
                    note = err.reason
                except ValueError as err:  # e.g. an image too small for the shave or the SSIM window
                    raise SrreproError(f"cannot compute {name} of {sr_path}: {err}") from err
            rows.append(_row(model, dataset, image, name, value, note))
    return pd.DataFrame(rows, columns=COLUMNS)


def unavailable_rows(hr_dir, metrics: list[str], reason: str, *, model: str = "", dataset: str = "") -> pd.DataFrame:
    """Tidy rows saying that every metric of every HR image is n/a for ``reason`` (the model could not be run)."""
    rows = [_row(model, dataset, path.stem, name, np.nan, reason) for path in list_images(hr_dir) for name in metrics]
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluate_folder(
    sr_dir: str | Path,
    hr_dir: str | Path,
    metrics: list[str],
    *,
    scale: int,
    model: str = "",
    dataset: str = "",
    asset_options: dict | None = None,
) -> pd.DataFrame:
    """Compute every metric on every (SR, HR) pair; return tidy rows. ``asset_options`` (``cache_dir``,
    ``local_paths``) reach the metrics that need external weights."""
    built, unavailable = build_metrics(metrics, scale=scale, asset_options=asset_options)
    return measure_folder(sr_dir, hr_dir, metrics, built, unavailable, model=model, dataset=dataset)


def _row(model: str, dataset: str, image: str, metric: str, value: float, note: str) -> dict:
    return {"model": model, "dataset": dataset, "image": image, "metric": metric, "value": value, "note": note}


def dataset_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric per (model, dataset); a metric with any missing value is n/a with its note."""
    out = []
    for (model, dataset, metric), group in rows.groupby(["model", "dataset", "metric"], sort=False):
        notes = sorted({n for n in group["note"].fillna("") if n})
        value = group["value"].mean() if group["value"].notna().all() else np.nan
        out.append(_row(model, dataset, f"mean of {len(group)}", metric, value, "; ".join(notes)))
    return pd.DataFrame(out, columns=COLUMNS)


def evaluate_to_csv(sr_dir, hr_dir, metrics: list[str], *, scale: int, model: str = "", dataset: str = "",
                    out: str | Path | None = None, asset_options: dict | None = None) -> str:
    """:func:`evaluate_folder`, written atomically to ``out`` (tidy CSV) when given; returns the dataset means as a
    printable table followed by the n/a reasons."""
    rows = evaluate_folder(sr_dir, hr_dir, metrics, scale=scale, model=model, dataset=dataset,
                           asset_options=asset_options)
    if out:
        with atomic_path(out) as tmp:
            rows.to_csv(tmp, index=False)
    means = dataset_means(rows)
    table = means.pivot(index=["model", "dataset"], columns="metric", values="value")[metrics]
    lines = [tabulate(table.reset_index(), headers="keys", tablefmt="github", showindex=False, floatfmt=".4f")]
    lines += [f"n/a: {note}" for note in sorted({n for n in means["note"] if isinstance(n, str) and n})]
    return "\n".join(lines)

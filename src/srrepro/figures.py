"""The papers' figures as PNG: trade-off scatter (Fig. 5), training curves (Fig. 9), E/G split (Fig. 13), crops.

Each function takes plain data (DataFrames, image arrays) and writes one PNG atomically; published points are
overlaid where the paper gives numbers.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from srrepro.atomic import atomic_path  # noqa: E402


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)


def _note(ax, text: str) -> None:
    ax.text(0.01, -0.18, text, transform=ax.transAxes, fontsize=7, va="top", wrap=True)


def tradeoff_plot(points: pd.DataFrame, path: str | Path, title: str, note: str) -> None:
    """Fig. 5: one point per model (columns label, rmse, lpips, rmse_std, lpips_std); lower-left is better."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for row in points.itertuples():
        if math.isnan(row.rmse) or math.isnan(row.lpips):
            continue
        ax.errorbar(row.rmse, row.lpips, xerr=_zero(row.rmse_std), yerr=_zero(row.lpips_std), fmt="o", capsize=3)
        ax.annotate(row.label, (row.rmse, row.lpips), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("RMSE (Y, lower is better)")
    ax.set_ylabel("LPIPS (lower is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _note(ax, note)
    _save(fig, path)


def _zero(value: float) -> float:
    return 0.0 if value is None or math.isnan(value) else value


def training_curves(curves: dict[str, pd.DataFrame], metric: str, path: str | Path, title: str, note: str) -> None:
    """Fig. 9: ``metric`` against iteration for each run (DataFrames with columns iteration and ``metric``)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    plotted = 0
    for label, frame in curves.items():
        if metric in frame and frame[metric].notna().any():
            ax.plot(frame["iteration"], frame[metric], marker="o", label=label)
            plotted += 1
    ax.set_xlabel("iteration")
    ax.set_ylabel(metric.upper())
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if plotted:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, f"no {metric.upper()} values were computed", ha="center", transform=ax.transAxes)
    _note(ax, note)
    _save(fig, path)


def split_plot(points: pd.DataFrame, path: str | Path, title: str, note: str) -> None:
    """Fig. 13: PSNR and LPIPS against the E/G split (columns split, psnr, lpips and their _std)."""
    fig, ax1 = plt.subplots(figsize=(6, 4))
    if points.empty:
        ax1.text(0.5, 0.5, "no E/G split variants configured (reports.splits)", ha="center", transform=ax1.transAxes)
    x = np.arange(len(points))
    ax1.errorbar(x, points["psnr"], yerr=points["psnr_std"].fillna(0), marker="o", color="tab:blue", capsize=3)
    ax1.set_ylabel("PSNR (dB)", color="tab:blue")
    ax1.set_xticks(x, points["split"])
    if "lpips" in points and points["lpips"].notna().any():
        ax2 = ax1.twinx()
        ax2.errorbar(x, points["lpips"], yerr=points["lpips_std"].fillna(0), marker="s", color="tab:red", capsize=3)
        ax2.set_ylabel("LPIPS", color="tab:red")
    ax1.set_title(title)
    ax1.grid(alpha=0.3)
    _note(ax1, note)
    _save(fig, path)


def crop_grid(crops: list[tuple[str, np.ndarray]], path: str | Path, title: str, note: str = "") -> None:
    """Figs. 4/6/7: labelled crops side by side (HR first); ``note`` is printed, wrapped, under the grid."""
    columns = min(4, len(crops))
    rows = math.ceil(len(crops) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, crop) in zip(axes.flat, crops):
        ax.imshow(crop, interpolation="nearest")
        ax.set_title(textwrap.fill(label, 28), fontsize=8)
    fig.suptitle(title)
    if note:
        fig.text(0.02, 0.0, textwrap.fill(note, 40 * columns), fontsize=7, va="top")
    _save(fig, path)

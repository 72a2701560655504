"""The papers' figures as PNG: trade-off scatter (Fig. 5), training curves (Fig. 9), E/G split (Fig. 13), crops.

The ``figure_*`` functions gather a figure's data from pipeline outputs (summary, validation logs, SR folders);
the ``*_plot`` functions draw plain data and write one PNG atomically. :func:`build_figure` picks the figure by
name. The papers print no numbers for these figures, so nothing published is overlaid.
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
from srrepro.imaging.images import list_images, read_image  # noqa: E402
from srrepro.reporting.summary import read_summary  # noqa: E402
from srrepro.reporting.table_specs import FIGURES  # noqa: E402


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


def figure_tradeoff(summary_csv, dataset: str, labels: dict[str, str], png: str | Path, note: str) -> None:
    """Fig. 5: RMSE against LPIPS of every model on ``dataset``."""
    summary = read_summary(summary_csv)
    part = summary[summary["dataset"] == dataset]
    points = []
    for variant in part["variant"].unique():
        row = part[part["variant"] == variant].set_index("metric")
        get = lambda m, c: float(row.loc[m, c]) if m in row.index else math.nan  # noqa: E731
        points.append({"label": labels.get(variant, variant), "rmse": get("rmse", "mean"), "lpips": get("lpips", "mean"),
                       "rmse_std": get("rmse", "std"), "lpips_std": get("lpips", "std")})
    note += " The paper prints no numbers for Fig. 5, so no published points are overlaid."
    tradeoff_plot(pd.DataFrame(points), png, f"RMSE–LPIPS trade-off on {dataset} (Fig. 5)", note)


def figure_curves(val_logs: dict[str, list[str | Path]], png: str | Path, note: str) -> str:
    """Fig. 9: PI during training (mean over seeds); falls back to NIQE, then PSNR, when PI was not computable."""
    frames = {}
    for label, paths in val_logs.items():
        logs = [pd.read_csv(p) for p in paths if Path(p).is_file()]
        if logs:
            frames[label] = pd.concat(logs).groupby("iteration", as_index=False).mean(numeric_only=True)
    metric = next((m for m in ("pi", "niqe", "psnr") if any(m in f and f[m].notna().any() for f in frames.values())), "pi")
    extra = "" if metric == "pi" else f" PI was not computable (its Ma model is missing), so {metric.upper()} is shown."
    extra += " The paper prints no numbers for Fig. 9."
    training_curves(frames, metric, png, f"Validation {metric.upper()} during training (Fig. 9)", note + extra)
    return metric


def figure_split(summary_csv, dataset: str, splits: dict[str, str], png: str | Path, note: str) -> None:
    """Fig. 13: PSNR and LPIPS of the Fs variants against their E/G split."""
    summary = read_summary(summary_csv)
    rows = []
    for split, variant in splits.items():
        part = summary[(summary["variant"] == variant) & (summary["dataset"] == dataset)].set_index("metric")
        get = lambda m, c: float(part.loc[m, c]) if m in part.index else math.nan  # noqa: E731
        rows.append({"split": split, "psnr": get("psnr", "mean"), "psnr_std": get("psnr", "std"),
                     "lpips": get("lpips", "mean"), "lpips_std": get("lpips", "std")})
    columns = ["split", "psnr", "psnr_std", "lpips", "lpips_std"]
    note += " The paper prints no numbers for Fig. 13; its text says E1G16 is best in PSNR and visual quality."
    split_plot(pd.DataFrame(rows, columns=columns), png, f"E/G split of Fs-SRGAN on {dataset} (Fig. 13)", note)


def figure_crops(hr_dir, sr_dirs: dict[str, str | Path], crop: int, png: str | Path, scale_note: str) -> None:
    """Figs. 4/6/7: the same crop of the first test image from HR and every model, side by side.

    The crop is centred on the HR image's most textured ``crop``-sized block (largest Y variance), where the
    methods differ most.
    """
    hr_path = list_images(hr_dir)[0]
    hr = read_image(hr_path)
    top, left = _textured_block(hr, crop)
    cut = lambda img: img[top : top + crop, left : left + crop]  # noqa: E731
    crops = [("HR", cut(hr))]
    for label, folder in sr_dirs.items():
        crops.append((label, cut(read_image(Path(folder) / f"{hr_path.stem}.png"))))
    crop_grid(crops, png, f"{hr_path.stem}: {crop}x{crop} crop at ({top}, {left}), most textured block", scale_note)


def _textured_block(img: np.ndarray, size: int) -> tuple[int, int]:
    y = img.astype(np.float64).mean(axis=2)
    best, where = -1.0, (0, 0)
    step = max(1, size // 2)
    for top in range(0, max(1, y.shape[0] - size + 1), step):
        for left in range(0, max(1, y.shape[1] - size + 1), step):
            value = y[top : top + size, left : left + size].var()
            if value > best:
                best, where = value, (top, left)
    return where



def build_figure(name: str, spec: dict, png: str | Path, note: str) -> None:
    """Draw figure ``name`` (one of :data:`FIGURES`) from its ``spec`` (the inputs the workflow names)."""
    if name == "fig5":
        figure_tradeoff(spec["summary"], spec["dataset"], spec["labels"], png, note)
    elif name == "fig9":
        figure_curves(spec["val_logs"], png, note)
    elif name == "fig13":
        figure_split(spec["summary"], spec["dataset"], spec["splits"], png, note)
    elif name == "qualitative":
        figure_crops(spec["hr_dir"], spec["sr_dirs"], spec["crop"], png, note)
    else:
        raise KeyError(f"unknown figure '{name}'; known: {', '.join(FIGURES)}")

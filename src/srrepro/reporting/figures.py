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
from srrepro.reporting.table_specs import FIGURES, RELEASED_MODELS  # noqa: E402


DPI = 120
SIZES = {"fig5": (8.0, 6.0), "fig9": (6.0, 4.5), "fig13": (6.0, 4.5)}  # inches; the PNGs are these times DPI
CROP_CELL = (3.0, 3.2)  # inches per crop of the qualitative grid (4 columns at most)


def _figure(size: tuple[float, float], rows: int = 1, columns: int = 1, **kwargs):
    return plt.subplots(rows, columns, figsize=size, dpi=DPI, layout="constrained", **kwargs)


def _note(fig, text: str, width: float) -> None:
    """``text`` under the axes, wrapped to the figure's width (constrained layout leaves room for it)."""
    fig.supxlabel(textwrap.fill(text, int(width * 17)), x=0.01, ha="left", fontsize=7)


def _save(fig, path: str | Path) -> None:
    """Write the PNG at exactly the figure's size (figsize x DPI pixels)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")


def _free(box: tuple[float, float, float, float], taken: list, inside: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = box
    if x0 < inside[0] or y0 < inside[1] or x1 > inside[2] or y1 > inside[3]:
        return False
    return all(x1 <= a0 or x0 >= a1 or y1 <= b0 or y0 >= b1 for a0, b0, a1, b1 in taken)


def place_labels(ax, points: list[tuple[float, float, str]], segments: list = (), fontsize: float = 7,
                 pad: float = 2.0) -> list:
    """Label each (x, y, text) of ``ax`` where its box overlaps no other label, no marker, none of the ``segments``
    (pairs of data points, e.g. error bars) and stays inside the axes.

    Greedy: for each point in turn, candidate positions on rings of growing radius around it (nearest first);
    the first free one is taken; a label away from its point gets a leader line. Call after the layout is final
    (positions are in display pixels). Returns the annotations.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    anchors = [tuple(to_px((x, y))) for x, y, _ in points]
    box = ax.get_window_extent(renderer)
    inside = (box.x0 + pad, box.y0 + pad, box.x1 - pad, box.y1 - pad)
    marker = 4.0 * fig.dpi / 72
    taken = [(px - marker, py - marker, px + marker, py + marker) for px, py in anchors]
    for start, end in segments:
        (x0, y0), (x1, y1) = to_px(start), to_px(end)
        taken.append((min(x0, x1) - 1, min(y0, y1) - 1, max(x0, x1) + 1, max(y0, y1) + 1))
    angles = np.deg2rad([45, 135, 315, 225, 0, 180, 90, 270, 22.5, 157.5, 337.5, 202.5, 67.5, 112.5, 292.5, 247.5])
    radii = [6, 14, 26, 40, 56, 76, 100, 130, 170, 220, 280, 350]
    annotations = []
    for (px, py), (x, y, text) in zip(anchors, points):
        probe = ax.text(0, 0, text, fontsize=fontsize)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        width, height = extent.width + pad, extent.height + pad
        chosen = None
        for radius in radii:
            for angle in angles:
                dx, dy = radius * np.cos(angle), radius * np.sin(angle)
                left = px + dx if dx > 1e-6 else px + dx - width if dx < -1e-6 else px + dx - width / 2
                bottom = py + dy if dy > 1e-6 else py + dy - height if dy < -1e-6 else py + dy - height / 2
                candidate = (left, bottom, left + width, bottom + height)
                if _free(candidate, taken, inside):
                    chosen = (dx, dy, candidate, radius)
                    break
            if chosen:
                break
        if chosen is None:
            raise ValueError(f"no free place for the label {text!r}: too many labels for the figure size")
        dx, dy, candidate, radius = chosen
        taken.append(candidate)
        to_pt = 72 / fig.dpi
        ha = "left" if dx > 1e-6 else "right" if dx < -1e-6 else "center"
        va = "bottom" if dy > 1e-6 else "top" if dy < -1e-6 else "center"
        arrow = dict(arrowstyle="-", lw=0.5, color="0.45", shrinkA=0, shrinkB=2) if radius > radii[1] else None
        annotations.append(ax.annotate(text, (x, y), xytext=(dx * to_pt, dy * to_pt), textcoords="offset points",
                                       ha=ha, va=va, fontsize=fontsize, arrowprops=arrow))
    return annotations


def tradeoff_plot(points: pd.DataFrame, path: str | Path, title: str, note: str) -> list:
    """Fig. 5: one point per model (columns label, rmse, lpips, rmse_std, lpips_std); lower-left is better.

    Labels are placed so that none overlaps another or a marker (:func:`place_labels`); returns the bounding boxes
    (display pixels of the written PNG) of the labels' text."""
    size = SIZES["fig5"]
    fig, ax = _figure(size)
    shown = points.dropna(subset=["rmse", "lpips"])
    for row in shown.itertuples():
        ax.errorbar(row.rmse, row.lpips, xerr=_zero(row.rmse_std), yerr=_zero(row.lpips_std), fmt="o", ms=4,
                    capsize=2, lw=0.8)
    if shown.empty:
        ax.text(0.5, 0.5, "no model has both RMSE and LPIPS on this dataset", ha="center", transform=ax.transAxes)
    ax.margins(0.25)
    ax.set_xlabel("RMSE (Y, lower is better)")
    ax.set_ylabel("LPIPS (lower is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _note(fig, note, size[0])
    fig.canvas.draw()  # fixes the constrained layout; the labels are placed into it and kept out of it
    fig.set_layout_engine("none")
    bars = [pair for r in shown.itertuples() for pair in (
        ((r.rmse - _zero(r.rmse_std), r.lpips), (r.rmse + _zero(r.rmse_std), r.lpips)),
        ((r.rmse, r.lpips - _zero(r.lpips_std)), (r.rmse, r.lpips + _zero(r.lpips_std))))]
    labels = place_labels(ax, [(r.rmse, r.lpips, r.label) for r in shown.itertuples()], bars)
    _save(fig, path)
    renderer = fig.canvas.get_renderer()
    boxes = [matplotlib.text.Text.get_window_extent(a, renderer) for a in labels]
    plt.close(fig)
    return boxes


def _zero(value: float) -> float:
    return 0.0 if value is None or math.isnan(value) else value


def training_curves(curves: dict[str, pd.DataFrame], metric: str, path: str | Path, title: str, note: str) -> None:
    """Fig. 9: ``metric`` against iteration for each run (DataFrames with columns iteration and ``metric``)."""
    size = SIZES["fig9"]
    fig, ax = _figure(size)
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
    _note(fig, note, size[0])
    _save(fig, path)
    plt.close(fig)


def split_plot(points: pd.DataFrame, path: str | Path, title: str, note: str) -> None:
    """Fig. 13: PSNR and LPIPS against the E/G split (columns split, psnr, lpips and their _std)."""
    size = SIZES["fig13"]
    fig, ax1 = _figure(size)
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
    _note(fig, note, size[0])
    _save(fig, path)
    plt.close(fig)


def crop_grid(groups: list[list[tuple[str, np.ndarray | None]]], path: str | Path, title: str,
              note: str = "") -> None:
    """Figs. 4/6-8: per image, its labelled crops side by side (HR first), each image starting a row; a crop that is
    None is an n/a panel whose label says why. ``note`` is printed, wrapped, under the grid."""
    columns, rows = crop_grid_shape(max(map(len, groups)), [len(g) for g in groups])
    size = (CROP_CELL[0] * columns, CROP_CELL[1] * rows)
    fig, axes = _figure(size, rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    row = 0
    for group in groups:
        for index, (label, crop) in enumerate(group):
            ax = axes[row + index // columns, index % columns]
            if crop is None:
                ax.text(0.5, 0.5, textwrap.fill(label, 30), ha="center", va="center", fontsize=8, wrap=True)
            else:
                ax.imshow(crop, interpolation="nearest")
                ax.set_title(textwrap.fill(label, 28), fontsize=8)
        row += math.ceil(len(group) / columns)
    fig.suptitle(textwrap.fill(title, int(size[0] * 15)), fontsize=9)
    if note:
        _note(fig, note, size[0])
    _save(fig, path)
    plt.close(fig)


def crop_grid_shape(count: int, groups: list[int] | None = None) -> tuple[int, int]:
    """(columns, rows) of the crop grid: ``count`` crops (HR included) of one image, or of each image whose crop
    counts ``groups`` lists (each image starts a row)."""
    columns = min(4, count)
    return columns, sum(math.ceil(n / columns) for n in (groups or [count]))


def figure_tradeoff(summary_csv, dataset: str, labels: dict[str, str], png: str | Path, note: str) -> None:
    """Fig. 5: RMSE against LPIPS of every model on ``dataset``."""
    summary = read_summary(summary_csv)
    part = summary[summary["dataset"] == dataset]
    points = []
    for variant in part["variant"].unique():
        row = part[part["variant"] == variant].set_index("metric")
        get = lambda m, c: float(row.loc[m, c]) if m in row.index else math.nan  # noqa: E731
        points.append({"label": labels.get(variant) or RELEASED_MODELS.get(variant, variant), "rmse": get("rmse", "mean"), "lpips": get("lpips", "mean"),
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


def figure_crops(images: list[dict], crop: int, png: str | Path, scale_note: str) -> None:
    """Figs. 6-8: for each image (``reports.qualitative.images``: figure, dataset, image, at) the same crop from HR
    and every model, side by side.

    Each item of ``images`` also carries ``hr_dir`` and ``sr_dirs`` (model label → folder of that dataset's SR
    images). The crop's top-left HR pixel is ``at`` when given, else the HR image's most textured
    ``crop``-sized block (largest Y variance), where the methods differ most. An image the dataset lacks is an n/a
    panel naming it.
    """
    groups, places = crop_panels(images, crop)
    crop_grid(groups, png, f"{crop}x{crop} crops (top, left in HR pixels): {'; '.join(places) or 'none'}",
              scale_note)


def crop_panels(images: list[dict], crop: int) -> tuple[list[list[tuple[str, np.ndarray | None]]], list[str]]:
    """The panels of :func:`figure_crops`: per image, (label, crop) of HR and of every model (one (reason, None) when
    the dataset lacks the image), and where each crop was taken."""
    groups, places = [], []
    for item in images:
        name = f"{item.get('figure') + ': ' if item.get('figure') else ''}{item['dataset']}/{item['image']}"
        hr_path = next((p for p in list_images(item["hr_dir"]) if p.stem == item["image"]), None)
        if hr_path is None:
            groups.append([(f"{name}: n/a, no image '{item['image']}' in {item['dataset']} "
                            f"(reports.qualitative.images)", None)])
            continue
        hr = read_image(hr_path)
        top, left = item.get("at") or _textured_block(hr, crop)
        top, left = min(top, max(0, hr.shape[0] - crop)), min(left, max(0, hr.shape[1] - crop))  # inside the image
        places.append(f"{name} at ({top}, {left}){'' if item.get('at') else ', most textured block'}")
        cut = lambda img: img[top : top + crop, left : left + crop]  # noqa: E731
        groups.append([(f"{name} — HR", cut(hr))] + [
            (label, cut(read_image(Path(folder) / f"{hr_path.stem}.png"))) for label, folder in item["sr_dirs"].items()])
    return groups, places


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
        figure_crops(spec["images"], spec["crop"], png, note)
    else:
        raise KeyError(f"unknown figure '{name}'; known: {', '.join(FIGURES)}")

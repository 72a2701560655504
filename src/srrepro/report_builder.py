"""Build the report artefacts from pipeline outputs: summary, paper tables, model analysis, figures, index.

Inputs are plain files (metric CSVs, training logs, SR folders, model files); each function writes its outputs
atomically. The workflow calls these through the command line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from srrepro.atomic import atomic_path, write_text
from srrepro.figures import crop_grid, split_plot, tradeoff_plot, training_curves
from srrepro.images import list_images, read_image
from srrepro.inference import count_parameters
from srrepro.models import build_model
from srrepro.paper_report import write_paper_table
from srrepro.paper_tables import PAPER_GENERATORS, TABLES
from srrepro.published import load_published
from srrepro.reports import read_metric_files, summarise

RECOGNITION_DATASET = "ImageNet CLS-LOC val (first 1000)"


def write_summary(metric_files: list[str | Path], out_csv: str | Path, out_json: str | Path | None = None) -> pd.DataFrame:
    """Mean ± std over seeds of every (variant, dataset, metric), from per-image metric CSVs.

    ``out_json`` gets the means as ``{variant: {dataset: {metric: mean}}}`` (null where n/a), for ``dvc metrics``.
    """
    summary = summarise(read_metric_files(metric_files))
    with atomic_path(out_csv) as tmp:
        summary.to_csv(tmp, index=False)
    if out_json:
        nested: dict = {}
        for row in summary.itertuples():
            value = None if pd.isna(row.mean) else round(float(row.mean), 6)
            nested.setdefault(row.variant, {}).setdefault(row.dataset, {})[row.metric] = value
        write_text(out_json, json.dumps(nested, indent=1, sort_keys=True))
    return summary


def read_summary(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"note": str}, keep_default_na=True).fillna({"note": ""})


def build_paper_table(name: str, summary_csv, dataset_map: dict, md: str | Path, csv: str | Path, scale_note: str):
    """One of the papers' tables (see :data:`srrepro.paper_tables.TABLES`) with ours beside the published values."""
    if name not in TABLES:
        raise KeyError(f"unknown table '{name}'; known: {', '.join(TABLES)}")
    mapping = {**dataset_map, RECOGNITION_DATASET: RECOGNITION_DATASET}
    return write_paper_table(TABLES[name], read_summary(summary_csv), mapping, md, csv, scale_note)


def _timing(sr_dir: Path) -> float:
    path = sr_dir / "timing.json"
    return json.loads(path.read_text())["seconds_per_image"] if path.is_file() else math.nan


def model_analysis(
    models: dict[str, dict], timing_dataset: str, md: str | Path, csv: str | Path, scale_note: str
) -> pd.DataFrame:
    """Sec. IV-E: generator parameters (paper-scale architecture and ours) and inference time per image.

    ``models``: paper method → {variant, files: [model.pt per seed], sr_dirs: [its SR folder of the timing set]}. The paper-scale architectures
    (:data:`srrepro.paper_tables.PAPER_GENERATORS`) are built and counted exactly, no training needed.
    """
    from srrepro.models.checkpoints import load_model
    from srrepro.models.feature_sharing import FeatureSharingGAN

    published = load_published()
    published = published[(published["paper"] == "fasrgan") & (published["table"] == "model_analysis")]
    rows = []
    for method, spec in models.items():
        paper_params = published[(published["method"] == method) & (published["metric"] == "params_M")]["value"]
        paper_time = published[(published["method"] == method) & (published["metric"] == "time_s")]["value"]
        arch = PAPER_GENERATORS.get(method)
        full = build_model(arch["arch"], **{k: v for k, v in arch.items() if k != "arch"}) if arch else None
        paper_scale = _generator_parameters(full, FeatureSharingGAN) if full is not None else math.nan
        ours = [_generator_parameters(load_model(f), FeatureSharingGAN) for f in spec["files"]]
        times = [_timing(Path(folder)) for folder in spec["sr_dirs"]]
        rows.append(
            {
                "method": method,
                "paper_params_M": paper_params.iloc[0] if len(paper_params) else math.nan,
                "ours_paper_scale_params_M": paper_scale / 1e6,
                "ours_demo_params_M": (np.mean(ours) / 1e6) if ours else math.nan,
                "paper_time_s": paper_time.iloc[0] if len(paper_time) else math.nan,
                "ours_time_s": float(np.nanmean(times)) if any(not math.isnan(t) for t in times) else math.nan,
            }
        )
    table = pd.DataFrame(rows)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    body = tabulate(table, headers="keys", tablefmt="github", showindex=False, floatfmt=".4f")
    notes = [
        "Parameters count the generator as the paper does: for Fs variants the shared extractor E plus the trunk G, "
        "the discriminator excluded.",
        "`ours_paper_scale_params_M` builds the paper-scale architecture (config/paper.yaml widths) and counts it "
        "exactly; `ours_demo_params_M` counts the trained models of this run.",
        f"Times: mean seconds per image of SR inference on `{timing_dataset}` on this machine "
        "(the paper: Urban100 on an RTX 2080Ti GPU), so only ratios between models are comparable.",
    ]
    write_text(md, f"# Model analysis (Sec. IV-E)\n\n{scale_note}\n\n{body}\n" + "".join(f"\n- {n}" for n in notes) + "\n")
    return table


def _generator_parameters(model, pair_type) -> int:
    if isinstance(model, pair_type):
        return sum(p.numel() for p in model.generator_parameters())
    return count_parameters(model)


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

"""Sec. IV-E of the FASRGAN paper: generator parameters (paper-scale architectures and ours) and inference time."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from srrepro.atomic import atomic_path
from srrepro.inference import TIMING_FILE
from srrepro.models import build_model
from srrepro.models.checkpoints import load_model
from srrepro.models.pairs import generator_parameter_count
from srrepro.reporting.documents import Bullets, Document, Table, write_document
from srrepro.reporting.published_values import load_published
from srrepro.reporting.table_specs import PAPER_GENERATORS


def _timing(sr_dir: Path) -> float:
    path = sr_dir / TIMING_FILE
    return json.loads(path.read_text())["seconds_per_image"] if path.is_file() else math.nan


def model_analysis(
    models: dict[str, dict], timing_dataset: str, md: str | Path, csv: str | Path, scale_note: str,
    html: str | Path | None = None,
) -> pd.DataFrame:
    """Sec. IV-E: generator parameters (paper-scale architecture and ours) and inference time per image.

    ``models``: paper method → {variant, files: [model.pt per seed], sr_dirs: [its SR folder of the timing set]}. The paper-scale architectures
    (:data:`srrepro.reporting.table_specs.PAPER_GENERATORS`) are built and counted exactly, no training needed.
    """
    published = load_published()
    published = published[(published["paper"] == "fasrgan") & (published["table"] == "model_analysis")]
    rows = []
    for method, spec in models.items():
        paper_params = published[(published["method"] == method) & (published["metric"] == "params_M")]["value"]
        paper_time = published[(published["method"] == method) & (published["metric"] == "time_s")]["value"]
        arch = PAPER_GENERATORS.get(method)
        full = build_model(arch["arch"], **{k: v for k, v in arch.items() if k != "arch"}) if arch else None
        paper_scale = generator_parameter_count(full) if full is not None else math.nan
        ours = [generator_parameter_count(load_model(f, with_prior=False)) for f in spec["files"]]
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
    notes = [
        "Parameters count the generator as the paper does: for Fs variants the shared extractor E plus the trunk G, "
        "the discriminator excluded.",
        "`ours_paper_scale_params_M` builds the paper-scale architecture (config/paper.yaml widths) and counts it "
        "exactly; `ours_demo_params_M` counts the trained models of this run.",
        f"Times: mean seconds per image of SR inference on `{timing_dataset}` on this machine "
        "(the paper: Urban100 on an RTX 2080Ti GPU), so only ratios between models are comparable.",
    ]
    shown = table.copy()
    for column in shown.columns[1:]:
        shown[column] = ["–" if math.isnan(v) else f"{v:.4f}" for v in table[column]]
    doc = Document("model_analysis", "Model analysis (Sec. IV-E)", [Table(shown), Bullets("", tuple(notes))],
                   scale_note)
    write_document(doc, md, html)
    return table

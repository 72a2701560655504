"""What training did, per seed and test set: every PSNR-oriented model against bicubic, every GAN phase against the
model it starts from (the perception–distortion trade-off of FASRGAN Fig. 5), and the arithmetic each run used.

Expectations, the papers' own: a PSNR-oriented model beats bicubic in PSNR (by :data:`PSNR_MARGIN` dB or more); a GAN
phase ends with a lower LPIPS than its PSNR-oriented start, at a lower PSNR. Each (model, seed, test set) gets
*holds* or *fails*; models with neither expectation (trained from scratch by a GAN procedure, e.g. Wu's) are listed
against bicubic with '–'.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from srrepro.atomic import atomic_path
from srrepro.evaluation.paired_folders import dataset_means
from srrepro.reporting.documents import Bullets, Document, Paragraph, Table, write_document
from srrepro.reporting.summary import read_metric_files, split_model

PSNR_MARGIN = 0.5  # dB over bicubic expected of a PSNR-oriented model
HOLDS, FAILS, NONE = "holds", "fails", "–"
EXPECTED_PSNR = f"PSNR ≥ bicubic + {PSNR_MARGIN:g} dB"
EXPECTED_TRADE_OFF = "lower LPIPS, lower PSNR than its start"


def precision_text(manifest: str | Path | None) -> str:
    """How a run trained, from its manifest's ``precision`` record: e.g. 'bf16 + channels_last (auto: ...)'."""
    try:
        precision = json.loads(Path(manifest).read_text())["precision"]
    except (TypeError, OSError, ValueError, KeyError):
        return "n/a (no manifest)"
    text = precision["amp"] + (" + channels_last" if precision.get("channels_last") else "")
    return f"{text} ({precision['chosen']})" if precision.get("chosen") else text


def _reference(variant: str, variants: dict[str, dict]) -> tuple[str, str]:
    """(model compared with, expectation): bicubic for PSNR-oriented models, else the trained start (same seed)."""
    spec = variants[variant]
    if spec["procedure"] == "psnr":
        return "bicubic", EXPECTED_PSNR
    if spec.get("init_from") in variants:
        return spec["init_from"], EXPECTED_TRADE_OFF
    return "bicubic", NONE


def training_effects(rows: pd.DataFrame, variants: dict[str, dict], manifests: dict[str, str] | None = None,
                     labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (trained model, seed, test set): PSNR and LPIPS, their change against the reference and the
    verdict. ``variants``: {name: {procedure, init_from}}; ``manifests``: {'<variant>-s<seed>': manifest path}."""
    means = dataset_means(rows).pivot_table(index=["model", "dataset"], columns="metric", values="value",
                                            aggfunc="first", dropna=False)
    labels = labels or {}
    records = []
    for model, dataset in means.index:
        variant, seed = split_model(model)
        if variant not in variants or seed is None:
            continue
        reference, expected = _reference(variant, variants)
        reference_model = reference if reference == "bicubic" else f"{reference}-s{seed}"
        if (reference_model, dataset) not in means.index:
            continue
        nan = float("nan")
        psnr, lpips = (means.loc[(model, dataset)].get(k, nan) for k in ("psnr", "lpips"))
        ref_psnr, ref_lpips = (means.loc[(reference_model, dataset)].get(k, nan) for k in ("psnr", "lpips"))
        d_psnr, d_lpips = psnr - ref_psnr, lpips - ref_lpips
        if expected == EXPECTED_PSNR:
            verdict = HOLDS if d_psnr >= PSNR_MARGIN else FAILS
        elif expected == EXPECTED_TRADE_OFF:
            verdict = HOLDS if d_lpips < 0 and d_psnr < 0 else FAILS
        else:
            verdict = NONE
        if expected != NONE and pd.isna(d_psnr if expected == EXPECTED_PSNR else d_lpips + d_psnr):
            verdict = "n/a"
        records.append({
            "model": labels.get(variant, variant), "variant": variant, "seed": seed, "dataset": dataset,
            "trained in": precision_text((manifests or {}).get(model)),
            "compared with": labels.get(reference, reference), "PSNR": psnr, "ΔPSNR": d_psnr,
            "LPIPS": lpips, "ΔLPIPS": d_lpips, "expected": expected, "verdict": verdict,
        })
    return pd.DataFrame(records)


def _counts(effects: pd.DataFrame, expected: str) -> str:
    rows = effects[effects["expected"] == expected]
    holds = int((rows["verdict"] == HOLDS).sum())
    failing = sorted({f"{r.variant} (seed {r.seed}, {r.dataset})" for r in rows.itertuples() if r.verdict != HOLDS})
    return f"{holds} of {len(rows)}" + (f"; not: {', '.join(failing)}" if failing else "")


def write_training_effects(metric_files: list[str | Path], variants: dict[str, dict], manifests: dict[str, str],
                           labels: dict[str, str], md_path, csv_path, html_path=None,
                           scale_note: str = "") -> pd.DataFrame:
    """The table of :func:`training_effects` as Markdown, CSV and HTML, with a count of what holds."""
    effects = training_effects(read_metric_files(metric_files), variants, manifests, labels)
    with atomic_path(csv_path) as tmp:
        effects.to_csv(tmp, index=False)
    shown = effects.drop(columns=["variant"]).copy()
    for column, digits in (("PSNR", 2), ("ΔPSNR", 2), ("LPIPS", 4), ("ΔLPIPS", 4)):
        shown[column] = [("n/a" if pd.isna(v) else f"{v:+.{digits}f}" if column.startswith("Δ") else f"{v:.{digits}f}")
                         for v in shown[column]]
    blocks = [
        Paragraph("Per seed and test set: each PSNR-oriented model against bicubic, each GAN phase against the model "
                  "it starts from (same seed). The papers' expectations: PSNR-oriented models beat bicubic; a GAN "
                  "phase trades PSNR for a lower LPIPS (the perception–distortion trade-off, Fig. 5). 'trained in': "
                  "the arithmetic of the run, from its manifest."),
        Bullets("What holds:", [f"PSNR-oriented models ≥ bicubic + {PSNR_MARGIN:g} dB: "
                                f"{_counts(effects, EXPECTED_PSNR)}",
                                f"GAN phases with lower LPIPS and lower PSNR than their start: "
                                f"{_counts(effects, EXPECTED_TRADE_OFF)}"]),
        Table(shown, "claims", verdict_columns=("verdict",)),
    ]
    write_document(Document("training_effects", "What training did: against bicubic and against the start",
                            blocks, scale_note), md_path, html_path)
    return effects

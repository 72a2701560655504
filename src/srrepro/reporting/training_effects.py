"""What training did, per seed and test set: every PSNR-oriented model against bicubic, every GAN phase against the
model it starts from (the perception–distortion trade-off of FASRGAN Fig. 5), and the arithmetic each run used.

Expectations, the papers' own: a PSNR-oriented model beats bicubic in PSNR (by :data:`PSNR_MARGIN` dB or more); a GAN
phase ends with a lower LPIPS than its PSNR-oriented start, at a lower PSNR. Each (model, seed, test set) gets
*holds* or *fails*; models with neither expectation (trained from scratch by a GAN procedure, e.g. Wu's) are listed
against bicubic with '–'. On a test set with a published SRCNN PSNR (:mod:`~srrepro.reporting.literature`), each
PSNR-oriented model also gets a row against it: the literature's first CNN is the bar a real training set should clear.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from srrepro.atomic import atomic_path
from srrepro.evaluation.paired_folders import dataset_means
from srrepro.reporting.documents import Bullets, Document, Paragraph, Table, write_document
from srrepro.reporting.literature import literature_for, literature_label, no_literature_line
from srrepro.reporting.summary import read_metric_files, split_model

PSNR_MARGIN = 0.5  # dB over bicubic expected of a PSNR-oriented model
HOLDS, FAILS, NONE = "holds", "fails", "–"
EXPECTED_PSNR = f"PSNR ≥ bicubic + {PSNR_MARGIN:g} dB"
EXPECTED_TRADE_OFF = "lower LPIPS, lower PSNR than its start"
LITERATURE_METHOD = "SRCNN"  # the published PSNR every PSNR-oriented model is held against, where published
EXPECTED_LITERATURE = f"PSNR > {LITERATURE_METHOD}'s published PSNR"
COLUMNS = ("model", "variant", "seed", "dataset", "trained in", "compared with", "PSNR", "ΔPSNR", "LPIPS", "ΔLPIPS",
           "expected", "verdict")


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
    verdict; a PSNR-oriented model gets a second row against SRCNN's published PSNR where the test set has one.
    ``variants``: {name: {procedure, init_from}}; ``manifests``: {'<variant>-s<seed>': manifest path}."""
    means = dataset_means(rows).pivot_table(index=["model", "dataset"], columns="metric", values="value",
                                            aggfunc="first", dropna=False)
    labels = labels or {}
    published = literature_for(means.index.get_level_values("dataset"), [LITERATURE_METHOD])
    published = published[published["metric"] == "psnr"].set_index("dataset")
    nan = float("nan")
    records = []
    for model, dataset in means.index:
        variant, seed = split_model(model)
        if variant not in variants or seed is None:
            continue
        psnr, lpips = (means.loc[(model, dataset)].get(k, nan) for k in ("psnr", "lpips"))
        row = {"model": labels.get(variant, variant), "variant": variant, "seed": seed, "dataset": dataset,
               "trained in": precision_text((manifests or {}).get(model)), "PSNR": psnr, "LPIPS": lpips}
        reference, expected = _reference(variant, variants)
        reference_model = reference if reference == "bicubic" else f"{reference}-s{seed}"
        if (reference_model, dataset) in means.index:
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
            records.append({**row, "compared with": labels.get(reference, reference), "ΔPSNR": d_psnr,
                            "ΔLPIPS": d_lpips, "expected": expected, "verdict": verdict})
        if expected == EXPECTED_PSNR and dataset in published.index:
            d_psnr = psnr - published.loc[dataset, "value"]
            records.append({**row, "compared with": literature_label(LITERATURE_METHOD, published.loc[dataset, "cite"]),
                            "ΔPSNR": d_psnr, "ΔLPIPS": nan, "expected": EXPECTED_LITERATURE,
                            "verdict": "n/a" if pd.isna(d_psnr) else HOLDS if d_psnr > 0 else FAILS})
    return pd.DataFrame(records, columns=COLUMNS)


def _counts(effects: pd.DataFrame, expected: str) -> str:
    rows = effects[effects["expected"] == expected]
    holds = int((rows["verdict"] == HOLDS).sum())
    failing = sorted({f"{r.variant} (seed {r.seed}, {r.dataset})" for r in rows.itertuples() if r.verdict != HOLDS})
    return f"{holds} of {len(rows)}" + (f"; not: {', '.join(failing)}" if failing else "")


def write_training_effects(metric_files: list[str | Path], variants: dict[str, dict], manifests: dict[str, str],
                           labels: dict[str, str], md_path, csv_path, html_path=None,
                           scale_note: str = "") -> pd.DataFrame:
    """The table of :func:`training_effects` as Markdown, CSV and HTML, with a count of what holds."""
    rows = read_metric_files(metric_files)
    effects = training_effects(rows, variants, manifests, labels)
    with atomic_path(csv_path) as tmp:
        effects.to_csv(tmp, index=False)
    shown = effects.drop(columns=["variant"]).copy()
    published = shown["expected"] == EXPECTED_LITERATURE
    for column, digits in (("PSNR", 2), ("ΔPSNR", 2), ("LPIPS", 4), ("ΔLPIPS", 4)):
        shown[column] = [("–" if column == "ΔLPIPS" and against_literature else "n/a" if pd.isna(v)
                          else f"{v:+.{digits}f}" if column.startswith("Δ") else f"{v:.{digits}f}")
                         for v, against_literature in zip(shown[column], published)]
    datasets = list(dict.fromkeys(rows["dataset"]))
    if literature_for(datasets, [LITERATURE_METHOD]).empty:
        literature = no_literature_line(datasets, f"{LITERATURE_METHOD}'s published PSNR", [LITERATURE_METHOD])
    else:
        literature = (f"PSNR-oriented models above {LITERATURE_METHOD}'s published PSNR: "
                      f"{_counts(effects, EXPECTED_LITERATURE)}")
    blocks = [
        Paragraph("Per seed and test set: each PSNR-oriented model against bicubic, each GAN phase against the model "
                  "it starts from (same seed). The papers' expectations: PSNR-oriented models beat bicubic; a GAN "
                  "phase trades PSNR for a lower LPIPS (the perception–distortion trade-off, Fig. 5). On a test set "
                  f"with a published {LITERATURE_METHOD} PSNR (same protocol), each PSNR-oriented model is also held "
                  "against it (– : not published). 'trained in': the arithmetic of the run, from its manifest."),
        Bullets("What holds:", [f"PSNR-oriented models ≥ bicubic + {PSNR_MARGIN:g} dB: "
                                f"{_counts(effects, EXPECTED_PSNR)}",
                                literature,
                                f"GAN phases with lower LPIPS and lower PSNR than their start: "
                                f"{_counts(effects, EXPECTED_TRADE_OFF)}"]),
        Table(shown, "claims", verdict_columns=("verdict",)),
    ]
    write_document(Document("training_effects", "What training did: against bicubic and against the start",
                            blocks, scale_note), md_path, html_path)
    return effects

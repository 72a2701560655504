"""The summary of a run: per-image metric rows → dataset means → mean ± std over seeds; the overview table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from srrepro.atomic import atomic_path, write_text
from srrepro.data.dataset_sources import SUBSETS
from srrepro.errors import SrreproError
from srrepro.evaluation.paired_folders import COLUMNS, dataset_means
from srrepro.reporting.documents import Bullets, Document, NumberedNotes, Paragraph, Table, write_document
from srrepro.reporting.literature import literature_label, load_literature, no_literature_line
from srrepro.reporting.table_specs import RELEASED_MODELS

_SEED_SUFFIX = re.compile(r"^(?P<variant>.+)-s(?P<seed>\d+)$")
DIGITS = {"psnr": 2, "ssim": 4, "psnr_rgb": 2, "ssim_rgb": 4, "rmse": 3, "lpips": 4, "niqe": 4, "ma": 4, "pi": 4}


def read_metric_files(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate tidy metric CSVs (model, dataset, image, metric, value, note); a missing or foreign file is an
    error naming it."""
    frames = []
    for path in paths:
        if not Path(path).is_file():
            raise SrreproError(f"metric file {path} does not exist; `srrepro evaluate-model ... --out {path}` "
                               f"(the workflow's evaluate_model rule) writes it")
        try:
            frame = pd.read_csv(path, keep_default_na=True, dtype={"note": str})
        except (ValueError, UnicodeDecodeError) as err:
            raise SrreproError(f"metric file {path} is not a readable CSV: {err}") from err
        if missing := [c for c in COLUMNS if c not in frame.columns]:
            raise SrreproError(f"metric file {path} lacks the column(s) {', '.join(missing)}; expected "
                               f"{', '.join(COLUMNS)} (as `srrepro evaluate-model` writes)")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def split_model(model: str) -> tuple[str, int | None]:
    """``'fasrgan-s1'`` → ``('fasrgan', 1)``; ``'bicubic'`` → ``('bicubic', None)``."""
    match = _SEED_SUFFIX.match(model)
    return (match["variant"], int(match["seed"])) if match else (model, None)


def with_subsets(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-image ``rows`` plus, for every model evaluated on a subset's parent dataset, its rows of the subset's
    images as dataset ``<subset>`` (:data:`~srrepro.data.dataset_sources.SUBSETS`); a model that lacks one of
    them gets one n/a row per metric saying which."""
    parts = [rows]
    for subset in SUBSETS.values():
        for (model, metric), group in rows[rows["dataset"] == subset.parent].groupby(["model", "metric"], sort=False):
            kept = group[group["image"].isin(subset.images)]
            missing = [image for image in subset.images if image not in set(kept["image"])]
            if missing:
                kept = pd.DataFrame([{"model": model, "image": "", "metric": metric, "value": np.nan,
                                      "note": f"{subset.name} ({subset.source}): image(s) {', '.join(missing)} not "
                                              f"among the evaluated images of {subset.parent}"}])
            parts.append(kept.assign(dataset=subset.name))
    return pd.concat(parts, ignore_index=True)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds of each (variant, dataset, metric) dataset mean, subsets included (:func:`with_subsets`).

    Columns: variant, dataset, metric, mean, std, seeds, note. ``mean`` is NaN with a note when unavailable.
    """
    means = dataset_means(with_subsets(rows))
    means[["variant", "seed"]] = [split_model(m) for m in means["model"]]
    out = []
    for (variant, dataset, metric), group in means.groupby(["variant", "dataset", "metric"], sort=False):
        values = group["value"]
        notes = "; ".join(sorted({n for n in group["note"].fillna("") if n}))
        available = values.notna().all()
        out.append(
            {
                "variant": variant,
                "dataset": dataset,
                "metric": metric,
                "mean": values.mean() if available else np.nan,
                "std": values.std(ddof=1) if available and len(values) > 1 else np.nan,
                "seeds": len(values),
                "note": notes,
            }
        )
    return pd.DataFrame(out)


def format_cell(mean: float, std: float, metric: str, na: str = "n/a") -> str:
    """``'30.15 ± 0.02'``; ``na`` when the value could not be computed."""
    if pd.isna(mean):
        return na
    digits = DIGITS.get(metric.lower(), 4)
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def wide_table(summary: pd.DataFrame, labels: dict[str, str], notes: NumberedNotes) -> pd.DataFrame:
    """One row per variant, one column per (dataset, metric), cells formatted; n/a cells point into ``notes``."""
    summary = summary.copy()
    summary["label"] = [labels.get(v, v) for v in summary["variant"]]
    summary["column"] = summary["dataset"] + " " + summary["metric"].str.upper()
    summary["cell"] = [format_cell(m, s, k, notes.cell(n) if pd.isna(m) else "")
                       for m, s, k, n in zip(summary["mean"], summary["std"], summary["metric"], summary["note"])]
    table = summary.pivot(index="label", columns="column", values="cell")
    order = list(dict.fromkeys(summary["label"]))
    columns = list(dict.fromkeys(summary["column"]))
    return table.loc[order, columns]


def model_labels(models: list[str], variant_labels: dict[str, str]) -> dict[str, str]:
    """Display labels by variant name; bicubic and the authors' released models get their own."""
    labels = {"bicubic": "Bicubic", **RELEASED_MODELS}
    labels.update(variant_labels)
    return {split_model(m)[0]: labels.get(split_model(m)[0], m) for m in models}


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


def literature_rows(columns: list[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The published rows (:mod:`~srrepro.reporting.literature`) under the overview's ``columns`` ('<dataset>
    <METRIC>'), '–' where a method has no published value, and one 'label: source' line per row; none when no column
    has a published value."""
    found = load_literature()
    found = found[(found["dataset"] + " " + found["metric"].str.upper()).isin(columns)]
    rows, sources = {}, []
    for (method, cite), group in found.groupby(["method", "cite"], sort=False):
        label = literature_label(method, cite)
        rows[label] = {c: "–" for c in columns}
        for r in group.itertuples():
            rows[label][f"{r.dataset} {r.metric.upper()}"] = format_cell(r.value, np.nan, r.metric)
        sources.append(f"{label}: {'; '.join(dict.fromkeys(group['source']))}")
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns), tuple(sources)


def write_overview(metric_files: list[str | Path], labels: dict[str, str], title: str, md_path, csv_path,
                   html_path=None, scale_note: str = "") -> pd.DataFrame:
    """Every model on every test set: one row per model, one column per (dataset, metric); below them the published
    rows of the literature for these columns, or one line saying no evaluated dataset has any."""
    rows = read_metric_files(metric_files)
    notes = NumberedNotes()
    summary = summarise(rows)
    ours = wide_table(summary, model_labels(list(rows["model"].unique()), labels), notes)
    published, sources = literature_rows(list(ours.columns))
    table = pd.concat([ours, published])
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp)
    legend = "Cells: mean over the images of a dataset; mean ± std over seeds where several seeds were trained."
    if sources:
        legend += " Rows '(published: …)': the literature's values on the same protocol (– where not published)."
    row_classes = ("",) * len(ours) + ("paper",) * len(published)
    blocks = [Paragraph(legend), Table(table.rename_axis("model").reset_index(), row_classes=row_classes)]
    if sources:
        blocks.append(Bullets("Published rows:", sources))
    else:
        blocks.append(Paragraph(no_literature_line(list(dict.fromkeys(summary["dataset"])), "Published rows")))
    if notes.items():
        blocks.append(Bullets("n/a:", notes.items()))
    write_document(Document("overview", title, blocks, scale_note), md_path, html_path)
    return table

"""Render a paper table with the published values beside ours and the authors' released models, and judge its claims.

Our values come from a summary (variant, dataset, metric, mean, std, seeds, note) — see
:func:`srrepro.reporting.summary.summarise`. ``dataset_map`` maps each dataset the paper names to the dataset we
evaluated in its place (None: not available). One evaluated dataset often stands in for several of the paper's (the
demo's ``demo_test`` for Set5, Urban100, ...): the table then shows our values once, with the paper's values for
each dataset it stands for, and each claim is judged once on it (with the paper's own verdict per paper dataset).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from srrepro.atomic import write_text
from srrepro.metrics import metric_spec
from srrepro.metrics.registry import RECOGNITION_DATASET
from srrepro.reporting.documents import Bullets, Document, Heading, NumberedNotes, Paragraph, Table, write_document
from srrepro.reporting.published_values import load_published
from srrepro.reporting.claim_intervals import (FAILS, HOLDS, METHOD_NAMES, UNDECIDED, UNKNOWN, Interval, interval,
                                               paired_differences)
from srrepro.reporting.summary import DIGITS, read_metric_files, read_summary, split_model, with_subsets
from srrepro.reporting.table_specs import TABLES, TableSpec

TIE = "tie"  # the paper's two numbers are equal
CLAIM_COLUMNS = ["claim", "our_dataset", "dataset", "paper", "ours", "ours_interval", "seeds × images",
                 "seeds to decide", "released", "released_interval"]
NOT_RELEASED = "–"  # a claim about a method whose weights were not released
RELEASED_NOT_EVALUATED = "released weights not evaluated: run `snakemake released` (fetches the weights; see docs/paper-scale.md)"


def _published_lookup(spec: TableSpec) -> dict[tuple[str, str, str, str], float]:
    frame = load_published()
    frame = frame[(frame["paper"] == spec.paper) & (frame["table"] == spec.name)]
    return {(r.method, r.setting, r.dataset, r.metric): r.value for r in frame.itertuples()}


def _measured(summary: pd.DataFrame, model: str, dataset: str, metric: str, absent: str) -> tuple[float, float, int, str]:
    """(mean, std, seeds, note) of ``model`` in the summary; ``absent`` is the note when the model is not in it."""
    if model not in set(summary["variant"]):
        return math.nan, math.nan, 0, absent
    hit = summary[(summary["variant"] == model) & (summary["dataset"] == dataset) & (summary["metric"] == metric.lower())]
    if hit.empty:
        return math.nan, math.nan, 0, f"{metric} was not computed on {dataset} (evaluation.metrics, data.test)"
    row = hit.iloc[0]
    note = row["note"] if isinstance(row["note"], str) else ""
    return float(row["mean"]), float(row["std"]), int(row["seeds"]), note


def compare(spec: TableSpec, summary: pd.DataFrame, dataset_map: dict[str, str | None]) -> pd.DataFrame:
    """Long table: one row per (row, paper dataset, metric) with the paper's value, ours, the released model's value,
    the difference ours − paper and the reasons for every n/a."""
    published = _published_lookup(spec)
    records = []
    for row in spec.rows:
        for dataset in spec.datasets:
            ours_dataset = dataset_map.get(dataset)
            for metric in spec.metrics:
                paper = published.get((row.method, row.setting, dataset, metric), math.nan)
                mean, std, seeds, note = math.nan, math.nan, 0, ""
                released, released_note = math.nan, ""
                if metric in spec.unreplicable:
                    note = released_note = spec.unreplicable[metric]
                elif ours_dataset is None:
                    note = released_note = _block_reason(dataset)
                else:
                    if row.variant is None:
                        note = row.reason
                    else:
                        absent = f"variant '{row.variant}' is not part of this configuration"
                        mean, std, seeds, note = _measured(summary, row.variant, ours_dataset,
                                                           spec.measured_as(metric), absent)
                    if row.released:
                        released, _, _, released_note = _measured(summary, row.released, ours_dataset,
                                                                  spec.measured_as(metric), RELEASED_NOT_EVALUATED)
                records.append(
                    {
                        "table": spec.name,
                        "method": row.method,
                        "setting": row.setting,
                        "variant": row.variant or "",
                        "released": row.released or "",
                        "dataset": dataset,
                        "our_dataset": ours_dataset or "",
                        "substitute": bool(ours_dataset) and ours_dataset != dataset,
                        "metric": metric,
                        "paper": paper,
                        "ours_mean": mean,
                        "ours_std": std,
                        "seeds": seeds,
                        "difference": mean - paper if not (math.isnan(mean) or math.isnan(paper)) else math.nan,
                        "note": note if math.isnan(mean) else "",
                        "released_value": released,
                        "released_note": released_note if row.released and math.isnan(released) else "",
                    }
                )
    return pd.DataFrame(records)


def _block_reason(dataset: str) -> str:
    return f"dataset '{dataset}' is not available in this configuration (reports.datasets)"


def _key(method: str, setting: str) -> str:
    return f"{method}|{setting}" if setting else method


def _block(our_dataset: str, dataset: str) -> str:
    """The block a paper dataset's cells belong to: the dataset evaluated for it, or the paper dataset itself when
    nothing was evaluated for it."""
    return our_dataset or f"{dataset} (not evaluated)"


def verdict(better: float, worse: float, lower: bool) -> str:
    """Verdict on "better beats worse" from two single numbers (the paper's): holds, fails, or tie when equal."""
    if math.isnan(better) or math.isnan(worse):
        return UNKNOWN
    gain = (worse - better) if lower else (better - worse)
    return HOLDS if gain > 0 else FAILS if gain < 0 else TIE


def _per_image(values: pd.DataFrame | None, model: str, dataset: str, metric: str) -> pd.DataFrame:
    """Rows (seed, image, value) of ``model`` (a variant: every seed of it; or an unseeded model) on ``dataset``."""
    if values is None or not model:
        return pd.DataFrame(columns=["seed", "image", "value"])
    hit = values[(values["variant"] == model) & (values["dataset"] == dataset) & (values["metric"] == metric.lower())]
    return hit[["seed", "image", "value"]]


def judge(values: pd.DataFrame | None, better: str, worse: str, dataset: str, metric: str,
          method: str) -> Interval | None:
    """The interval of "``better`` beats ``worse``" on ``dataset`` from per-image values; None if either model has
    no values there."""
    a, b = _per_image(values, better, dataset, metric), _per_image(values, worse, dataset, metric)
    if a.empty or b.empty:
        return None
    d, why = paired_differences(a, b, metric_spec(metric).lower_is_better)
    if not d.size:
        return Interval(math.nan, math.nan, math.nan, 0, 0, method, UNKNOWN, None, why)
    return interval(d, method)


def judge_claims(spec: TableSpec, long: pd.DataFrame, values: pd.DataFrame | None = None,
                 method: str = "anova") -> pd.DataFrame:
    """Each claim judged once per evaluated dataset: on the paper's numbers (per paper dataset it stands for), on ours
    and on the authors' released models. Ours and the released models' are judged on the per-image ``values``
    (:func:`per_image_values`) with an interval (:mod:`srrepro.reporting.claim_intervals`, ``method``); without
    them (or with a value missing) the verdict is n/a."""
    index = {(_key(r.method, r.setting), r.dataset, r.metric): r for r in long.itertuples()}
    groups: dict[tuple, dict] = {}
    for claim in spec.claims:
        better = index.get((claim.better, claim.dataset, claim.metric))
        worse = index.get((claim.worse, claim.dataset, claim.metric))
        if better is None or worse is None:
            raise KeyError(f"claim '{claim.text}' of {spec.name} names a row or cell the table does not have")
        lower = metric_spec(claim.metric).lower_is_better
        block = _block(better.our_dataset, claim.dataset)
        group = groups.get((claim.metric, claim.better, claim.worse, block))
        if group is None:
            digits = DIGITS.get(claim.metric.lower(), 4)
            ours = released = None
            if better.our_dataset:
                measured = spec.measured_as(claim.metric)
                ours = (judge(values, better.variant, worse.variant, better.our_dataset, measured, method)
                        if not (math.isnan(better.ours_mean) or math.isnan(worse.ours_mean)) else None)
                if better.released and worse.released and not (
                        math.isnan(better.released_value) or math.isnan(worse.released_value)):
                    released = judge(values, better.released, worse.released, better.our_dataset, measured,
                                     method)
            group = groups[(claim.metric, claim.better, claim.worse, block)] = {
                "claim": claim.on(better.our_dataset or claim.dataset),
                "our_dataset": better.our_dataset,
                "datasets": [],
                "verdicts": [],
                "ours": ours.verdict if ours else UNKNOWN,
                "ours_interval": ours.text(digits) if ours else "",
                "seeds × images": f"{ours.seeds} × {ours.images}" if ours else "",
                "seeds to decide": ("" if not ours or ours.verdict != UNDECIDED else
                                    str(ours.seeds_needed) if ours.seeds_needed else "more seeds cannot"),
                "released": (released.verdict if released else UNKNOWN) if better.released and worse.released
                else NOT_RELEASED,
                "released_interval": released.text(digits) if released else "",
            }
        group["datasets"].append(claim.dataset)
        group["verdicts"].append(verdict(better.paper, worse.paper, lower))
    records = []
    for group in groups.values():
        same = group["datasets"] == [group["our_dataset"]] or not group["our_dataset"]
        paper = group["verdicts"][0] if same else "; ".join(
            f"{d}: {v}" for d, v in zip(group["datasets"], group["verdicts"]))
        records.append({**{k: v for k, v in group.items() if k not in ("datasets", "verdicts")},
                        "dataset": "; ".join(group["datasets"]), "paper": paper})
    return pd.DataFrame(records, columns=CLAIM_COLUMNS)


def per_image_values(rows: pd.DataFrame) -> pd.DataFrame:
    """Tidy per-image metric rows (model, dataset, image, metric, value, note; subsets added) as the values
    :func:`judge_claims` reads: columns variant, seed, dataset, image, metric, value."""
    rows = with_subsets(rows)
    split = [split_model(m) for m in rows["model"]]
    return rows.assign(variant=[v for v, _ in split], seed=[s for _, s in split],
                       metric=rows["metric"].str.lower())[["variant", "seed", "dataset", "image", "metric", "value"]]


def _fmt(value: float, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{DIGITS.get(metric.lower(), 4)}f}"


def layout(spec: TableSpec, long: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...], tuple[str, ...]]:
    """The table as read: a block per evaluated dataset, in it per metric our value, the released models' value and
    the paper's value for each paper dataset the block stands for; one column per compared method.

    Returns the frame, a CSS class per row and the numbered n/a reasons.
    """
    long = long.assign(label=[_key(m, s).replace("|", " — ") for m, s in zip(long["method"], long["setting"])],
                       block=[_block(o, d) for o, d in zip(long["our_dataset"], long["dataset"])])
    methods = list(dict.fromkeys(long["label"]))
    any_released = bool((long["released"] != "").any())
    reasons = NumberedNotes()
    rows, classes = [], []
    for block in dict.fromkeys(long["block"]):
        part = long[long["block"] == block]
        paper_sets = list(dict.fromkeys(part["dataset"]))
        evaluated = bool(part["our_dataset"].iloc[0])
        if not evaluated:  # the paper's values only; why ours are missing is said once, in the block's label
            block = f"{paper_sets[0]}: not evaluated, {reasons.cell(_block_reason(paper_sets[0]))}"
        for m_index, metric in enumerate(dict.fromkeys(part["metric"])):
            cells = part[part["metric"] == metric]
            first = cells[cells["dataset"] == paper_sets[0]].set_index("label")
            lines = [] if not evaluated else [("ours", "ours", {
                label: (reasons.cell(r.note) if math.isnan(r.ours_mean) else _fmt(r.ours_mean, metric)
                        + ("" if math.isnan(r.ours_std) else f" ± {_fmt(r.ours_std, metric)}"))
                for label, r in first.iterrows()})]
            if any_released and evaluated:
                lines.append(("released weights", "released", {
                    label: ("–" if not r.released else reasons.cell(r.released_note) if math.isnan(r.released_value)
                            else _fmt(r.released_value, metric))
                    for label, r in first.iterrows()}))
            for dataset in paper_sets:
                by_label = cells[cells["dataset"] == dataset].set_index("label")
                lines.append((f"paper: {dataset}", "paper", {
                    label: _fmt(r.paper, metric) + (f" (Δ {_fmt(r.difference, metric)})"
                                                     if dataset == r.our_dataset and not math.isnan(r.difference) else "")
                    for label, r in by_label.iterrows()}))
            for l_index, (source, css, values) in enumerate(lines):
                rows.append({"evaluated on": block if m_index == 0 and l_index == 0 else "",
                             "metric": metric if l_index == 0 else "", "values": source,
                             **{label: values.get(label, "") for label in methods}})
                start = " block-start" if m_index == 0 and l_index == 0 else ""
                classes.append(css + start)
    frame = pd.DataFrame(rows, columns=["evaluated on", "metric", "values", *methods])
    return frame, tuple(classes), reasons.items()


def protocol_note(spec: TableSpec) -> Bullets:
    """The table's evaluation protocol: how ours measures each of the paper's metrics (the registry's description)."""
    return Bullets("Protocol (how each metric is measured here):",
                   tuple(f"{metric}: `{spec.measured_as(metric)}`, {metric_spec(spec.measured_as(metric)).description}"
                         for metric in spec.metrics if metric not in spec.unreplicable))


def claims_blocks(claims: pd.DataFrame, released: bool, method: str) -> list:
    """The claims table and how to read it: each verdict with its mean paired difference and 95 % interval."""
    shown = claims.rename(columns={"paper": "paper's numbers", "released": "released weights",
                                   "ours_interval": "ours: mean difference [95 % CI]",
                                   "released_interval": "released difference"})
    columns = ["claim", "paper's numbers", "ours", "ours: mean difference [95 % CI]", "seeds × images",
               "seeds to decide"] + (["released weights", "released difference"] if released else [])
    return [Table(shown[columns], "claims", verdict_columns=("paper's numbers", "ours")
                  + (("released weights",) if released else ())),
            Paragraph(f"Verdicts on ours{' and on the released weights' if released else ''}: the mean over seeds and "
                      f"test images of the paired "
                      f"difference (positive: the claim's direction) with its 95 % interval ({METHOD_NAMES[method]}); "
                      f"*holds* / *fails* when the interval excludes 0, *{UNDECIDED}* otherwise, with the number of "
                      f"seeds at which the observed effect would be decided (\"more seeds cannot\": the test "
                      f"images' own spread is too large); n/a where a value is missing. The paper's verdict is on "
                      f"its published numbers, per paper dataset the evaluated one stands for.")]


def document(spec: TableSpec, long: pd.DataFrame, claims: pd.DataFrame, scale_note: str,
             method: str = "anova") -> Document:
    """The table with its scale note, legend, substitutions, n/a reasons and claims."""
    frame, classes, reasons = layout(spec, long)
    legend = ("Rows per evaluated dataset and metric: `ours` (mean ± std over seeds), `released weights` (the "
              "authors' released generator evaluated here; – where none was released) and `paper: <dataset>` (the "
              "published value for each paper dataset the evaluated one stands for; Δ = ours − paper where it is "
              "the same dataset).")
    if not (long["released"] != "").any():
        legend = legend.replace(", `released weights` (the authors' released generator evaluated here; – where none "
                                "was released)", "")
    blocks = [Paragraph(legend), protocol_note(spec), Table(frame, "results", classes)]
    subs = long[long["substitute"]].groupby("our_dataset", sort=False)["dataset"].unique()
    if not subs.empty:
        blocks.append(Bullets("Substituted datasets (ours evaluated on a different set than the paper's):",
                              tuple(f"`{ours}` stands for {', '.join(papers)}" for ours, papers in subs.items())))
    if reasons:
        blocks.append(Bullets("n/a:", reasons))
    if spec.notes:
        blocks.append(Bullets("How our rows are set up:", spec.notes))
    if not claims.empty:
        blocks += [Heading("Claims"), *claims_blocks(claims, (long["released"] != "").any(), method)]
    return Document(spec.name, spec.title, blocks, scale_note)


def write_paper_table(spec: TableSpec, summary: pd.DataFrame, dataset_map: dict, md_path: str | Path,
                      csv_path: str | Path, scale_note: str, html_path: str | Path | None = None,
                      values: pd.DataFrame | None = None, method: str = "anova") -> pd.DataFrame:
    """Compare, judge and write ``md_path``, ``html_path`` and ``csv_path`` (long form with claims appended as rows
    with metric 'claim'); return the claims."""
    long = compare(spec, summary, dataset_map)
    claims = judge_claims(spec, long, values, method)
    write_document(document(spec, long, claims, scale_note, method), md_path, html_path)
    out = pd.concat([long, claims.assign(table=spec.name, metric="claim")], ignore_index=True)
    write_text(csv_path, out.replace({np.nan: None}).to_csv(index=False))
    return claims


def build_paper_table(name: str, summary_csv, dataset_map: dict, md: str | Path, csv: str | Path, scale_note: str,
                      html: str | Path | None = None, metric_files: list[str | Path] = (), method: str = "anova"):
    """One of the papers' tables (see :data:`srrepro.reporting.table_specs.TABLES`) with ours beside the published
    values, its claims judged on the per-image values of ``metric_files``; returns the judged claims."""
    if name not in TABLES:
        raise KeyError(f"unknown table '{name}'; known: {', '.join(TABLES)}")
    mapping = {**dataset_map, RECOGNITION_DATASET: RECOGNITION_DATASET}
    values = per_image_values(read_metric_files(list(metric_files))) if metric_files else None
    return write_paper_table(TABLES[name], read_summary(summary_csv), mapping, md, csv, scale_note, html, values, method)

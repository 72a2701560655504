"""Render a paper table with the published value beside ours, the difference, and a verdict per claim.

Our values come from a summary (variant, dataset, metric, mean, std, seeds, note) — see
:func:`srrepro.reporting.summary.summarise`. ``dataset_map`` maps each dataset the paper names to the dataset we evaluated in
its place; where the names differ the cell is labelled as a substitute.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from srrepro.atomic import write_text
from srrepro.evaluation.recognition import DATASET as RECOGNITION_DATASET
from srrepro.metrics import metric_spec
from srrepro.reporting.published_values import load_published
from srrepro.reporting.summary import DIGITS, read_summary
from srrepro.reporting.table_specs import TABLES, TableSpec

HOLDS, FAILS, NOISE, UNKNOWN = "holds", "fails", "within seed noise", "n/a"


def _published_lookup(spec: TableSpec) -> dict[tuple[str, str, str, str], float]:
    frame = load_published()
    frame = frame[(frame["paper"] == spec.paper) & (frame["table"] == spec.name)]
    return {(r.method, r.setting, r.dataset, r.metric): r.value for r in frame.itertuples()}


def _ours(summary: pd.DataFrame, variant: str, dataset: str, metric: str) -> tuple[float, float, int, str]:
    hit = summary[(summary["variant"] == variant) & (summary["dataset"] == dataset) & (summary["metric"] == metric.lower())]
    if hit.empty:
        if variant not in set(summary["variant"]):
            return math.nan, math.nan, 0, f"variant '{variant}' is not part of this configuration"
        return math.nan, math.nan, 0, f"{metric} was not computed on {dataset} (evaluation.metrics, data.test)"
    row = hit.iloc[0]
    note = row["note"] if isinstance(row["note"], str) else ""
    return float(row["mean"]), float(row["std"]), int(row["seeds"]), note


def compare(spec: TableSpec, summary: pd.DataFrame, dataset_map: dict[str, str | None]) -> pd.DataFrame:
    """Long table: one row per (row, dataset, metric) with paper value, ours, difference and notes."""
    published = _published_lookup(spec)
    records = []
    for row in spec.rows:
        for dataset in spec.datasets:
            ours_dataset = dataset_map.get(dataset)
            for metric in spec.metrics:
                paper = published.get((row.method, row.setting, dataset, metric), math.nan)
                mean, std, seeds, note = math.nan, math.nan, 0, ""
                if metric in spec.unreplicable:
                    note = spec.unreplicable[metric]
                elif row.variant is None:
                    note = row.reason
                elif ours_dataset is None:
                    note = f"dataset '{dataset}' is not available in this configuration (reports.datasets)"
                else:
                    mean, std, seeds, note = _ours(summary, row.variant, ours_dataset, metric)
                records.append(
                    {
                        "table": spec.name,
                        "method": row.method,
                        "setting": row.setting,
                        "variant": row.variant or "",
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
                    }
                )
    return pd.DataFrame(records)


def _key(method: str, setting: str) -> str:
    return f"{method}|{setting}" if setting else method


def verdict(better: tuple[float, float], worse: tuple[float, float], lower: bool) -> str:
    """Verdict on "better beats worse" from (mean, std) pairs; noise is the combined seed std."""
    (b_mean, b_std), (w_mean, w_std) = better, worse
    if math.isnan(b_mean) or math.isnan(w_mean):
        return UNKNOWN
    gain = (w_mean - b_mean) if lower else (b_mean - w_mean)
    noise = math.hypot(b_std, w_std) if not (math.isnan(b_std) or math.isnan(w_std)) else 0.0
    if abs(gain) <= noise:
        return NOISE
    return HOLDS if gain > 0 else FAILS


def judge_claims(spec: TableSpec, long: pd.DataFrame) -> pd.DataFrame:
    """Each claim of the table judged on the paper's own numbers and on ours."""
    index = {
        (_key(r.method, r.setting), r.dataset, r.metric): r for r in long.itertuples()
    }
    records = []
    for claim in spec.claims:
        better = index.get((claim.better, claim.dataset, claim.metric))
        worse = index.get((claim.worse, claim.dataset, claim.metric))
        if better is None or worse is None:
            raise KeyError(f"claim '{claim.text}' of {spec.name} names a row or cell the table does not have")
        lower = metric_spec(claim.metric).lower_is_better
        paper = verdict((better.paper, 0.0), (worse.paper, 0.0), lower)
        ours = verdict((better.ours_mean, better.ours_std), (worse.ours_mean, worse.ours_std), lower)
        records.append({"claim": claim.text, "paper": paper, "ours": ours})
    return pd.DataFrame(records, columns=["claim", "paper", "ours"])


def _fmt(value: float, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{DIGITS.get(metric.lower(), 4)}f}"


def _cell(record) -> str:
    paper = _fmt(record.paper, record.metric)
    if math.isnan(record.ours_mean):
        return f"{paper} / n/a"
    ours = _fmt(record.ours_mean, record.metric)
    if not math.isnan(record.ours_std):
        ours += f" ± {_fmt(record.ours_std, record.metric)}"
    return f"{paper} / {ours} (Δ {_fmt(record.difference, record.metric)})" if not math.isnan(record.paper) else f"– / {ours}"


def render_markdown(spec: TableSpec, long: pd.DataFrame, claims: pd.DataFrame, scale_note: str) -> str:
    """The table as Markdown: cells 'paper / ours ± std (Δ)', then substitutions, n/a reasons and claims."""
    long = long.assign(row_label=[_key(m, s).replace("|", " — ") for m, s in zip(long["method"], long["setting"])])
    long = long.assign(cell=[_cell(r) for r in long.itertuples()])
    # The paper's layout: one row per (dataset, metric), one column per method.
    wide = long.pivot(index=["dataset", "metric"], columns="row_label", values="cell")
    rows = list(dict.fromkeys(zip(long["dataset"], long["metric"])))
    wide = wide.loc[rows, list(dict.fromkeys(long["row_label"]))]
    lines = [scale_note, "", f"# {spec.title}", "", "Cells: `paper / ours ± std over seeds (Δ = ours − paper)`.", ""]
    lines.append(tabulate(wide.reset_index(), headers="keys", tablefmt="github", showindex=False))
    subs = long[long["substitute"]][["dataset", "our_dataset"]].drop_duplicates()
    if not subs.empty:
        lines += ["", "**Substituted datasets** (ours evaluated on a different set than the paper's):"]
        lines += [f"- {r.dataset} → `{r.our_dataset}`" for r in subs.itertuples()]
    reasons = long[long["note"] != ""].groupby("note")["row_label"].unique()
    if not reasons.empty:
        lines += ["", "**n/a on our side**:"]
        lines += [f"- {', '.join(rows)}: {note}" for note, rows in reasons.items()]
    if not claims.empty:
        lines += ["", "## Claims", "", tabulate(claims, headers="keys", tablefmt="github", showindex=False)]
        lines += ["", "Verdicts: *holds* / *fails* when the difference exceeds the combined seed std; *within seed noise* otherwise."]
    return "\n".join(lines) + "\n"


def write_paper_table(
    spec: TableSpec, summary: pd.DataFrame, dataset_map: dict, md_path: str | Path, csv_path: str | Path, scale_note: str
) -> pd.DataFrame:
    """Compare, judge and write ``md_path`` and ``csv_path`` (long form with claims appended); return the claims."""
    long = compare(spec, summary, dataset_map)
    claims = judge_claims(spec, long)
    write_text(md_path, render_markdown(spec, long, claims, scale_note))
    out = pd.concat([long, claims.assign(table=spec.name, metric="claim")], ignore_index=True)
    write_text(csv_path, out.replace({np.nan: None}).to_csv(index=False))
    return claims


def build_paper_table(name: str, summary_csv, dataset_map: dict, md: str | Path, csv: str | Path, scale_note: str):
    """One of the papers' tables (see :data:`srrepro.reporting.table_specs.TABLES`) with ours beside the published
    values; returns the judged claims."""
    if name not in TABLES:
        raise KeyError(f"unknown table '{name}'; known: {', '.join(TABLES)}")
    mapping = {**dataset_map, RECOGNITION_DATASET: RECOGNITION_DATASET}
    return write_paper_table(TABLES[name], read_summary(summary_csv), mapping, md, csv, scale_note)

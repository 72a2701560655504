"""Published numbers of the replicated papers, transcribed cell by cell from their text.

The data live in the package file ``srrepro/reporting/published/published_values.csv`` (one row per table cell or
per number claimed in the prose); ``srrepro/reporting/published/README.md`` documents the columns, the name normalisation and
every ambiguity found in the papers' text.
"""

from __future__ import annotations

import difflib
import math
from functools import lru_cache
from importlib import resources

import pandas as pd

KEY_COLUMNS = ("paper", "table", "dataset", "metric", "method", "setting")
_RESOURCE = ("reporting", "published", "published_values.csv")
_SENTENCES = ("reporting", "published", "claims.csv")


def _parse_value(text: str) -> float:
    """``value_text`` as a float: ``'∞'`` is ``inf``, an empty (illegible) cell is NaN."""
    text = text.strip()
    if text == "":
        return math.nan
    if text == "∞":
        return math.inf
    return float(text)


@lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    source = resources.files("srrepro").joinpath(*_RESOURCE)
    with source.open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False, na_filter=False)
    frame["value"] = frame["value"].map(_parse_value).astype(float)
    return frame


def load_published() -> pd.DataFrame:
    """All transcribed values as a DataFrame (a fresh copy on every call).

    Text columns are strings (empty string, never NaN, where a field does not apply); ``value`` is a float
    (``inf`` for a printed ``∞``, NaN where the paper's text has lost the cell). ``value_text`` keeps the
    number exactly as printed, trailing zeros included.
    """
    return _load().copy()


def claim_sentences() -> pd.DataFrame:
    """The papers' comparative sentences about their tables (``published/claims.csv``): paper, table, sentence_id,
    source, sentence (quoted), judged ('yes...' or 'no: why') and exceptions (the claims, by text, that the paper's
    own numbers contradict, '; '-separated). Each claim of :mod:`srrepro.reporting.table_specs` names its
    sentences by id."""
    source = resources.files("srrepro").joinpath(*_SENTENCES)
    with source.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False, na_filter=False)


def _suggest(field: str, wanted: str | None, pool: pd.DataFrame) -> str:
    choices = sorted(set(pool[field]))
    shown = ", ".join(repr(c) for c in choices[:40]) + (" ..." if len(choices) > 40 else "")
    close = difflib.get_close_matches(str(wanted), choices, n=5, cutoff=0.5)
    lower = [c for c in choices if str(wanted).lower() in c.lower() and c not in close]
    hint = close + lower[:5]
    text = f"no {field} {wanted!r}"
    if hint:
        text += f"; close matches: {', '.join(repr(h) for h in hint)}"
    return text + f"; available: {shown}"


def published_value(
    paper: str,
    table: str,
    method: str,
    metric: str,
    dataset: str | None = None,
    setting: str | None = None,
) -> float:
    """The published value of one cell.

    ``dataset`` and ``setting`` may be left out (``None``) when the remaining fields pick out a single cell;
    pass ``""`` to ask explicitly for the cell without a dataset/setting. Raises ``KeyError`` naming the field
    that matched nothing (with close matches and the values available there), when the selection is
    ambiguous, or when the cell exists but its value is illegible in the paper's text.
    """
    frame = _load()
    selection = frame
    wanted = {"paper": paper, "table": table, "method": method, "metric": metric,
              "dataset": dataset, "setting": setting}
    context = []
    for field in ("paper", "table", "method", "metric", "dataset", "setting"):
        value = wanted[field]
        if value is None:
            continue
        narrowed = selection[selection[field] == value]
        if narrowed.empty:
            where = f" (within {', '.join(context)})" if context else ""
            raise KeyError(_suggest(field, value, selection) + where)
        selection = narrowed
        context.append(f"{field}={value!r}")
    if len(selection) > 1:
        options = "; ".join(
            f"dataset={row.dataset!r}, setting={row.setting!r}"
            for row in selection[["dataset", "setting"]].drop_duplicates().itertuples()
        )
        raise KeyError(f"{len(selection)} cells match {', '.join(context)}; give dataset/setting: {options}")
    row = selection.iloc[0]
    if math.isnan(row["value"]):
        raise KeyError(f"cell {', '.join(context)} exists in the paper but its value is not legible in the "
                       f"text: {row['note']}")
    return float(row["value"])

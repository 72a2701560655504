"""Published reference rows ("literature"): bicubic, SRCNN and VDSR at x4 on the classic benchmarks, each with its
source, so that a run on the real test sets compares its models with the literature in its own tables.

The data live in ``srrepro/reporting/published/literature.csv`` (method, dataset, metric, value, cite, source);
``published/README.md`` says where each number comes from. Metrics are named as the metric registry names them
(``psnr``, ``ssim``: Y channel, border of 4 pixels shaved, the protocol of the published rows).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

_RESOURCE = ("reporting", "published", "literature.csv")


@lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    with resources.files("srrepro").joinpath(*_RESOURCE).open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False, na_filter=False)
    frame["value"] = frame["value"].astype(float)
    return frame


def load_literature() -> pd.DataFrame:
    """Every published reference value (a fresh copy): method, dataset, metric, value (float), cite (short, e.g.
    'VDSR Table 3'), source (full reference)."""
    return _load().copy()


def literature_label(method: str, cite: str) -> str:
    """The row label of a published row in the reports: ``'SRCNN (published: VDSR Table 3)'``."""
    return f"{method} (published: {cite})"


def _of(rows: pd.DataFrame, methods) -> pd.DataFrame:
    return rows[rows["method"].isin(list(methods))] if methods else rows


def literature_for(datasets, methods=None) -> pd.DataFrame:
    """The published rows on ``datasets`` (of ``methods``, default all), in the file's order."""
    rows = _of(load_literature(), methods)
    return rows[rows["dataset"].isin(list(datasets))].reset_index(drop=True)


def no_literature_line(datasets, what: str, methods=None) -> str:
    """The one line a report prints when none of its ``datasets`` has published values (of ``methods``)."""
    published = ", ".join(dict.fromkeys(_of(load_literature(), methods)["dataset"]))
    return (f"{what}: none for this run's test sets ({', '.join(datasets) or 'none'}); published values exist for "
            f"{published} (srrepro/reporting/published/literature.csv).")

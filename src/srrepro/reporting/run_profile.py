"""Where a workflow run's minutes go: the Snakemake benchmark files of its jobs, summed per rule.

Every rule writes ``logs/benchmarks/<rule>/<job>.tsv`` (wall seconds, CPU seconds, peak memory of the job);
``bench/profile_run.py`` prints the sums, and the results page (:mod:`srrepro.reporting.results_page`) shows them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_benchmarks(folder: str | Path) -> pd.DataFrame:
    """One row per job: rule (the first folder below ``folder``), job, wall seconds, CPU seconds, peak RSS (MB)."""
    folder, rows = Path(folder), []
    for path in sorted(folder.rglob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        parts = path.relative_to(folder).parts
        rows.append({"rule": parts[0] if len(parts) > 1 else path.stem, "job": path.stem,
                     "seconds": float(frame["s"].iloc[-1]), "cpu_seconds": float(frame["cpu_time"].iloc[-1]),
                     "max_rss_mb": float(frame["max_rss"].iloc[-1])})
    return pd.DataFrame(rows, columns=["rule", "job", "seconds", "cpu_seconds", "max_rss_mb"])


def per_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs, job-seconds, CPU seconds, mean job seconds and share of all job-seconds per rule, busiest first."""
    table = jobs.groupby("rule").agg(jobs=("job", "count"), seconds=("seconds", "sum"),
                                     cpu_seconds=("cpu_seconds", "sum"), mean_seconds=("seconds", "mean"))
    table = table.sort_values("seconds", ascending=False)
    table["share"] = table["seconds"] / table["seconds"].sum()
    return table

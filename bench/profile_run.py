"""Where a workflow run's minutes go: the Snakemake benchmark files of every job, summed per rule.

Every rule writes ``logs/benchmarks/<rule>/<job>.tsv`` (wall seconds, CPU seconds, peak memory of the job). This sums
them per rule and prints each rule's share of all job-seconds, next to the run's wall time when given, so that the
busiest rule and the idle share (wall x cores - job-seconds) are visible.

    python bench/profile_run.py [--benchmarks logs/benchmarks] [--wall SECONDS] [--cores 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def read_benchmarks(folder: Path) -> pd.DataFrame:
    """One row per job: rule (the first folder below ``folder``), job, wall seconds, CPU seconds, peak RSS (MB)."""
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        rule = path.relative_to(folder).parts[0] if len(path.relative_to(folder).parts) > 1 else path.stem
        rows.append({"rule": rule, "job": path.stem, "seconds": float(frame["s"].iloc[-1]),
                     "cpu_seconds": float(frame["cpu_time"].iloc[-1]), "max_rss_mb": float(frame["max_rss"].iloc[-1])})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=Path, default=Path("logs/benchmarks"))
    parser.add_argument("--wall", type=float, help="wall seconds of the whole run (for the idle share)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--top", type=int, default=10, help="the slowest jobs to list")
    args = parser.parse_args()
    jobs = read_benchmarks(args.benchmarks)
    if jobs.empty:
        raise SystemExit(f"profile_run: no benchmark file (*.tsv) in {args.benchmarks}; --benchmarks must be the "
                         f"folder of a run's benchmark files (logs/benchmarks)")
    per_rule = jobs.groupby("rule").agg(jobs=("job", "count"), seconds=("seconds", "sum"),
                                        cpu_seconds=("cpu_seconds", "sum"), mean_seconds=("seconds", "mean"))
    per_rule = per_rule.sort_values("seconds", ascending=False)
    total = per_rule["seconds"].sum()
    per_rule["share"] = per_rule["seconds"] / total
    print(per_rule.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"\nall jobs: {len(jobs)}, {total:.0f} job-seconds ({total / args.cores:.0f} s of {args.cores} cores)")
    if args.wall:
        print(f"wall {args.wall:.0f} s x {args.cores} cores = {args.wall * args.cores:.0f} core-seconds; "
              f"jobs use {total / (args.wall * args.cores):.0%} of them")
    print(f"\nslowest {args.top} jobs:")
    print(jobs.sort_values("seconds", ascending=False).head(args.top).to_string(index=False))


if __name__ == "__main__":
    main()

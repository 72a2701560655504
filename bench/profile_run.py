"""Where a workflow run's minutes go: the Snakemake benchmark files of every job, summed per rule.

Every rule writes ``logs/benchmarks/<rule>/<job>.tsv`` (wall seconds, CPU seconds, peak memory of the job). This sums
them per rule and prints each rule's share of all job-seconds, next to the run's wall time when given, so that the
busiest rule and the idle share (wall x cores - job-seconds) are visible.

    python bench/profile_run.py [--benchmarks logs/benchmarks] [--wall SECONDS] [--cores 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from srrepro.reporting.run_profile import per_rule as rule_sums
from srrepro.reporting.run_profile import read_benchmarks


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
    per_rule = rule_sums(jobs)
    total = per_rule["seconds"].sum()
    print(per_rule.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"\nall jobs: {len(jobs)}, {total:.0f} job-seconds ({total / args.cores:.0f} s of {args.cores} cores)")
    if args.wall:
        print(f"wall {args.wall:.0f} s x {args.cores} cores = {args.wall * args.cores:.0f} core-seconds; "
              f"jobs use {total / (args.wall * args.cores):.0%} of them")
    print(f"\nslowest {args.top} jobs:")
    print(jobs.sort_values("seconds", ascending=False).head(args.top).to_string(index=False))


if __name__ == "__main__":
    main()

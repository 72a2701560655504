"""``reports/results.md``: one run's results as a Markdown page to keep in the repository (``docs/results/``).

It gathers what a reader of a finished run needs: the commit and scale, every claim of the papers with its verdict
and interval (and how many of them were decided), the training effects, every model on every test set beside the
literature, the figures (linked as ``figures/<name>.png``, so the page and its ``figures/`` folder can be copied
together), and where the job-seconds went (:mod:`srrepro.reporting.run_profile`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from srrepro.atomic import write_text
from srrepro.reporting.claim_intervals import FAILS, HOLDS, UNKNOWN
from srrepro.reporting.run_profile import per_rule, read_benchmarks
from srrepro.reporting.site import claims_from_tables
from srrepro.reporting.table_specs import TABLES


def git_commit(folder: str | Path = ".") -> str:
    """The commit checked out in ``folder`` (with ``+changes`` when the work tree differs), or 'unknown'."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def _markdown_table(frame: pd.DataFrame) -> str:
    return tabulate(frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)


def decided_share(claims: pd.DataFrame, paper: str = "fasrgan") -> tuple[int, int]:
    """(decided, computable) claims of ``paper``'s tables on our numbers: computable = a verdict other than n/a,
    decided = holds or fails."""
    tables = {name for name, spec in TABLES.items() if spec.paper == paper}
    ours = claims[claims["table"].isin(tables)]["ours"]
    computable = ours[ours != UNKNOWN]
    return int(computable.isin([HOLDS, FAILS]).sum()), len(computable)


def _body_of(markdown_table: str | Path) -> str:
    """A table document's Markdown without its scale note and title (the page states them once)."""
    lines = Path(markdown_table).read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("# ")), -1) + 1
    return "\n".join(lines[start:]).strip()


def profile_section(benchmarks: str | Path) -> str:
    """The per-rule sums of the run's benchmark files, or why there are none."""
    jobs = read_benchmarks(benchmarks) if Path(benchmarks).is_dir() else pd.DataFrame()
    if jobs.empty:
        return f"No benchmark files in {benchmarks}: the run's per-rule profile is not available."
    table = per_rule(jobs).reset_index()
    shown = pd.DataFrame({
        "rule": table["rule"], "jobs": table["jobs"].astype(str),
        "job-seconds": table["seconds"].map("{:.0f}".format), "CPU seconds": table["cpu_seconds"].map("{:.0f}".format),
        "mean per job (s)": table["mean_seconds"].map("{:.1f}".format), "share": table["share"].map("{:.0%}".format)})
    total = jobs["seconds"].sum()
    return (f"{len(jobs)} jobs, {total:.0f} job-seconds ({total / 3600:.2f} job-hours), from the Snakemake benchmark "
            f"file of every job. The run's wall time is that of the `snakemake` command, measured outside it.\n\n"
            + _markdown_table(shown))


def write_results_page(out: str | Path, *, title: str, scale_note: str, paper_tables: list[str | Path],
                       tables: dict[str, str | Path], figures: list[tuple[str, str | Path, str]],
                       benchmarks: str | Path, commit: str) -> tuple[int, int]:
    """Write the page; returns (decided, computable) FASRGAN claims. ``paper_tables``: the paper tables' CSV files
    (their claim rows); ``tables``: heading → a table's Markdown file; ``figures``: (name, PNG, caption)."""
    claims = claims_from_tables(paper_tables)
    decided, computable = decided_share(claims)
    counts = claims["ours"].value_counts()
    tally = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    parts = [scale_note, "", f"# {title}", "",
             f"Run at commit `{commit}`. Every number below was rendered by the pipeline from this run's outputs.", "",
             "## Claims of the papers", "",
             f"Our verdicts over all {len(claims)} claims: {tally}. Of the FASRGAN paper's claims that this run "
             f"could compute, **{decided} of {computable} are decided** (holds or fails: the 95 % interval of the "
             "mean paired difference over seeds and test images excludes 0); each table says how the interval is "
             "computed. An undecided claim gives the number of seeds that would decide the observed effect.", "",
             _markdown_table(claims)]
    for heading, path in tables.items():
        parts += ["", f"## {heading}", "", _body_of(path)]
    parts += ["", "## Figures", ""]
    for name, png, caption in figures:
        parts += [f"![{name}](figures/{Path(png).name})", "", f"*{name}*: {caption}", ""]
    parts += ["## Where the time went", "", profile_section(benchmarks)]
    write_text(out, "\n".join(parts) + "\n")
    return decided, computable

"""The results page of a run (reports/results.md): claims with their intervals and how many were decided, the
tables, the figures as links beside the page, the per-rule profile from the jobs' benchmark files, the commit."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
from PIL import Image

from srrepro.reporting.results_page import git_commit


def _claims_csv(path, table, verdicts):
    rows = [{"table": table, "metric": "claim", "claim": f"A{i} beats B on Set5", "paper": "holds", "ours": v,
             "ours_interval": "+0.0100 [+0.0050, +0.0150]" if v in ("holds", "fails") else "",
             "seeds to decide": "7" if v == "undecided" else "", "released": "–"} for i, v in enumerate(verdicts)]
    rows.append({"table": table, "metric": "PSNR", "claim": "", "paper": "30.1"})  # a value row, not a claim
    pd.DataFrame(rows).to_csv(path, index=False)


def _benchmark(folder, rule, job, seconds):
    folder = folder / rule
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{job}.tsv").write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{seconds}\t0:00:01\t100.0\t{seconds * 0.9}\n")


def test_results_page_gathers_claims_tables_figures_and_profile(tmp_path):
    _claims_csv(tmp_path / "table1.csv", "table1", ["holds", "fails", "undecided", "n/a"])
    _claims_csv(tmp_path / "wu_table1.csv", "wu_table1", ["holds"])  # another paper: not in the FASRGAN share
    (tmp_path / "overview.md").write_text("SCALE\n\n# All models\n\n| model | Set5 PSNR |\n|---|---|\n| esrgan | 28.1 |\n")
    Image.new("RGB", (8, 8)).save(tmp_path / "fig5.png")
    bench = tmp_path / "benchmarks"
    _benchmark(bench, "train", "rrdb_psnr-s0", 100.0)
    _benchmark(bench, "train", "rrdb_psnr-s1", 300.0)
    _benchmark(bench, "report", "overview", 10.0)
    spec = {"paper_tables": [str(tmp_path / "table1.csv"), str(tmp_path / "wu_table1.csv")],
            "tables": {"Every model on every test set": str(tmp_path / "overview.md")},
            "figures": [["fig5", str(tmp_path / "fig5.png"), "RMSE against LPIPS"]]}
    out = tmp_path / "results.md"
    result = subprocess.run([sys.executable, "-m", "srrepro.cli", "results-page", "--spec", json.dumps(spec),
                             "--scale-note", "Workstation scale", "--benchmarks", str(bench), "--out", str(out)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 of 3 computable FASRGAN claims decided" in result.stdout
    text = out.read_text()
    assert text.startswith("Workstation scale\n") and "Run at commit `unknown`" in text  # tmp_path is no checkout
    assert "**2 of 3 are decided**" in text and "3 holds" not in text and "2 holds" in text
    assert "| A1 beats B on Set5 " in text and "+0.0100 [+0.0050, +0.0150]" in text
    assert "## Every model on every test set" in text and "| esrgan | 28.1 |" in text and "# All models" not in text
    assert "![fig5](figures/fig5.png)" in text and "*fig5*: RMSE against LPIPS" in text
    assert "3 jobs, 410 job-seconds" in text
    profile = text.split("## Where the time went")[1]
    train = next(line for line in profile.splitlines() if line.startswith("| train "))
    assert "| 2 " in train and "| 400 " in train and "| 98%" in train


def test_results_page_without_benchmarks_says_so(tmp_path):
    _claims_csv(tmp_path / "table1.csv", "table1", ["undecided"])
    spec = {"paper_tables": [str(tmp_path / "table1.csv")], "tables": {}, "figures": []}
    out = tmp_path / "results.md"
    subprocess.run([sys.executable, "-m", "srrepro.cli", "results-page", "--spec", json.dumps(spec), "--benchmarks",
                    str(tmp_path / "none"), "--out", str(out)], check=True, capture_output=True, cwd=tmp_path)
    text = out.read_text()
    assert "**0 of 1 are decided**" in text and "per-rule profile is not available" in text


def test_git_commit_names_the_checkout_and_its_changes(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
    commit = git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "a.txt").write_text("b")
    assert git_commit(tmp_path) == commit + "+changes"

"""`dvc status` sees every edit of config.yaml that changes an output: each top-level section is edited in turn in a
copy of the project (a fresh git repository whose dvc.lock records the current configuration) and `dvc status`
must name the section as a changed param of the stages whose outputs it changes, and of no other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DVC = Path(sys.executable).parent / "dvc"
PROJECT_FILES = ["Snakefile", "workflow", "src", "dvc.yaml", "data.dvc", ".dvc/config", ".dvcignore", "config.yaml"]
STAGES = ("prepare_data", "experiments", "tables", "figures", "index")
EVERY = set(STAGES)


def _edit(section: str, change):
    def edit(config: dict) -> None:
        change(config[section])
    return edit


def _set(key: str, value):
    return lambda node: node.__setitem__(key, value)


# section -> (an edit of its value, the stages whose outputs it changes)
EDITS = {
    "scale": (lambda c: c.__setitem__("scale", 2), {"prepare_data", "experiments", "tables"}),
    "seeds": (_edit("seeds", lambda s: s.append(7)), {"experiments", "tables", "figures", "index"}),
    "paths": (_edit("paths", _set("results", "results2")), EVERY),
    "data": (_edit("data", _set("validation", None)), EVERY),
    "evaluation": (_edit("evaluation", _set("tile", 64)), {"experiments", "tables"}),
    "released": (_edit("released", lambda r: r["models"].pop()), {"experiments", "tables"}),
    "threads_per_job": (lambda c: c.__setitem__("threads_per_job", 2), {"experiments"}),
    "smoke": (lambda c: c.__setitem__("smoke", True), EVERY),
    "assets": (_edit("assets", _set("mirror", "/models/srrepro-assets")), {"experiments"}),
    "reports": (_edit("reports", _set("scale_note", "another note")), {"tables", "figures", "index"}),
    "variants": (_edit("variants", lambda v: v["esrgan"].__setitem__("label", "ESRGAN (ours)")), EVERY),
    # a YAML anchor: the variants that use it change
    "_psnr_train": (_edit("_psnr_train", _set("iterations", 1300)), EVERY),
}


def _dvc(args: list[str], cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{DVC.parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([str(DVC), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project in a fresh git repository, its outputs present (empty) and committed to dvc.lock with
    the configuration as it is: `dvc status` then reports nothing."""
    root = tmp_path_factory.mktemp("dvc_params")
    for name in PROJECT_FILES:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, target)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for folder in ("results/prepared", "data", "results/models", "results/train", "results/sr", "results/metrics",
                   "reports/tables", "reports/figures"):
        (root / folder).mkdir(parents=True)
    for file in ("results/recognition.csv", "results/summary.csv", "reports/index.html", "reports/results.md"):
        (root / file).write_text("placeholder\n")
    (root / "reports/metrics.json").write_text("{}\n")
    _dvc(["commit", "-f"], root)
    assert json.loads(_dvc(["status", "--json"], root)) == {}
    return root


def test_every_top_level_section_is_classified():
    sections = set(yaml.safe_load((REPO / "config.yaml").read_text()))
    assert {s for s in sections if not s.startswith("_")} == {s for s in EDITS if not s.startswith("_")}


@pytest.mark.parametrize("section", list(EDITS))
def test_dvc_status_sees_an_edit_of_each_section(project, section):
    original = (project / "config.yaml").read_text()
    edit, stages = EDITS[section]
    config = yaml.safe_load(original)
    edit(config)
    try:
        (project / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        status = json.loads(_dvc(["status", "--json"], project))
    finally:
        (project / "config.yaml").write_text(original)
    changed = {}
    for stage, entries in status.items():
        for entry in entries:
            params = entry.get("changed deps", {}).get("config.yaml", {}) if isinstance(entry, dict) else {}
            if params:
                changed[stage] = params
    seen_as = "variants" if section.startswith("_") else section
    assert set(changed) == stages, status
    assert all(params == {seen_as: "modified"} for params in changed.values()), status

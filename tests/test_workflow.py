"""The Snakemake workflow end to end at a tiny scale: config validation, lint, the Table I path on Set5 through the
mirror, no-op reruns, real reruns after real edits of the configuration file, and kill -9 of Snakemake and of a
training job followed by real reruns."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srrepro.reporting.table_specs import TABLES
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

TINY_TRAIN = {"batch_size": 2, "hr_patch": 32, "iterations": 6, "checkpoint_every": 3, "validate_every": 3,
              "milestones": [4], "val_metrics": ["psnr"]}


def _run(args: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def _demo_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def _tiny_config(mirror: Path, workdir: Path) -> dict:
    """Set5 from the mirror, three variants trained for a few iterations, PSNR/SSIM/LPIPS."""
    config = _demo_config()
    config["released"] = {"models": ["fasrgan"]}  # offline: its column reads n/a with the fetch command
    rrdb = {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8}
    pair = {"arch": "rrdbnet_unet", "nf": 8, "nb": 1, "gc": 8, "d_nf": 8, "d_input_size": 32}
    config.update(
        seeds=[0],
        data={"mirror": str(mirror / "SelfExSR"), "train": "demo_train", "validation": "Set5", "test": ["Set5"],
              "imagenet": None},
        evaluation={"metrics": ["psnr", "ssim", "lpips"], "tile": None, "recognition_limit": 10},
    )
    config["paths"]["assets"] = str(Path(os.environ.get("SRREPRO_ASSET_CACHE", REPO / ".cache" / "assets")))
    config["reports"].update(
        datasets={"Set5": "Set5", "Urban100": None}, tradeoff_dataset="Set5", split_dataset="Set5",
        timing_dataset="Set5", splits={}, curves={"FASRGAN": "fasrgan"}, qualitative={"images": [{"dataset": "Set5", "image": "img_001"}], "crop": 32},
    )
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    config["variants"] = {
        "rrdb_psnr": {"label": "RRDB_PSNR", "procedure": "psnr", "generator": rrdb, "train": dict(TINY_TRAIN, lr_g=1e-3)},
        "esrgan": {"label": "ESRGAN", "procedure": "ragan", "init_from": "rrdb_psnr", "generator": rrdb,
                   "discriminator": {"arch": "vgg128", "nf": 8, "input_size": 32},
                   "perceptual_layer": "vgg16_conv5_3", "train": dict(TINY_TRAIN)},
        "fasrgan": {"label": "FASRGAN", "procedure": "ragan_fa", "init_from": "rrdb_psnr", "generator": pair,
                    "perceptual_layer": "vgg16_conv5_3", "train": dict(TINY_TRAIN)},
    }
    return config


def _write(config: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def test_lint_finds_nothing_but_the_absent_conda_environments(tmp_path):
    """Snakemake's linter is clean except that rules declare no conda environment: the rules run in the Python
    environment that runs Snakemake (the README's set-up), and conda channels are not reachable here to test one."""
    result = _run(["--lint"], cwd=REPO, check=False)
    output = result.stdout + result.stderr
    lints, rule = [], None
    for line in output.splitlines():
        if line.startswith("Lints for "):
            rule = line
        elif line.strip().startswith("* "):
            lints.append((rule, line.strip()))
    assert lints, output[-3000:]
    # the train rule declares no log: Snakemake would empty it before the job starts, also for a job that is then
    # refused because another owns the run folder; `srrepro train --log-file` opens it once the folder is owned
    allowed = [(rule, lint) for rule, lint in lints if lint.startswith("* Specify a conda environment or container")
               or (rule.startswith("Lints for rule train ") and lint.startswith("* No log directive defined"))]
    assert allowed == lints, output[-3000:]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c.update(sedes=[0]), "unknown config key 'sedes'"),
        (lambda c: c["variants"]["esrgan"]["train"].update(iterations="many"),  # a YAML anchor shared by six
         "config key 'variants.esrgan.train.iterations' (also in fasrgan_l2_0p005, fasrgan_l2_0p05, fasrgan_wo_fa, "
         "fs_e2g1, fs_wo_fs): "
         "'many' is not of type"),
        (lambda c: c["variants"]["esrgan"]["losses"].__setitem__("gan", -1.0) if "losses" in c["variants"]["esrgan"]
         else c["variants"]["esrgan"].update(losses={"gan": -1.0}), "variants.esrgan.losses.gan"),
        (lambda c: c["variants"]["esrgan"].update(init_from="nothing"), "variants.esrgan.init_from"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, mutate, expected):
    config = _demo_config()
    mutate(config)
    result = _run(["-n", "--configfile", str(_write(config, tmp_path / "bad.yaml"))], cwd=tmp_path, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert expected in output, output[-3000:]
    assert "Job stats" not in output and "Traceback" not in output


def _unshared(config: dict) -> dict:
    return json.loads(json.dumps(config))  # YAML anchors' mappings become separate objects


def _with(path: str, value):
    def mutate(text: str) -> str:
        config = _unshared(yaml.safe_load(text))
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value
        return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return mutate


@pytest.mark.parametrize("mutate, expected", [
    (_with("variants.esrgan.generator.arch", "rrdbnett"),
     "config key 'variants.esrgan.generator.arch': 'rrdbnett' is not one of attention_srgan, "),
    (_with("variants.esrgan.procedure", "ragan_fa"),  # a GAN variant's mistake stops the PSNR pre-training too
     "config key 'variants.esrgan.discriminator.arch': procedure 'ragan_fa' needs a discriminator with a "
     "fine-grained map output, which 'vgg128' lacks"),
    (_with("variants.spsa_seg.generator.prior", "ost"), "asset 'sftgan-seg' (segmentation_OST_bic.pth: "),
    (lambda text: text + "seeds: [0]\n", "bad.yaml, line "),  # then: duplicate key 'seeds' (first at line N)
])
def test_config_mistake_is_one_line_before_any_job(tmp_path, mutate, expected):
    """Snakemake prints the message alone (no traceback), exits non-zero and starts nothing, writes nothing."""
    text = mutate((REPO / "config.yaml").read_text()).replace("assets: .cache/assets", f"assets: {tmp_path}/cache")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = _run(["--cores", "1", "--configfile", str(path)], cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    (line,) = [line for line in output.splitlines() if "configuration error" in line]
    assert line.startswith("srrepro: configuration error: ") and expected in line, output[-3000:]
    if "line" in expected:
        assert "duplicate key 'seeds' (first at line" in line
    assert "Traceback" not in output and "Job stats" not in output, output[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".snakemake") == ["bad.yaml"]


_RESERVED = "the names bicubic, hr, released_<name> are reserved for the built-in models"
_NAME = "a variant name is lower-case ASCII letters, digits and '_', starting with a letter or digit"
_CYCLE = ("config keys 'variants.rrdb_psnr.init_from', 'variants.esrgan.init_from': init_from cycle "
          "rrdb_psnr -> esrgan -> rrdb_psnr (each waits for another's model); start one of them from scratch")


def _rename(new: str):
    return lambda text: text.replace("\n  rrdb_psnr:\n", f"\n  {new}:\n", 1)


@pytest.mark.parametrize("edit, expected", [
    (lambda text: text.replace("\n  rrdb_psnr:\n", "\n  rrdb_psnr:\n    init_from: esrgan\n", 1), _CYCLE),
    (lambda text: text.replace("    init_from: rrdb_psnr\n    generator: *rrdb\n    discriminator: {arch: vgg128",
                               "    init_from: esrgan\n    generator: *rrdb\n    discriminator: {arch: vgg128", 1),
     "config key 'variants.esrgan.init_from': init_from cycle esrgan -> esrgan (a variant cannot start from its "
     "own model)"),
    (_rename("bicubic"), f"config key 'variants.bicubic': {_RESERVED}"),
    (_rename("hr"), f"config key 'variants.hr': {_RESERVED}"),
    (_rename("released_rrdb"), f"config key 'variants.released_rrdb': {_RESERVED}"),
    (_rename("a/b"), f"config key 'variants.a/b': {_NAME}"),
    (_rename("'..'"), f"config key 'variants...': {_NAME}"),
    (_rename("x y"), f"config key 'variants.x y': {_NAME}"),
    (_rename("-dash"), f"config key 'variants.-dash': {_NAME}"),
    (_rename("RRDB_PSNR"), f"config key 'variants.RRDB_PSNR': {_NAME}"),
    (_rename("rrdb_psnr_é"), f"config key 'variants.rrdb_psnr_é': {_NAME}"),
    (lambda text: text.replace("  lr_g: 2.0e-3\n", "  lr_g: .nan\n", 1),  # in an anchor four variants share
     "config key 'variants.rrdb_psnr.train.lr_g' (also in fs_psnr"),
    (lambda text: text.replace("  gamma: 0.5\n", "  gamma: .inf\n", 1), "inf is not a finite number"),
    (lambda text: text.replace("discriminator: {arch: vgg128, nf: 16,", "discriminator: {arch: vgg128, nf: eight,", 1),
     "config key 'variants.esrgan.discriminator.nf': 'eight' is not of type int (architecture 'vgg128', default 64)"),
    (lambda text: text.replace("seeds: [0, 1]", "seeds: [0, 0]", 1), "config key 'seeds': [0, 0] has non-unique "
                                                                    "elements"),
    (lambda text: text.replace("seeds: [0, 1]", "seeds: ['a']", 1), "config key 'seeds.0': 'a' is not of type"),
])
def test_names_numbers_and_types_are_refused_by_a_dry_run(tmp_path, edit, expected):
    """A real edit of the configuration file, then `snakemake -n --configfile`: one line naming the key, no job."""
    text = (REPO / "config.yaml").read_text()
    edited = edit(text)
    assert edited != text
    path = tmp_path / "bad.yaml"
    path.write_text(edited)
    result = _run(["-n", "--configfile", str(path)], cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    (line,) = [line for line in output.splitlines() if "configuration error" in line]
    assert line.startswith("srrepro: configuration error: ") and expected in line, output[-3000:]
    assert "Traceback" not in output and "Job stats" not in output, output[-3000:]


def _line_of(text: str) -> int:
    """The line number of config.yaml's first line starting with ``text``."""
    lines = (REPO / "config.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(text))


@pytest.mark.parametrize("edit, expected", [
    (lambda text: text.replace("seeds: [0, 1]", "seeds: [0, 1", 1),
     f"config.yaml, line {_line_of('seeds:') + 2}, column 1: not valid YAML: expected ',' or ']', but got '<scalar>' "
     f"(while parsing a flow sequence started at line {_line_of('seeds:')}, column 8)"),
    (lambda text: text.replace("\n  data: results/prepared", "\n\tdata: results/prepared", 1),
     f"config.yaml, line {_line_of('  data: results/prepared')}, column 1: not valid YAML: found character '\\t' "
     "that cannot start any token (while scanning for the next token); indent with spaces, not tabs"),
])
def test_yaml_syntax_error_in_config_yaml_names_file_line_and_column(tmp_path, edit, expected):
    """A copy of the project whose config.yaml (the default configuration) has a syntax error: `snakemake -n` names
    the file, line and column. (A --configfile is read by Snakemake before the workflow: its syntax errors are
    Snakemake's own message; `srrepro plan --configfile` names their line, see test_planning.)"""
    shutil.copy(REPO / "Snakefile", tmp_path)
    shutil.copytree(REPO / "workflow", tmp_path / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "config.yaml").write_text(edit((REPO / "config.yaml").read_text()))
    result = subprocess.run(SNAKEMAKE + ["-n"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    (line,) = [line for line in output.splitlines() if "configuration error" in line]
    assert line == f"srrepro: configuration error: config file {tmp_path}/{expected}", output[-3000:]
    assert "Traceback" not in output and "Job stats" not in output, output[-3000:]


def test_each_variant_trains_on_its_prepared_mixture(tmp_path):
    """The dry run prepares every dataset a variant trains on and passes the mixture and its ratio to the trainer."""
    result = _run(["-n", "-p", "results/models/spsagan/seed0/model.pt"], cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "prepare demo_train_scenes results/prepared/demo_train_scenes" in output
    (spsagan,) = [line for line in output.splitlines() if "--run-dir results/train/spsagan/seed0" in line]
    assert ("--data results/prepared/demo_train_scenes --data results/prepared/demo_train --data-ratio 10:1"
            in spsagan)
    (rrsb,) = [line for line in output.splitlines() if "--run-dir results/train/spsagan_rrsb_psnr/seed0" in line]
    assert "--data results/prepared/demo_train " in rrsb and "--data-ratio" not in rrsb
    assert "--init results/models/spsa_seg/seed0/model.pt" in rrsb
    assert "--init results/models/spsagan_rrsb_psnr/seed0/model.pt" in spsagan


def test_table1_path_on_set5(mirror_dir, tmp_path):
    config_path = _write(_tiny_config(mirror_dir, tmp_path), tmp_path / "tiny.yaml")
    _run(["table1", "--cores", "2", "--configfile", str(config_path)], cwd=tmp_path)

    table = (tmp_path / "reports" / "tables" / "table1.md").read_text()
    assert "30.46" in table and "0.0325" in table  # published ESRGAN Set5 PSNR, FASRGAN Set5 LPIPS beside ours
    long = pd.read_csv(tmp_path / "reports" / "tables" / "table1.csv")
    ours = long[(long["method"] == "ESRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "PSNR")].iloc[0]
    assert ours["our_dataset"] == "Set5" and not ours["substitute"]
    # The table's cell is the mean of the per-image PSNRs, recomputed here from the SR images on disk.
    from srrepro.imaging.images import read_image
    from srrepro.metrics.fidelity import psnr

    sr_dir, hr_dir = tmp_path / "results" / "sr" / "esrgan-s0" / "Set5", tmp_path / "results" / "prepared" / "Set5" / "HR"
    recomputed = np.mean([psnr(read_image(sr_dir / p.name), read_image(p), 4) for p in sorted(hr_dir.glob("*.png"))])
    assert ours["ours_mean"] == pytest.approx(recomputed, abs=1e-9)
    assert ours["difference"] == pytest.approx(recomputed - 30.46)
    lpips = long[(long["method"] == "FASRGAN") & (long["dataset"] == "Set5") & (long["metric"] == "LPIPS")].iloc[0]
    assert 0 < lpips["ours_mean"] < 1
    not_ours = long[(long["method"] == "EnhanceNet") & (long["metric"] == "PSNR")].iloc[0]
    assert pd.isna(not_ours["ours_mean"]) and "not replicated" in not_ours["note"]
    urban = long[(long["method"] == "ESRGAN") & (long["dataset"] == "Urban100")].iloc[0]
    assert "not available" in urban["note"]
    raw = pd.read_csv(tmp_path / "reports" / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    claims = raw[raw["metric"] == "claim"]
    # each claim once: Set5 is evaluated as itself, every other paper dataset is its own (n/a) block
    assert set(claims["ours"]) <= {"holds", "fails", "undecided", "n/a"}
    assert len(claims) == len({(c.metric, c.better, c.worse, c.dataset) for c in TABLES["table1"].claims})
    assert "## Claims" in table

    # A second run does nothing.
    again = _run(["table1", "--cores", "2", "--configfile", str(config_path)], cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr

    # Changing one variant's setting reruns only what depends on it.
    changed = yaml.safe_load(config_path.read_text())
    changed["variants"]["esrgan"]["train"]["iterations"] = 7
    _write(changed, config_path)
    dry = _run(["table1", "-n", "--cores", "2", "--configfile", str(config_path)], cwd=tmp_path)
    out = dry.stdout + dry.stderr
    assert "variant=esrgan" in out, out[-3000:]
    assert "variant=fasrgan" not in out and "variant=rrdb_psnr" not in out, out[-3000:]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _descendants(root: int) -> list[int]:
    """Processes below ``root`` (from /proc), so only this test's jobs are ever signalled."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _python_descendant(root: int, marker: str) -> int:
    """The one Python process below ``root`` whose command line holds ``marker`` (not the shell that started it)."""
    found = [pid for pid in _descendants(root)
             if marker in _cmdline(pid) and Path(_cmdline(pid).split()[0]).name.startswith("python")]
    assert len(found) == 1, [_cmdline(pid) for pid in _descendants(root)]
    return found[0]


def _one_training_job(tmp_path: Path) -> Path:
    """A configuration with one training job (rrdb_psnr, seed 0, 400 tiny iterations, a checkpoint every 20)."""
    config = _demo_config()
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    config.update(seeds=[0], data=dict(config["data"], validation=None))
    config["released"] = {"models": []}
    config["reports"].update(splits={}, curves={})
    train = {"batch_size": 4, "hr_patch": 32, "iterations": 400, "checkpoint_every": 20, "validate_every": 0,
             "milestones": [1000], "keep_checkpoints": 50, "log_every": 10}
    config["variants"] = {"rrdb_psnr": {"label": "RRDB_PSNR", "procedure": "psnr",
                                        "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8}, "train": train}}
    return _write(config, tmp_path / "resume.yaml")


def test_a_second_snakemake_nolock_into_a_busy_run_leaves_the_first_jobs_log(tmp_path):
    """Two real Snakemake processes, the second with --nolock, start the same training job: the second's trainer is
    refused (on its stderr, naming the owner) before it opens the job log, so the first job's log stays whole."""
    args = ["results/models/rrdb_psnr/seed0/model.pt", "--cores", "1", "--configfile",
            str(_one_training_job(tmp_path))]
    run_dir = tmp_path / "results" / "train" / "rrdb_psnr" / "seed0"
    job_log = tmp_path / "logs" / "train" / "rrdb_psnr-s0.log"
    first = subprocess.Popen(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), *args], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list((run_dir / "checkpoints").glob("*.pt")):
        assert first.poll() is None, "snakemake stopped before the first checkpoint"
        time.sleep(0.2)
    trainer = _python_descendant(first.pid, "srrepro.cli train")
    os.kill(trainer, signal.SIGSTOP)  # holds the folder, and does not finish while the second run tries
    try:
        owners_log = job_log.read_bytes()
        second = _run(["--nolock", *args], cwd=tmp_path, check=False)
        assert second.returncode != 0
        refusal = f"error: run folder {run_dir.relative_to(tmp_path)} is in use by process {trainer}"
        assert refusal in second.stderr and "Traceback" not in second.stderr, second.stderr[-3000:]
        assert job_log.read_bytes() == owners_log != b""
    finally:
        os.kill(trainer, signal.SIGCONT)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    log = job_log.read_bytes().decode()  # as written (tqdm's carriage returns kept)
    assert log.startswith(owners_log.decode()) and "final model: results/models/rrdb_psnr/seed0/model.pt" in log
    assert "in use by process" not in log and (tmp_path / args[0]).exists()


def test_killed_snakemake_and_killed_training_job(tmp_path):
    """kill -9 of Snakemake leaves its training job running: after --unlock a rerun refuses the busy run folder,
    naming the trainer's PID, instead of training beside it, and leaves the trainer's log alone; after kill -9 of the
    trainer a rerun takes the folder over and resumes from the last checkpoint, and the log holds every iteration
    once."""
    config_path = _one_training_job(tmp_path)
    target = "results/models/rrdb_psnr/seed0/model.pt"
    run_dir = tmp_path / "results" / "train" / "rrdb_psnr" / "seed0"
    job_log = tmp_path / "logs" / "train" / "rrdb_psnr-s0.log"
    args = [target, "--cores", "1", "--configfile", str(config_path)]

    snakemake = subprocess.Popen(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), *args], cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((run_dir / "checkpoints").glob("*.pt"))) < 2:
        assert snakemake.poll() is None, "snakemake stopped before the first checkpoints"
        time.sleep(0.2)
    trainer = _python_descendant(snakemake.pid, "srrepro.cli train")
    os.kill(snakemake.pid, signal.SIGKILL)
    snakemake.wait(timeout=120)
    os.kill(trainer, signal.SIGSTOP)  # the orphan lives on; stopped so that it does not finish meanwhile
    try:
        _run(["--unlock", *args], cwd=tmp_path)
        owners_log = job_log.read_bytes()
        busy = _run(args, cwd=tmp_path, check=False)
        assert busy.returncode != 0
        refusal = f"error: run folder {run_dir.relative_to(tmp_path)} is in use by process {trainer}"
        assert refusal in busy.stderr and "Traceback" not in busy.stderr, busy.stderr[-3000:]
        assert job_log.read_bytes() == owners_log != b""  # the refused job neither emptied nor wrote the owner's log
    finally:
        os.kill(trainer, signal.SIGKILL)
    assert not (tmp_path / target).exists()
    checkpoints = sorted((run_dir / "checkpoints").glob("*.pt"))
    done_before = max(int(p.stem.split("_")[-1]) for p in checkpoints)
    assert done_before < 400

    _run(args, cwd=tmp_path)
    log = job_log.read_text()
    assert f"taking over run folder {run_dir.relative_to(tmp_path)} from process {trainer}" in log, log[-2000:]
    assert "resuming from checkpoint" in log and f"at iteration {done_before}" in log, log[-2000:]
    assert (tmp_path / target).exists()
    logged = pd.read_json(run_dir / "train_log.jsonl", lines=True)["iteration"].tolist()
    assert logged == list(range(10, 401, 10))  # once each: no second trainer wrote beside the first


def _jobs(output: str) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a Snakemake run started, from its output."""
    jobs, rule = set(), None
    for line in output.splitlines():
        if match := re.fullmatch(r"(?:local)?rule (\w+):", line.strip()):
            rule = match[1]
            jobs.add((rule, ""))
        elif rule and line.strip().startswith("wildcards:"):
            jobs.discard((rule, ""))
            jobs.add((rule, line.strip().removeprefix("wildcards:").strip()))
            rule = None
    return jobs


def test_editing_a_variant_reruns_it_and_what_depends_on_it(tmp_path):
    """A real edit of the configuration file and a real rerun (Snakemake's params trigger): more iterations continue
    the variant's run; another change trains afresh, moving the old run aside, and retrains the variants it
    initialises; only those jobs and what depends on them (here ESRGAN's SR images) run."""
    config = _demo_config()
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    config.update(seeds=[0], data=dict(config["data"], validation=None))
    config["released"] = {"models": []}
    config["reports"].update(splits={}, curves={})
    train = {"batch_size": 2, "hr_patch": 32, "iterations": 6, "checkpoint_every": 3, "validate_every": 0,
             "milestones": [4], "log_every": 1}
    rrdb = {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8}
    config["variants"] = {
        "rrdb_psnr": {"label": "RRDB_PSNR", "procedure": "psnr", "generator": rrdb, "train": dict(train, lr_g=1e-3)},
        "esrgan": {"label": "ESRGAN", "procedure": "ragan", "init_from": "rrdb_psnr", "generator": rrdb,
                   "discriminator": {"arch": "vgg128", "nf": 8, "input_size": 32}, "losses": {"perceptual": 0},
                   "train": dict(train)},
        "fasrgan": {"label": "FASRGAN", "procedure": "ragan_fa", "init_from": "rrdb_psnr",
                    "generator": {**rrdb, "arch": "rrdbnet_unet", "d_nf": 8, "d_input_size": 32},
                    "losses": {"perceptual": 0}, "train": dict(train)},
    }
    config_path = _write(config, tmp_path / "edit.yaml")
    variants = list(config["variants"])
    # The trained models, and ESRGAN's evaluation as an example of what depends on a model.
    targets = [f"results/models/{v}/seed0/model.pt" for v in variants] + ["results/metrics/esrgan-s0.csv"]

    def rerun() -> set[tuple[str, str]]:
        result = _run([*targets, "--cores", "2", "--configfile", str(config_path)], cwd=tmp_path)
        return _jobs(result.stdout + result.stderr)

    def jobs_of(*names: str) -> set[tuple[str, str]]:
        return ({("train", f"variant={v}, seed=0") for v in names}
                | {("evaluate_variant", f"variant={v}") for v in names if v == "esrgan"})

    def train_log(variant: str) -> str:
        return (tmp_path / "logs" / "train" / f"{variant}-s0.log").read_text()

    first = rerun()
    assert jobs_of(*variants) <= first

    config["variants"]["esrgan"]["train"]["iterations"] = 9
    _write(config, config_path)
    assert rerun() == jobs_of("esrgan")
    assert "train.iterations grew from 6 to 9" in train_log("esrgan")
    logged = pd.read_json(tmp_path / "results" / "train" / "esrgan" / "seed0" / "train_log.jsonl", lines=True)
    assert logged["iteration"].tolist() == list(range(1, 10))
    assert not list((tmp_path / "results" / "train").glob("*/*superseded*"))

    config["variants"]["rrdb_psnr"]["train"]["lr_g"] = 2e-3
    _write(config, config_path)
    assert rerun() == jobs_of(*variants)
    assert "held a different run (changed: variant.train.lr_g)" in train_log("rrdb_psnr")
    for variant in ("esrgan", "fasrgan"):
        assert "held a different run (changed: init_checkpoint)" in train_log(variant)
    for variant in variants:
        aside = list((tmp_path / "results" / "train" / variant).glob("seed0.superseded-*"))
        assert len(aside) == 1 and (aside[0] / "model.pt").exists()
        run_dir = tmp_path / "results" / "train" / variant / "seed0"
        logged = pd.read_json(run_dir / "train_log.jsonl", lines=True)["iteration"].tolist()
        assert logged == list(range(1, 10 if variant == "esrgan" else 7))


def test_data_train_as_a_list_is_one_pool_of_the_291_set(tmp_path):
    """data.train: [T91, BSD200] (the '291' set): a real dry run prepares both sets from the mirror and trains every
    variant without its own train_data on the two folders as one pool (no ratio); the index page names both."""
    config = _tiny_config(tmp_path / "mirror", tmp_path)
    config["data"].update(train=["T91", "BSD200"], mirror=str(tmp_path / "mirror"))
    path = _write(config, tmp_path / "291.yaml")
    result = _run(["results/models/esrgan/seed0/model.pt", "reports/index.html", "-n", "-p", "--configfile",
                   str(path)], cwd=tmp_path)
    output = result.stdout + result.stderr
    for name in ("T91", "BSD200"):
        assert f"prepare {name} results/prepared/{name} --scale 4 --mirror {tmp_path / 'mirror'}" in output
    runs = [line for line in output.splitlines() if "--run-dir results/train/" in line]
    assert len(runs) == 3, output[-3000:]  # the index needs every variant: rrdb_psnr, esrgan and fasrgan
    for line in runs:
        assert "--data results/prepared/T91 --data results/prepared/BSD200 --run-dir" in line and "--data-ratio" not in line
    assert "training set: T91 + BSD200; validation: Set5" in output
    config["data"]["train"] = ["T91", "T91"]
    result = _run(["-n", "--configfile", str(_write(config, path))], cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "config key 'data.train': ['T91', 'T91'] has non-unique elements" in result.stdout + result.stderr

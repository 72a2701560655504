"""The workflow through the real profiles/slurm on a real single-node SLURM cluster (Debian 12's slurm-wlm 22.05,
munge, slurmdbd with MariaDB for sacct), started here and stopped after (tests/slurm/start-cluster.sh).

The cluster stands in for a site that fits the profile as it is: partitions `cpu` and `gpu`, two fake GPUs, more
CPUs and memory declared than the machine has; tests/slurm/profile only shortens the wait before the first status
check. A tiny grid (the embedded demo photographs, one PSNR variant, one seed, bicubic and the trained model evaluated
with PSNR and SSIM) runs while the test scancels the training job after its first checkpoint: the retry must resume
from the checkpoint and end with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, skip_unless_ci
from srrepro.models.checkpoints import load_model
from srrepro.reporting.table_specs import protocol_metrics
from srrepro.training import run_state, train_variant

SCRIPTS = REPO / "tests" / "slurm"
PROFILES = ["--profile", str(REPO / "profiles" / "slurm"), "--profile", str(SCRIPTS / "profile")]
NEEDED = ("munged", "mungekey", "slurmctld", "slurmd", "slurmdbd", "sbatch", "squeue", "scancel", "sacct",
          "mariadbd", "mariadb-install-db")
VARIANT = {"label": "RRDB_PSNR", "procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
           "train": {"iterations": 300, "batch_size": 4, "hr_patch": 32, "lr_g": 1.0e-3, "milestones": [200],
                     "checkpoint_every": 30, "validate_every": 0, "log_every": 10}}
MODELS = ["bicubic", "rrdb_psnr-s0"]
TARGETS = [f"results/metrics/{model}.csv" for model in MODELS]
RUN_DIR = Path("results/train/rrdb_psnr/seed0")
TIMEOUT = 900  # seconds for the whole Snakemake run (a few minutes on 2 loaded cores)


@dataclass
class Cluster:
    dir: Path
    env: dict  # for the Snakemake and SLURM commands: SLURM_CONF and the srun wrapper first on PATH

    def run(self, *args: str) -> str:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def cluster():
    missing = [name for name in NEEDED if shutil.which(name) is None]
    if missing:
        skip_unless_ci(f"SLURM test cluster: {', '.join(missing)} not installed (Debian packages: see .ci/run)")
    if os.geteuid() != 0:
        skip_unless_ci("SLURM test cluster: slurmd and munged must run as root")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        skip_unless_ci("snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")
    # short: munge's and MariaDB's unix sockets live under it (108-byte limit)
    directory = Path(tempfile.mkdtemp(prefix="srr-slurm-", dir="/tmp"))
    try:
        subprocess.run([str(SCRIPTS / "start-cluster.sh"), str(directory)], check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
        path = os.pathsep.join([str(directory / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]])
        yield Cluster(directory, dict(os.environ, SLURM_CONF=str(directory / "etc" / "slurm.conf"), PATH=path))
    finally:
        subprocess.run([str(SCRIPTS / "stop-cluster.sh"), str(directory)], timeout=300)
        if os.environ.get("SRREPRO_SLURM_KEEP") != "1":  # keep the cluster's logs and database for a look
            shutil.rmtree(directory, ignore_errors=True)


def _config() -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    config.update(
        seeds=[0],
        data={"mirror": None, "train": "demo_train", "validation": None, "test": ["demo_test"], "imagenet": None},
        evaluation={"metrics": ["psnr", "ssim"], "tile": None, "recognition_limit": 10},
        variants={"rrdb_psnr": VARIANT},
    )
    config["reports"].update(splits={}, curves={})
    return config


@dataclass
class Run:
    dir: Path
    log: str
    cancelled: str  # the SLURM job id of the scancelled training job
    seconds: float


def _wait(proc: subprocess.Popen, log: Path, deadline: float) -> int:
    try:
        return proc.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()  # SIGTERM is not enough: Snakemake then waits for the jobs it believes are running
        proc.wait()
        raise AssertionError(f"snakemake did not finish in {TIMEOUT} s (plugin 2.8.0 waits forever for a scancelled "
                             f"job unless slurm-status-command is squeue):\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def run(cluster, tmp_path_factory) -> Run:
    """The grid through the SLURM profiles, its training job scancelled once it has written a checkpoint."""
    workdir = tmp_path_factory.mktemp("slurm-run")
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(_config(), sort_keys=False))
    log = workdir / "snakemake.log"
    start = time.time()
    deadline = start + TIMEOUT
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *TARGETS, "--configfile", "tiny.yaml",
             *PROFILES], cwd=workdir, env=cluster.env, stdout=out, stderr=subprocess.STDOUT)
    try:
        while not run_state.list_checkpoints(workdir / RUN_DIR):
            assert proc.poll() is None, f"snakemake ended before the first checkpoint:\n{log.read_text()[-4000:]}"
            assert time.time() < deadline, f"no checkpoint in {TIMEOUT} s:\n{log.read_text()[-4000:]}"
            time.sleep(0.1)
        queue = [line.split("|") for line in cluster.run("squeue", "-h", "-o", "%i|%k").split()]
        cancelled = [job for job, comment in queue if comment.startswith("rule_train_")]
        assert len(cancelled) == 1, queue
        cluster.run("scancel", cancelled[0])
        returncode = _wait(proc, log, deadline)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert returncode == 0, log.read_text()[-6000:]
    return Run(workdir, log.read_text(), cancelled[0], time.time() - start)


def _sacct(cluster: Cluster, run_id: str) -> pd.DataFrame:
    """The run's jobs in SLURM's accounting database, once every one has its final state there."""
    fields = ["JobID", "Partition", "State", "ExitCode", "Comment", "Timelimit", "ReqMem", "AllocTRES", "Elapsed"]
    deadline = time.time() + 120
    while True:
        out = cluster.run("sacct", "-a", "-X", "-P", "-n", "--units=M", "--starttime", "now-1days", "--name", run_id,
                          "--format", ",".join(fields))
        rows = pd.DataFrame([line.split("|") for line in out.splitlines()], columns=fields)
        final = rows["State"].str.match(r"COMPLETED|CANCELLED|FAILED").all()
        if final or time.time() > deadline:
            print(out)
            return rows
        time.sleep(2)


def _minutes(timelimit: str) -> int:
    """SLURM's [days-]hours:minutes:seconds as minutes."""
    days, _, clock = timelimit.rpartition("-")
    hours, minutes, _ = map(int, clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + minutes


def test_every_job_ran_on_slurm_with_the_profiles_resources(cluster, run):
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    run_id = re.search(r"SLURM run ID: (\S+)", run.log)[1]
    jobs = _sacct(cluster, run_id)
    jobs["rule"] = jobs["Comment"].str.extract(r"^rule_([a-z_]+?)(?:_wildcards_.*)?$", expand=False)
    assert sorted(jobs["rule"]) == ["evaluate_model", "evaluate_variant", "prepare_dataset", "prepare_dataset",
                                    "train", "train"], jobs
    for job in jobs.itertuples():
        expected = {**profile["default-resources"], **profile["set-resources"].get(job.rule, {})}
        assert job.Partition == expected["slurm_partition"], job
        assert _minutes(job.Timelimit) == expected["runtime"], job
        assert job.ReqMem == f"{expected['mem_mb']}M", job
        tres = dict(item.split("=") for item in job.AllocTRES.split(","))
        assert tres["cpu"] == "1" and tres["mem"] == job.ReqMem  # cpu: the rules' threads (threads_per_job: 1)
        assert tres.get("gres/gpu") == (str(expected["gpu"]) if "gpu" in expected else None), job
        assert job.State == ("CANCELLED by 0" if job.JobID == run.cancelled else "COMPLETED"), job
    for model, target in zip(MODELS, TARGETS):
        metrics = pd.read_csv(run.dir / target)
        # 3 demo_test images x (psnr, ssim and the tables' protocol metrics, psnr_rgb and ssim_rgb)
        assert (metrics["model"] == model).all() and len(metrics) == 3 * (2 + len(protocol_metrics())), metrics
        psnr = metrics[metrics["metric"] == "psnr"]["value"]
        assert psnr.between(15, 45).all(), metrics
    print(f"snakemake through profiles/slurm: {run.seconds:.0f} s")


def test_a_scancelled_training_job_is_retried_and_resumes(run):
    assert f"SLURM-job '{run.cancelled}' failed, SLURM status is: 'CANCELLED'" in run.log, run.log[-4000:]
    assert "Trying to restart job" in run.log
    train_log = (run.dir / "logs" / "train" / "rrdb_psnr-s0.log").read_text()
    resumed = re.search(r"resuming from checkpoint \S+ at iteration (\d+)", train_log)
    assert resumed, train_log[-2000:]
    checkpoint_every, iterations = VARIANT["train"]["checkpoint_every"], VARIANT["train"]["iterations"]
    assert checkpoint_every <= int(resumed[1]) < iterations
    logged = [json.loads(line)["iteration"] for line in (run.dir / RUN_DIR / run_state.TRAIN_LOG).open()]
    assert logged == list(range(10, iterations + 1, 10))  # once each: the resumed run rewrote what was lost

    spec = {"scale": 4, **{k: v for k, v in VARIANT.items() if k != "label"}}
    reference = train_variant(spec, run.dir / "results" / "prepared" / "demo_train", run.dir / "uninterrupted",
                              seed=0, threads=1, progress=False)
    ours = load_model(run.dir / "results" / "models" / "rrdb_psnr" / "seed0" / "model.pt").state_dict()
    uninterrupted = load_model(reference).state_dict()
    assert ours.keys() == uninterrupted.keys()
    assert all(torch.equal(ours[k], uninterrupted[k]) for k in ours)

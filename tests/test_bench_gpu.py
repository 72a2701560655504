"""bench/bench_gpu.py cannot rot: its CPU dry run times every mode and writes results that `srrepro plan` reads;
without a GPU (and without --cpu) it refuses in one line."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from srrepro.planning import plan, precision, read_measurements, step_flops, step_signature
from srrepro.training.variant import WORKFLOW_KEYS, resolve_variant

ROOT = Path(__file__).resolve().parents[1]
BENCHED = ("esrgan", "fs_srgan")  # a plain pair (identity extractor, own D) and a shared extractor


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "bench_gpu.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)


def test_cpu_dry_run_times_every_mode_and_plan_reads_its_results(tmp_path):
    out = tmp_path / "dry" / "cpu"
    done = bench(str(out), "--cpu", "--variants", *BENCHED)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(Path(f"{out}.json").read_text())
    assert result["dry_run"] is True and result["device"] == "cpu" and result["config"] == "config.yaml"
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert [step["variant"] for step in result["training"]] == list(BENCHED)
    for step in result["training"]:
        spec = {k: v for k, v in config["variants"][step["variant"]].items() if k not in WORKFLOW_KEYS}
        cfg = resolve_variant({"scale": config["scale"], **spec})
        cfg["train"]["batch_size"] = min(cfg["train"]["batch_size"], 2)  # the dry run's batch
        assert step["signature"] == step_signature(cfg) and step["flops_per_iteration"] == step_flops(cfg)
        modes = step["modes"]
        assert list(modes) == ["fp32", "bf16", "bf16_channels_last", "compile"] and modes["compile"]["backend"] == "eager"
        for timing in modes.values():
            assert timing["seconds_per_iteration"] > 0 and timing["iterations_timed"] == 2
            assert timing["speedup_vs_fp32"] == pytest.approx(modes["fp32"]["seconds_per_iteration"]
                                                             / timing["seconds_per_iteration"])
    inference = result["inference"]["modes"]
    assert list(inference) == ["fp32", "bf16"] and all(t["seconds_per_image"] > 0 for t in inference.values())
    text = Path(f"{out}.txt").read_text()
    assert "DRY RUN" in text and all(f"{name}: procedure" in text for name in BENCHED) and "| compile " in text

    assert read_measurements(out.parent) == []  # a dry run is never taken for a measurement
    measured = tmp_path / "measured"
    measured.mkdir()
    result.update(device="NVIDIA H100 80GB HBM3", dry_run=False)
    (measured / "h100.json").write_text(json.dumps(result))
    edited = copy.deepcopy(config)  # the benched variants as the dry run measured them (batch 2) and their sources
    edited["variants"] = {name: edited["variants"][name] for name in ("rrdb_psnr", "fs_psnr", *BENCHED)}
    for figure in ("splits", "curves"):  # the figures' runs that are still variants (plan validates the config)
        edited["reports"][figure] = {k: v for k, v in edited["reports"][figure].items() if v in edited["variants"]}
    for name in BENCHED:
        edited["variants"][name]["train"] = {**edited["variants"][name]["train"], "batch_size": 2}
    # each job takes the measured mode of its own precision (the demo's amp: auto is bf16 + channels_last on a GPU)
    resolved = {name: resolve_variant({"scale": config["scale"], **{k: v for k, v in spec.items()
                                                                     if k not in WORKFLOW_KEYS}})
                for name, spec in edited["variants"].items()}
    timed = {step["variant"]: step["modes"][precision(resolved[step["variant"]]["train"])]
             for step in result["training"]}
    for job in plan(edited, "h100-sxm", measured).jobs:
        if job.variant in BENCHED:
            assert (job.source, job.seconds_per_iteration) == (str(measured / "h100.json"),
                                                               timed[job.variant]["seconds_per_iteration"])
        else:
            assert job.source == "estimate"
    assert all(j.source == "estimate" for j in plan(edited, "a100-sxm", measured).jobs)  # another device


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_refuses_without_a_gpu(tmp_path):
    done = bench(str(tmp_path / "out"))
    assert done.returncode == 2 and not list(tmp_path.iterdir())
    assert done.stderr.strip().splitlines() == [
        "bench_gpu: no CUDA GPU is available (torch.cuda.is_available() is False); run it on a GPU machine, or pass "
        "--cpu for a tiny dry run of the script"]

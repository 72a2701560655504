"""The benchmark scripts run against today's library: each is started as a user starts it, on the smallest settings,
and must print every row it promises (no timings are asserted; timings belong to the benches' own output)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from srrepro.models.released import RELEASED_MODELS

REPO = Path(__file__).resolve().parents[1]


def _start(script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=REPO)


def _bench(script: str, *args: str) -> str:
    result = _start(script, *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_every_bench_refuses_an_empty_input_naming_the_path(mirror_dir, tmp_path):
    """A mirror one level off (too deep for bench_metrics, too high for bench_released) or an empty benchmark folder
    times nothing: one line naming the path read, exit status 1, no table of zeros."""
    too_deep = mirror_dir / "SelfExSR"
    bsd100 = too_deep / "SelfExSR" / "BSD100" / "image_SRF_4"
    refusals = {
        "bench_metrics.py": (["--mirror", str(too_deep)],
                             f"bench_metrics: no BSD100 image to time: {bsd100} holds no img_*_SRF_4_HR.png; --mirror "
                             f"must be the folder that holds SelfExSR/ (got {too_deep})"),
        "bench_released.py": (["--mirror", str(mirror_dir), "--sets", "Set5", "Set14"],
                              f"bench_released: no LR image to time: none of Set5, Set14 has "
                              f"<set>/image_SRF_4/*_SRF_4_LR.png in {mirror_dir}; --mirror must be the SelfExSR folder "
                              f"itself"),
        "profile_run.py": (["--benchmarks", str(tmp_path)],
                           f"profile_run: no benchmark file (*.tsv) in {tmp_path}; --benchmarks must be the folder of "
                           f"a run's benchmark files (logs/benchmarks)"),
    }
    for script, (args, message) in refusals.items():
        result = _start(script, *args)
        assert result.returncode == 1 and result.stderr.strip() == message, (script, result.stderr[-2000:])
        assert result.stdout == "", (script, result.stdout)


def test_bench_models_times_every_network_and_the_spsa_attention():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_models", REPO / "bench" / "bench_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = _bench("bench_models.py", "--scales", "demo", "--devices", "cpu", "--iters", "1", "--spsa-lr", "24")
    for name, *_ in module.GENERATORS + module.DISCRIMINATORS:
        assert name in out, name
    assert "SPSA attention, LR 24x24 (N = 576), inference: row chunks" in out and "ratio" in out


def test_bench_released_estimates_every_released_model(mirror_dir, tmp_path):
    """On the smallest real Set5 image (butterfly, 64x64 LR): every released model is a paper-size network."""
    folder = tmp_path / "Set5" / "image_SRF_4"
    folder.mkdir(parents=True)
    butterfly = mirror_dir / "SelfExSR" / "Set5" / "image_SRF_4" / "img_003_SRF_4_LR.png"
    (folder / butterfly.name).symlink_to(butterfly)
    out = _bench("bench_released.py", "--mirror", str(tmp_path), "--sets", "Set5", "--images", "1",
                 "--extra-set", "Urban100=6.0", "--threads", "1")
    assert "1 LR images timed (0.004 MP) from Set5" in out, out
    assert "absent from" in out and "Set5 (min)" in out and "Urban100 (min)" in out
    for spec in RELEASED_MODELS.values():
        assert f"| {spec.label} |" in out, spec.label
    assert f"| all {len(RELEASED_MODELS)} models |" in out

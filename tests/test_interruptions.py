"""Training runs survive what happens to real runs: kill -9 of the trainer between checkpoints and during a checkpoint
write, a second trainer on the same folder, truncated checkpoints, configuration edits, and any umask.

The kill tests run the ``srrepro train`` command in real subprocesses and send real SIGKILLs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from srrepro import atomic
from srrepro.cli import main as cli_main
from srrepro.errors import CheckpointError
from srrepro.models.checkpoints import load_model, save_model
from srrepro.models import build_model
from srrepro.training import run_state, train_variant

TINY_GAN = {"procedure": "ragan_fa", "losses": {"perceptual": 0},  # no VGG weights needed
            "generator": {"arch": "rrdbnet_unet", "nf": 8, "nb": 1, "gc": 8, "d_nf": 8, "d_input_size": 16},
            "train": {"iterations": 40, "batch_size": 2, "hr_patch": 16, "checkpoint_every": 10, "log_every": 1,
                      "validate_every": 0, "milestones": [30], "lr_g": 1e-3, "lr_d": 1e-3}}
TINY_PSNR = {"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
             "train": {"iterations": 6, "batch_size": 2, "hr_patch": 16, "checkpoint_every": 2, "log_every": 1,
                       "validate_every": 0, "milestones": [3], "lr_g": 1e-3}}


def _spec(base: dict, **train) -> dict:
    return {**base, "train": {**base["train"], **train}}


def _run(spec, data_dir, out_dir, seed=0, **kwargs):
    return train_variant(spec, data_dir, out_dir, seed=seed, threads=1, progress=False, **kwargs)


def _start(spec: dict, data_dir: Path, run_dir: Path, out: Path | None = None) -> subprocess.Popen:
    """``srrepro train`` in a new process (one torch thread), its stderr in ``run_dir``'s sibling ``<name>.err``."""
    err = open(run_dir.parent / f"{run_dir.name}.err", "ab")
    return subprocess.Popen(_train_command(spec, data_dir, run_dir, out), stdout=subprocess.DEVNULL, stderr=err)


def _train_command(spec: dict, data_dir: Path, run_dir: Path, out: Path | None = None) -> list[str]:
    return [sys.executable, "-m", "srrepro.cli", "train", "--variant-json", json.dumps(spec), "--data", str(data_dir),
            "--run-dir", str(run_dir), "--out", str(out or run_dir.parent / f"{run_dir.name}.published.pt"),
            "--threads", "1"]


def _stderr(run_dir: Path) -> str:
    return (run_dir.parent / f"{run_dir.name}.err").read_text()


def _finish(process: subprocess.Popen, run_dir: Path) -> None:
    assert process.wait(timeout=600) == 0, _stderr(run_dir)[-3000:]


def _logged(run_dir: Path) -> list[int]:
    """Iterations in train_log.jsonl (complete lines only)."""
    path = run_dir / run_state.TRAIN_LOG
    if not path.exists():
        return []
    lines = path.read_text().splitlines(keepends=True)
    return [json.loads(line)["iteration"] for line in lines if line.endswith("\n")]


def _wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, f"the trainer ended before {what}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_tensors(a: Path, b: Path) -> bool:
    sa, sb = load_model(a).state_dict(), load_model(b).state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_kill_9_between_checkpoints_of_a_gan_resumes_to_the_same_bytes(data_dir, tmp_path):
    # Killed soon after iteration 55, between the checkpoints of 50 and 100, with 145 iterations left for the signal
    # to arrive before the end (on a busy machine a test can see the log seconds late).
    spec = _spec(TINY_GAN, iterations=200, checkpoint_every=50)
    reference = tmp_path / "reference"
    _run(spec, data_dir, reference, publish_to=tmp_path / "reference.published.pt")  # uninterrupted

    cut = tmp_path / "cut"
    process = _start(spec, data_dir, cut)
    _wait_for(lambda: any(i >= 55 for i in _logged(cut)), process, "iteration 55")
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    checkpoints = run_state.list_checkpoints(cut)
    assert checkpoints and max(_logged(cut)) > int(checkpoints[-1].stem.split("_")[1])  # work after it was lost
    assert not (cut / "model.pt").exists()

    _finish(_start(spec, data_dir, cut), cut)  # a fresh process
    assert "resuming from checkpoint" in _stderr(cut)
    assert _logged(cut) == list(range(1, 201))  # the lost iterations are logged once, by the resumed run
    assert _same_tensors(reference / "model.pt", cut / "model.pt")
    assert _sha256(reference / "model.pt") == _sha256(cut / "model.pt")  # byte for byte
    assert _sha256(tmp_path / "reference.published.pt") == _sha256(tmp_path / "cut.published.pt")
    final = "checkpoints/iter_00000200.pt"
    assert _sha256(reference / final) == _sha256(cut / final)


def test_kill_9_during_a_checkpoint_write_leaves_a_temporary_removed_on_the_next_start(data_dir, tmp_path):
    # A wider generator makes each checkpoint (weights and Adam moments, ~4 MB) take a few milliseconds to write.
    spec = _spec({**TINY_GAN, "generator": {**TINY_GAN["generator"], "nf": 32, "gc": 16}},
                 iterations=4, checkpoint_every=1)
    run_dir = tmp_path / "run"
    folder = run_dir / run_state.CHECKPOINT_DIR
    for _attempt in range(5):
        process = _start(spec, data_dir, run_dir)
        _wait_for(lambda: folder.is_dir() and any(e.name.startswith(".iter_") for e in os.scandir(folder)), process,
                  "a checkpoint write")
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        left = sorted(p.name for p in folder.glob(".iter_*.tmp.pt"))
        if left:
            break
    assert left, "no kill landed inside a checkpoint write in 5 attempts"
    assert all(not p.name.startswith(".") for p in run_state.list_checkpoints(run_dir))

    _finish(_start(spec, data_dir, run_dir), run_dir)
    assert "removed 1 temporary file(s) left by an interrupted write" in _stderr(run_dir)
    assert left[0] in _stderr(run_dir)
    assert not list(run_dir.rglob("*.tmp*"))
    assert (run_dir / "model.pt").exists() and _logged(run_dir) == [1, 2, 3, 4]


def test_a_live_trainer_owns_its_folder_and_a_dead_ones_is_taken_over(data_dir, tmp_path, capsys):
    spec = _spec(TINY_PSNR, iterations=60, checkpoint_every=10, log_every=10)
    run_dir = tmp_path / "run"
    owner = _start(spec, data_dir, run_dir)
    _wait_for(lambda: len(_logged(run_dir)) >= 2, owner, "the first records")
    os.kill(owner.pid, signal.SIGSTOP)  # alive, holding the folder, but not finishing while we try
    try:
        code = cli_main(["train", "--variant-json", json.dumps(spec), "--data", str(data_dir), "--run-dir",
                         str(run_dir), "--out", str(tmp_path / "x.pt"), "--threads", "1"])
        err = capsys.readouterr().err
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"srrepro train: error: run folder {run_dir} is in use by process {owner.pid} on host")
        assert f"kill {owner.pid}" in err
        assert owner.poll() is None  # the owner is unaffected
    finally:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()

    _finish(_start(spec, data_dir, run_dir), run_dir)  # a fresh process
    err = _stderr(run_dir)
    assert f"taking over run folder {run_dir} from process {owner.pid}" in err and "resuming from checkpoint" in err
    assert _logged(run_dir) == list(range(10, 61, 10))
    assert (run_dir / run_state.LOCK).read_text() == ""  # released


def test_a_truncated_checkpoint_falls_back_to_the_previous_one(data_dir, tmp_path, capsys):
    reference = _run(TINY_PSNR, data_dir, tmp_path / "reference")
    run_dir = tmp_path / "cut"
    assert _run(TINY_PSNR, data_dir, run_dir, stop_after=5) is None
    newest = run_state.checkpoint_path(run_dir, 4)
    with open(newest, "r+b") as fh:  # a write cut short (full disk, lost page cache)
        fh.truncate(newest.stat().st_size // 2)
    capsys.readouterr()

    final = _run(TINY_PSNR, data_dir, run_dir)
    err = capsys.readouterr().err
    assert f"warning: checkpoint {newest} is unreadable" in err and "fell back to iter_00000002.pt" in err
    assert "resuming from checkpoint" in err and "iteration 2" in err
    assert (run_dir / "checkpoints" / "iter_00000004.pt.corrupt").exists()
    assert _sha256(final) == _sha256(reference)


def test_no_usable_checkpoint_is_one_line_naming_the_folder(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "cut"
    assert _run(TINY_PSNR, data_dir, run_dir, stop_after=5) is None
    for path in run_state.list_checkpoints(run_dir):
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="iter_00000002.pt.*iter_00000004.pt|iter_00000004.pt.*iter_00000002.pt"):
        _run(TINY_PSNR, data_dir, run_dir)
    capsys.readouterr()
    code = cli_main(["train", "--variant-json", json.dumps(TINY_PSNR), "--data", str(data_dir), "--run-dir",
                     str(run_dir), "--out", str(tmp_path / "m.pt"), "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"no usable checkpoint in {run_dir / 'checkpoints'}" in err
    assert f"delete or move away the run folder {run_dir}" in err
    assert len(run_state.list_checkpoints(run_dir)) == 2  # left as they were


@pytest.mark.parametrize("change, changed", [
    ({"lr_g": 2e-3}, "variant.train.lr_g"),
    ({"iterations": 4}, "variant.train.iterations"),  # fewer iterations: a different run, not a resumable one
    ({"iterations": 8, "milestones": [7]}, "variant.train.iterations, variant.train.milestones"),
    ({"seed": 1}, "seed"),
])
def test_a_changed_variant_trains_afresh_and_the_old_run_is_moved_aside(change, changed, data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    old = _run(TINY_PSNR, data_dir, run_dir)
    old_bytes, old_log = old.read_bytes(), (run_dir / run_state.TRAIN_LOG).read_text()
    seed = change.pop("seed", 0)
    spec = _spec(TINY_PSNR, **change)
    capsys.readouterr()

    final = _run(spec, data_dir, run_dir, seed=seed)
    err = capsys.readouterr().err
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("run.superseded-")]
    assert len(aside) == 1
    assert f"run folder {run_dir} held a different run (changed: {changed}); moved it to {aside[0]}" in err
    assert (aside[0] / "model.pt").read_bytes() == old_bytes  # the old run, whole
    assert (aside[0] / run_state.TRAIN_LOG).read_text() == old_log
    fresh = _run(spec, data_dir, tmp_path / "fresh", seed=seed)
    assert _sha256(final) == _sha256(fresh)  # nothing of the old run went into the new one
    assert (run_dir / run_state.TRAIN_LOG).read_text().count('"iteration": 1,') == 1
    assert json.loads((run_dir / "manifest.json").read_text())["variant"]["train"]["iterations"] == \
        spec["train"]["iterations"]


def test_more_iterations_continue_the_run(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    old = _sha256(_run(TINY_PSNR, data_dir, run_dir))
    longer = _spec(TINY_PSNR, iterations=9)
    capsys.readouterr()
    final = _run(longer, data_dir, run_dir)
    err = capsys.readouterr().err
    assert f"train.iterations grew from 6 to 9: continuing the run in {run_dir}" in err
    assert "resuming from checkpoint" in err and "iteration 6" in err
    assert not [p for p in tmp_path.iterdir() if "superseded" in p.name]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["variant"]["train"]["iterations"] == 9
    assert [(e["from_iterations"], e["resumed_at"]) for e in manifest["extended"]] == [(6, 6)]
    assert _logged(run_dir) == list(range(1, 10))
    fresh = _run(longer, data_dir, tmp_path / "fresh")
    assert _sha256(final) == _sha256(fresh) != old  # the same steps as a 9-iteration run from scratch


def test_a_changed_initialisation_trains_afresh(data_dir, tmp_path, capsys):
    inits = []
    for lr in (1e-3, 2e-3):
        inits.append(_run(_spec(TINY_PSNR, lr_g=lr), data_dir, tmp_path / f"psnr{lr}"))
    gan = _spec(TINY_GAN, iterations=2, checkpoint_every=2)
    _run(gan, data_dir, tmp_path / "gan", init_checkpoint=inits[0])
    capsys.readouterr()
    _run(gan, data_dir, tmp_path / "gan", init_checkpoint=inits[1])
    assert "held a different run (changed: init_checkpoint)" in capsys.readouterr().err


@pytest.mark.parametrize("umask, mode", [(0o002, 0o664), (0o027, 0o640)])
def test_written_files_follow_the_umask(umask, mode, data_dir, tmp_path):
    previous = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
        atomic.write_bytes(tmp_path / "b.bin", b"x")
        atomic.copy_file(tmp_path / "a.txt", tmp_path / "c.txt")
        save_model(build_model("rrdbnet", nf=4, nb=1, gc=4), "rrdbnet", {"nf": 4, "nb": 1, "gc": 4},
                   tmp_path / "m.pt")
        run_dir = tmp_path / "run"
        _run(TINY_PSNR, data_dir, run_dir, publish_to=tmp_path / "published.pt")
        (tmp_path / "plain.txt").write_text("an ordinary file")
    finally:
        os.umask(previous)
    files = [tmp_path / n for n in ("a.txt", "b.bin", "c.txt", "m.pt", "published.pt", "plain.txt")]
    files += [run_dir / n for n in ("manifest.json", "model.pt", "train_log.jsonl", "run.lock")]
    files += run_state.list_checkpoints(run_dir)
    assert {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {str(p): oct(mode) for p in files}


def test_ctrl_c_says_where_it_stopped_and_the_same_command_resumes_to_the_same_bytes(data_dir, tmp_path):
    """A real SIGINT (what Ctrl-C sends) to a real ``srrepro train``: it stops after the iteration in progress with
    one line giving that iteration and how to resume, exit status 130, no KeyboardInterrupt traceback; the same
    command then ends byte-identical to an uninterrupted run."""
    spec = _spec(TINY_GAN, iterations=200)  # after iteration 15, 185 left for the signal to arrive (on a busy machine
    reference = tmp_path / "reference"     # 25 tiny iterations went by before it did)
    _run(spec, data_dir, reference)
    run_dir = tmp_path / "cut"
    process = _start(spec, data_dir, run_dir)
    _wait_for(lambda: any(i >= 15 for i in _logged(run_dir)), process, "iteration 15")
    os.kill(process.pid, signal.SIGINT)
    assert process.wait(timeout=120) == 130
    err = _stderr(run_dir)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    stopped = re.fullmatch(r"srrepro train: interrupted at iteration (\d+); run the same command to resume \(from the "
                           r"checkpoint of iteration (\d+)\)", err.strip().splitlines()[-1])
    assert stopped, err[-2000:]
    at, checkpoint = int(stopped[1]), int(stopped[2])
    assert 10 <= checkpoint <= at < 200 and at >= 15 and checkpoint % 10 == 0, stopped[0]
    assert run_state.latest_checkpoint(run_dir) == run_state.checkpoint_path(run_dir, checkpoint)
    assert not list((run_dir / "checkpoints").glob(".*"))  # no temporary left, even if it hit a checkpoint write
    _finish(_start(spec, data_dir, run_dir), run_dir)
    assert f"resuming from checkpoint {run_state.checkpoint_path(run_dir, checkpoint)} at iteration {checkpoint}" \
        in _stderr(run_dir)
    assert _sha256(reference / "model.pt") == _sha256(run_dir / "model.pt")


def test_a_full_disk_during_training_is_one_line_and_the_same_command_resumes(data_dir, tmp_path, tmpfs):
    """A real full file system (a tmpfs with a filler file) under a real ``srrepro train``: the second checkpoint
    does not fit. One line names it, the space it needs and the space free, and where training resumes; once space is
    freed the same command resumes from the first checkpoint and ends byte-identical to an uninterrupted run."""
    spec = _spec({**TINY_PSNR, "generator": {**TINY_PSNR["generator"], "nf": 32, "gc": 16}},  # ~2.7 MB checkpoints
                 keep_checkpoints=1, log_every=2)
    reference = tmp_path / "reference"
    _run(spec, data_dir, reference, stop_after=2)
    size = run_state.latest_checkpoint(reference).stat().st_size
    _run(spec, data_dir, reference)
    disk = tmpfs(tmp_path / "disk", size="16m")
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(disk).free - int(1.5 * size) - 64 * 1024))
    run_dir = disk / "run"
    command = _train_command(spec, data_dir, run_dir, tmp_path / "model.pt")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    full = re.fullmatch(rf"srrepro train: error: no space left on the device writing "
                        rf"{run_state.checkpoint_path(run_dir, 4)}: {size / 1e6:.1f} MB needed, (\S+) (MB|kB) free "
                        rf"there; free some space there and run the same command again: training resumes from the "
                        rf"checkpoint of iteration 2", line)
    assert full, line
    assert run_state.list_checkpoints(run_dir) == [run_state.checkpoint_path(run_dir, 2)]
    assert not list((run_dir / "checkpoints").glob(".*"))  # the partial file was removed
    filler.unlink()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming from checkpoint {run_state.checkpoint_path(run_dir, 2)} at iteration 2" in result.stderr
    assert _sha256(reference / "model.pt") == _sha256(run_dir / "model.pt") == _sha256(tmp_path / "model.pt")

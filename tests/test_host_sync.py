"""The training loop reads losses from the device only at log, checkpoint and validation iterations, and still stops
at the first non-finite loss before a checkpoint or validation sees its weights."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from srrepro.errors import TrainingDiverged
from srrepro.training import losses, train_variant
from srrepro.training.host_sync import LossWindow

PSNR = {"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
        "train": {"batch_size": 2, "hr_patch": 16, "validate_every": 0, "milestones": [1], "lr_g": 1e-3}}


def test_window_reads_values_only_at_its_iterations(tmp_path):
    window = LossWindow(tmp_path, 12, 4, 0, 6)  # e.g. log every 4, no validation, checkpoint every 6, 12 iterations
    read = {i: window.add({"g/pixel": torch.tensor(0.5 * i), "g/total": torch.tensor(1.0)}, i) for i in range(1, 13)}
    assert [i for i, values in read.items() if values is not None] == [4, 6, 8, 12]
    assert read[4] == {"g/pixel": 2.0, "g/total": 1.0} and read[12] == {"g/pixel": 6.0, "g/total": 1.0}


def test_window_raises_at_the_sync_point_with_the_exact_iteration(tmp_path):
    window = LossWindow(tmp_path, 12, 4)
    window.add({"a": torch.tensor(1.0), "b": torch.tensor(1.0)}, 1)
    window.add({"a": torch.tensor(1.0), "b": torch.tensor(float("nan"))}, 2)
    assert window.add({"a": torch.tensor(float("inf")), "b": torch.tensor(float("nan"))}, 3) is None  # no sync yet
    with pytest.raises(TrainingDiverged) as err:
        window.add({"a": torch.tensor(1.0), "b": torch.tensor(1.0)}, 4)
    message = str(err.value)
    assert "'b' is nan at iteration 2" in message and "iterations 1..4" in message and "checkpoint: none" in message


def test_nan_inside_a_log_window_stops_before_the_checkpoint(data_dir, tmp_path, monkeypatch):
    calls = {"n": 0}
    pixel = losses.pixel_loss

    def poisoned(sr, hr, criterion="l1"):
        calls["n"] += 1
        return pixel(sr, hr, criterion) * (float("nan") if calls["n"] == 7 else 1.0)

    monkeypatch.setattr(losses, "pixel_loss", poisoned)
    spec = {**PSNR, "train": {**PSNR["train"], "iterations": 12, "log_every": 4, "checkpoint_every": 4}}
    with pytest.raises(TrainingDiverged) as err:
        train_variant(spec, data_dir, tmp_path, seed=0, threads=1, progress=False,
                      asset_options={"perceptual_features": nn.Identity()})
    message = str(err.value)
    assert "'g/pixel' is nan at iteration 7" in message and "iterations 5..8" in message
    assert "iter_00000004.pt" in message
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["iter_00000004.pt"]  # none at 8
    records = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [4]

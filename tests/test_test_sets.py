"""Models on several test sets in one process (the workflow's evaluate jobs): SR images, timings, tidy rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from srrepro.cli import main
from srrepro.data.datasets import prepare_dataset
from srrepro.evaluation.test_sets import evaluate_on_test_sets


def test_bicubic_on_set5_and_set14_in_one_run(mirror_dir, tmp_path):
    sets = {}
    for name in ("Set5", "Set14"):
        prepare_dataset(name, tmp_path / "prepared" / name, 4, mirror=mirror_dir / "SelfExSR")
        sets[name] = tmp_path / "prepared" / name
    out = tmp_path / "metrics" / "bicubic.csv"
    rows = evaluate_on_test_sets("bicubic", "bicubic", sets, tmp_path / "sr" / "bicubic", ["psnr", "ssim"], out, scale=4)
    assert len(pd.read_csv(out)) == len(rows)
    means = rows.groupby(["dataset", "metric"])["value"].mean()
    assert means["Set5", "psnr"] == pytest.approx(28.4290, abs=5e-5)  # the published 28.42 (MATLAB bicubic, Y, shave 4)
    assert means["Set14", "psnr"] == pytest.approx(26.0884, abs=5e-5)  # grayscale images on the RGB Y scale
    assert len(rows) == (5 + 14) * 2
    for name, count in (("Set5", 5), ("Set14", 14)):
        sr = tmp_path / "sr" / "bicubic" / name
        assert len(list(sr.glob("*.png"))) == count
        assert json.loads((sr / "timing.json").read_text())["images"] == count


def test_the_command_names_a_bad_dataset_argument(tmp_path, capsys):
    code = main(["evaluate-model", "--model", "bicubic", "--name", "bicubic", "--dataset", f"Set5={tmp_path / 'none'}",
                 "--sr-root", str(tmp_path / "sr"), "--out", str(tmp_path / "m.csv")])
    assert code == 1
    assert "none" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()


def test_released_weights_unavailable_read_na_with_the_fetch_command(mirror_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SRREPRO_RELEASED_URL", "http://127.0.0.1:9/")  # the discard port: refused at once
    prepare_dataset("Set5", tmp_path / "Set5", 4, mirror=mirror_dir / "SelfExSR")
    rows = evaluate_on_test_sets("released:fasrgan", "released_fasrgan", {"Set5": tmp_path / "Set5"},
                                 tmp_path / "sr", ["psnr", "lpips"], tmp_path / "m.csv", scale=4,
                                 asset_options={"cache_dir": tmp_path / "cache"})
    assert len(rows) == 5 * 2 and rows["value"].isna().all()
    assert set(rows["note"]) == {"asset 'released-fasrgan-g' unavailable: fetch it with `srrepro assets "
                                 "released-fasrgan-g` or supply assets.local.released-fasrgan-g"}
    assert (tmp_path / "sr").is_dir() and not any((tmp_path / "sr").iterdir())


def test_models_of_one_command_share_the_metric_networks_and_keep_their_own_outputs(mirror_dir, tmp_path,
                                                                                    monkeypatch):
    from srrepro.evaluation import test_sets

    prepare_dataset("Set5", tmp_path / "Set5", 4, mirror=mirror_dir / "SelfExSR")
    builds = []
    real_build = test_sets.build_metrics
    monkeypatch.setattr(test_sets, "build_metrics", lambda *a, **k: builds.append(a) or real_build(*a, **k))
    args = ["evaluate-model", "--dataset", f"Set5={tmp_path / 'Set5'}", "--metrics", "psnr,ssim"]
    for name in ("first", "second"):
        args += ["--model", "bicubic", "--name", name, "--sr-root", str(tmp_path / "sr" / name),
                 "--out", str(tmp_path / f"{name}.csv")]
    assert main(args) == 0
    assert len(builds) == 1
    first, second = (pd.read_csv(tmp_path / f"{name}.csv") for name in ("first", "second"))
    assert set(first["model"]) == {"first"} and set(second["model"]) == {"second"}
    assert first.drop(columns="model").equals(second.drop(columns="model")) and len(first) == 5 * 2
    assert first[first["metric"] == "psnr"]["value"].mean() == pytest.approx(28.4290, abs=5e-5)
    for name in ("first", "second"):
        assert len(list((tmp_path / "sr" / name / "Set5").glob("*.png"))) == 5


def test_the_command_refuses_unpaired_model_options(tmp_path, capsys):
    code = main(["evaluate-model", "--model", "bicubic", "--name", "a", "--sr-root", str(tmp_path / "a"),
                 "--out", str(tmp_path / "a.csv"), "--model", "bicubic", "--dataset", f"Set5={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 1 and "once per model" in err and "2 --model, 1 --name" in err and "Traceback" not in err
    assert not (tmp_path / "a.csv").exists()


def test_a_second_run_into_the_same_sr_folder_replaces_it_whole(mirror_dir, tmp_path):
    """evaluate-model run again into the same --sr-root (by hand; Snakemake deletes a job's outputs first): each
    set's folder is replaced whole, so a stale image of the first run cannot be measured with the second's."""
    prepare_dataset("Set5", tmp_path / "Set5", 4, mirror=mirror_dir / "SelfExSR")
    sr = tmp_path / "sr" / "Set5"
    common = ["evaluate-model", "--model", "bicubic", "--name", "bicubic", "--dataset", f"Set5={tmp_path / 'Set5'}",
              "--sr-root", str(tmp_path / "sr"), "--metrics", "psnr"]
    assert main([*common, "--out", str(tmp_path / "first.csv")]) == 0
    (sr / "stale.png").write_bytes(sorted(sr.glob("*.png"))[0].read_bytes())  # an image no run of this model wrote
    assert main([*common, "--out", str(tmp_path / "second.csv")]) == 0
    assert sorted(p.name for p in sr.iterdir()) == sorted(["timing.json", *(p.name for p in
                                                                           (tmp_path / "Set5" / "HR").iterdir())])
    second = pd.read_csv(tmp_path / "second.csv")
    assert len(second) == 5 and "stale" not in set(second["image"])
    assert second["value"].tolist() == pd.read_csv(tmp_path / "first.csv")["value"].tolist()

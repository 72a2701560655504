"""Training procedure at tiny scale on CPU: every variant runs, Fs wiring, resume, determinism, fail-fast."""

from __future__ import annotations

import copy
import json
import sys
from contextlib import nullcontext

import pytest
import torch
from torch import nn

from conftest import skip_unless_ci
from srrepro.errors import ConfigError, TrainingDiverged
from srrepro.models.checkpoints import load_model
from srrepro.training import losses, train_variant
from srrepro.training.patches import PatchSampler, dihedral
from srrepro.training.procedures import PROCEDURES, StepContext, _d_update, _g_update, loss_weights
from srrepro.training.initialisation import load_init_weights as _load_init
from srrepro.training.variant import build_networks, resolve_variant

TINY_RRDB = {"nf": 8, "nb": 1, "gc": 8}
TRAIN = {"iterations": 2, "batch_size": 2, "hr_patch": 16, "checkpoint_every": 2, "log_every": 1,
         "validate_every": 0, "milestones": [1], "lr_g": 1e-3, "lr_d": 1e-3}
VARIANTS = {
    "psnr": {"procedure": "psnr", "generator": {"arch": "rrdbnet", **TINY_RRDB}},
    "esrgan": {"procedure": "ragan", "generator": {"arch": "rrdbnet", **TINY_RRDB},
               "discriminator": {"arch": "vgg128", "nf": 8, "input_size": 32}, "train": {"hr_patch": 32}},
    "fasrgan": {"procedure": "ragan_fa", "generator": {"arch": "rrdbnet_unet", **TINY_RRDB, "d_nf": 8, "d_input_size": 16}},
    "fs_srgan": {"procedure": "ragan", "generator": {"arch": "fs_rrdbnet_vgg", "split": "E1G1", "nf": 8, "gc": 8, "d_nf": 8, "d_input_size": 64},
                 "train": {"hr_patch": 64}},
    "fa_fs_srgan": {"procedure": "ragan_fa", "generator": {"arch": "fs_rrdbnet_unet", "split": "E1G1", "nf": 8, "gc": 8, "d_nf": 8,
                                  "d_input_size": 16}},
    "srgan": {"procedure": "bce", "generator": {"arch": "srresnet", "nf": 8, "nb": 1},
              "discriminator": {"arch": "srgan_d", "nf": 8, "input_size": 16}},
    "srgan_fa": {"procedure": "bce_fa", "generator": {"arch": "srresnet_unet", "nf": 8, "nb": 1, "d_nf": 8, "d_input_size": 16}},
    "srgan_fs": {"procedure": "bce", "generator": {"arch": "fs_srresnet", "nf": 8, "nb": 1, "d_nf": 8, "d_input_size": 16}},
    "wu": {"procedure": "leftthomas", "generator": {"arch": "attention_srgan", "nf": 8, "nb": 1, "groups": 2, "reduction": 4},
           "discriminator": {"arch": "srgan_leftthomas_d", "nf": 8}},
    "spsagan": {"procedure": "ragan", "generator": {"arch": "spsagan", **TINY_RRDB, "nb": 1},
                "discriminator": {"arch": "vgg128", "nf": 8, "input_size": 32}, "train": {"hr_patch": 32}},
}


def variant(method: str, **train) -> dict:
    """The tiny variant of a paper method (VARIANTS is keyed by method; each names its procedure)."""
    spec = copy.deepcopy(VARIANTS[method])
    spec["train"] = {**TRAIN, **spec.get("train", {}), **train}
    return spec


def assets():
    """A tiny fixed feature extractor in place of VGG (the perceptual criterion is tested in test_losses)."""
    torch.manual_seed(123)
    return {"perceptual_features": nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), "provenance": {"test": "injected"}}


def run(spec, data_dir, out_dir, seed=0, **kwargs):
    return train_variant(spec, data_dir, out_dir, seed=seed, threads=1, asset_options=assets(), progress=False,
                         **kwargs)


def test_dihedral_crops_stay_aligned(data_dir):
    sampler = PatchSampler(data_dir, scale=4, hr_patch=16, seed=0)
    lr, hr = sampler.sample(16)
    assert lr.shape == (16, 3, 4, 4) and hr.shape == (16, 3, 16, 16)
    assert torch.equal(hr[:, :, ::4, ::4], lr)  # HR is nearest-upsampled LR in the fixture
    x = torch.arange(6.0).view(1, 2, 3)
    assert len({(tuple(dihedral(x, k).shape), tuple(dihedral(x, k).flatten().tolist())) for k in range(8)}) == 8
    replay = PatchSampler(data_dir, scale=4, hr_patch=16, seed=0)
    assert torch.equal(replay.sample(16)[1], hr)


@pytest.mark.parametrize("method", sorted(VARIANTS))
def test_every_procedure_trains(method, data_dir, tmp_path):
    assert {spec["procedure"] for spec in VARIANTS.values()} == set(PROCEDURES)
    procedure = VARIANTS[method]["procedure"]
    final = run(variant(method), data_dir, tmp_path)
    assert load_model(final)(torch.rand(1, 3, 4, 4)).shape == (1, 3, 16, 16)
    records = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2]
    assert {"g/total", "seconds_per_iteration", "lr_g"} <= set(records[0])
    if procedure != "psnr":
        assert {"d/total", "g/gan", "lr_d"} <= set(records[0])
    if procedure in ("ragan_fa", "bce_fa"):
        assert {"g/map", "g/attention", "d/map"} <= set(records[0])
    assert records[1]["lr_g"] == pytest.approx(5e-4)  # MultiStepLR milestone 1, gamma 0.5
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["variant"]["procedure"] == procedure
    assert manifest["assets"]["provenance"] == {"test": "injected"}
    assert torch.get_num_threads() == 1


def test_feature_sharing_updates_extractor_from_both_objectives():
    cfg = resolve_variant(variant("fa_fs_srgan"))
    torch.manual_seed(0)
    nets = build_networks(cfg)
    opt_g = torch.optim.Adam(nets.generator_parameters(), lr=1e-2)
    opt_d = torch.optim.Adam(nets.discriminator_parameters(), lr=1e-2)
    weights = loss_weights(cfg)
    ctx = StepContext(nets, opt_g, opt_d, weights, "l1", losses.PerceptualLoss(nn.Conv2d(3, 4, 1)), nullcontext,
                      "ragan_fa")
    lr, hr = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 16, 16)
    objective = PROCEDURES["ragan_fa"].objective

    def snapshot(module):
        return [p.detach().clone() for p in module.parameters()]

    def changed(before, module):
        return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))

    e, g, d = snapshot(nets.extractor), snapshot(nets.trunk), snapshot(nets.discriminator)
    sr = nets.generate(lr)
    _g_update(ctx, objective, sr, hr)
    assert changed(e, nets.extractor) and changed(g, nets.trunk) and not changed(d, nets.discriminator)
    assert all(p.requires_grad for p in nets.discriminator.parameters())
    e, g = snapshot(nets.extractor), snapshot(nets.trunk)
    opt_g.zero_grad(set_to_none=True)
    _d_update(ctx, objective, sr, hr)
    assert changed(e, nets.extractor) and changed(d, nets.discriminator) and not changed(g, nets.trunk)
    assert all(p.grad is None for p in nets.trunk.parameters())  # SR detached in the D step



@pytest.mark.parametrize("statistics", ["all_passes", "generator_pass"])
def test_shared_bn_statistics_decide_which_passes_record(statistics):
    """SRGAN_Fs's shared E has BatchNorm. With all_passes (the authors' loop) the G and D steps' passes over SR and
    HR move E's running statistics; with generator_pass only E(LR) does, and D's passes still train E."""
    cfg = resolve_variant(variant("srgan_fs", shared_bn_statistics=statistics))
    torch.manual_seed(0)
    nets = build_networks(cfg)
    norms = [m for m in nets.extractor.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms
    opt_g = torch.optim.Adam(nets.generator_parameters(), lr=1e-2)
    opt_d = torch.optim.Adam(nets.discriminator_parameters(), lr=1e-2)
    ctx = StepContext(nets, opt_g, opt_d, loss_weights(cfg), "mse", losses.PerceptualLoss(nn.Conv2d(3, 4, 1)),
                      nullcontext, "bce")
    lr, hr = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 16, 16) + 2.0  # HR far off LR's statistics
    objective = PROCEDURES["bce"].objective

    def statistics_now():
        return [(m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked)) for m in norms]

    sr = nets.generate(lr)
    after_generator_pass = statistics_now()
    assert all(count == 1 for _, _, count in after_generator_pass)
    weights_before = [p.detach().clone() for p in nets.extractor.parameters()]
    _g_update(ctx, objective, sr, hr)
    _d_update(ctx, objective, sr, hr)
    after_steps = statistics_now()
    kept = all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2]
               for a, b in zip(after_generator_pass, after_steps))
    assert kept == (statistics == "generator_pass")
    if statistics == "all_passes":
        assert all(count == 1 + 3 for _, _, count in after_steps)  # G step: E(SR); D step: E(HR), E(SR)
    assert any(not torch.equal(a, b) for a, b in zip(weights_before, nets.extractor.parameters()))

def _final_state(path):
    return load_model(path).state_dict()


def _log(run_dir):
    """Training log records without their timings."""
    lines = (run_dir / "train_log.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds_per_iteration"} for line in lines]


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_is_bit_identical_and_seeds_matter(data_dir, val_dir, tmp_path):
    spec = variant("fa_fs_srgan", iterations=4, checkpoint_every=2, validate_every=2,
                   val_metrics=["psnr", "pi"])
    full = _final_state(run(spec, data_dir, tmp_path / "full", val_dir=val_dir))
    assert run(spec, data_dir, tmp_path / "cut", val_dir=val_dir, stop_after=3) is None  # killed after iteration 3
    assert sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()) == ["iter_00000002.pt"]
    resumed = _final_state(run(spec, data_dir, tmp_path / "cut", val_dir=val_dir))
    assert _same(full, resumed)
    assert _log(tmp_path / "full") == _log(tmp_path / "cut")
    val_log = (tmp_path / "full" / "val_log.csv").read_text()
    assert val_log == (tmp_path / "cut" / "val_log.csv").read_text()
    header, first, second = val_log.splitlines()
    assert header == "iteration,psnr,pi,unavailable"
    assert first.startswith("2,") and ",," in first and "pi" in first.split(",", 3)[3]  # PI: n/a with its reason
    same_seed = _final_state(run(spec, data_dir, tmp_path / "again", val_dir=val_dir))
    assert _same(full, same_seed)
    assert (tmp_path / "again" / "val_log.csv").read_text() == val_log
    other_seed = _final_state(run(spec, data_dir, tmp_path / "seed1", seed=1))
    assert not _same(full, other_seed)


def test_keep_checkpoints_zero_keeps_the_newest_until_the_final_model(data_dir, tmp_path):
    """keep_checkpoints 0 (smoke runs): checkpoints are written and resumable as usual, and removed at the end."""
    spec = variant("esrgan", iterations=4, checkpoint_every=1, keep_checkpoints=0)
    assert run(spec, data_dir, tmp_path, stop_after=3) is None
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["iter_00000003.pt"]
    final = run(spec, data_dir, tmp_path)
    assert final.is_file() and list((tmp_path / "checkpoints").iterdir()) == []


@pytest.mark.parametrize("keep", [1, 3, 5])
def test_keep_checkpoints_keeps_the_newest_n(data_dir, tmp_path, keep):
    """keep_checkpoints N: the newest N checkpoints stay (all of them while fewer than N were written)."""
    spec = variant("psnr", iterations=4, checkpoint_every=1, keep_checkpoints=keep)
    run(spec, data_dir, tmp_path)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == [f"iter_{i:08d}.pt" for i in range(1, 5)][-keep:]


def test_nan_loss_stops_with_iteration_term_and_checkpoint(data_dir, tmp_path, monkeypatch):
    calls = {"n": 0}
    pixel = losses.pixel_loss

    def poisoned(sr, hr, criterion="l1"):
        calls["n"] += 1
        return pixel(sr, hr, criterion) * (float("nan") if calls["n"] == 3 else 1.0)

    monkeypatch.setattr(losses, "pixel_loss", poisoned)
    with pytest.raises(TrainingDiverged) as err:
        run(variant("psnr", iterations=5, checkpoint_every=1), data_dir, tmp_path)
    message = str(err.value)
    assert "iteration 3" in message and "'g/pixel'" in message and "iter_00000002.pt" in message


@pytest.mark.parametrize("change, key", [
    ({"losses": {"gan": -1e-3}}, "losses.gan"),
    ({"losses": {"attention": -0.1}}, "losses.attention"),
    ({"train": {"lr_d": -1e-4}}, "train.lr_d"),
    ({"train": {"lr_g": -1e-4}}, "train.lr_g"),
    ({"train": {"hr_patch": 32}}, "train.hr_patch"),
    ({"train": {"batch_sise": 4}}, "train.batch_sise"),
    ({"procedure": "esrgan_plus"}, "procedure"),
])
def test_bad_variants_are_refused_up_front(change, key, data_dir, tmp_path):
    spec = variant("fasrgan")
    for section, value in change.items():
        spec[section] = {**spec.get(section, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=f"'{key}'"):
        run(spec, data_dir, tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_gan_phase_starts_from_the_psnr_model(data_dir, tmp_path):
    psnr = load_model(run(variant("psnr"), data_dir, tmp_path / "psnr"))
    nets = build_networks(resolve_variant(variant("fasrgan")))
    _load_init(nets, tmp_path / "psnr" / "model.pt")  # a plain RRDBNet file initialises the pair's generator
    assert _same(nets.trunk.state_dict(), psnr.state_dict())
    wide = build_networks(resolve_variant({**variant("fasrgan"), "generator": {"arch": "rrdbnet_unet", "nf": 16, "nb": 1,
                                                                                "gc": 8, "d_input_size": 16}}))
    with pytest.raises(ConfigError, match="init_checkpoint"):
        _load_init(wide, tmp_path / "psnr" / "model.pt")


def _tensorboard_events(run_dir):
    """The run's TensorBoard events as a reader sees them (EventAccumulator applies the purge of a resumed run)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        skip_unless_ci("tensorboard is not installed; pip install -e '.[test]'")
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _raw_steps(run_dir, tag):
    """Steps of ``tag`` in every event file of the run, as written (no purge)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return sorted(event.step for path in sorted((run_dir / "tensorboard").iterdir())
                  for event in EventFileLoader(str(path)).Load() for value in event.summary.value if value.tag == tag)


def test_tensorboard_curves_and_crops_survive_a_resume(data_dir, val_dir, tmp_path):
    spec = variant("fasrgan", iterations=4, checkpoint_every=2, validate_every=2, val_metrics=["psnr", "pi"])
    run(spec, data_dir, tmp_path / "full", val_dir=val_dir)
    full = _tensorboard_events(tmp_path / "full")
    assert run(spec, data_dir, tmp_path / "cut", val_dir=val_dir, stop_after=3) is None
    run(spec, data_dir, tmp_path / "cut", val_dir=val_dir)
    cut = _tensorboard_events(tmp_path / "cut")

    record = json.loads((tmp_path / "full" / "train_log.jsonl").read_text().splitlines()[0])
    losses = {f"loss/{k}" for k in record if "/" in k}
    assert losses >= {"loss/g/total", "loss/g/gan", "loss/g/map", "loss/d/total", "loss/d/map"}
    scalars = losses | {"lr/g", "lr/d", "time/seconds_per_iteration", "val/psnr"}  # PI is n/a here: no points
    assert set(full.Tags()["scalars"]) == set(cut.Tags()["scalars"]) == scalars
    for tag in sorted(scalars - {"time/seconds_per_iteration"}):
        expected = [(e.step, e.value) for e in full.Scalars(tag)]
        assert [(e.step, e.value) for e in cut.Scalars(tag)] == expected, tag
        assert [step for step, _ in expected] == ([2, 4] if tag.startswith("val/") else [1, 2, 3, 4])
    records = [json.loads(line) for line in (tmp_path / "full" / "train_log.jsonl").read_text().splitlines()]
    assert [e.value for e in full.Scalars("lr/g")] == pytest.approx([r["lr_g"] for r in records], rel=1e-6)
    assert [e.value for e in full.Scalars("loss/g/total")] == pytest.approx([r["g/total"] for r in records], rel=1e-6)
    val_psnr = [float(line.split(",")[1]) for line in (tmp_path / "full" / "val_log.csv").read_text().splitlines()[1:]]
    assert [e.value for e in full.Scalars("val/psnr")] == pytest.approx(val_psnr, abs=1e-5)

    assert full.Tags()["images"] == cut.Tags()["images"] == ["val_crops/000"]
    crops = full.Images("val_crops/000")
    assert [(e.step, e.width, e.height) for e in crops] == [(2, 64, 32), (4, 64, 32)]  # SR | HR of the 8-px LR image
    assert [e.encoded_image_string for e in cut.Images("val_crops/000")] == [e.encoded_image_string for e in crops]
    # The killed attempt's step 3 is still in its file; the resumed file purges it for readers.
    assert _raw_steps(tmp_path / "cut", "loss/g/total") == [1, 2, 3, 3, 4]


def test_without_tensorboard_nothing_is_written(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were not installed
    run(variant("psnr"), data_dir, tmp_path)
    assert "tensorboard is not installed: no event files" in capsys.readouterr().err
    assert not (tmp_path / "tensorboard").exists() and (tmp_path / "model.pt").exists()


# ---------------------------------------------------------------------------------------------- small images

def _small_image_sets(root):
    """Two prepared sets made by ``prepare`` from photographs written here (random colour): T91 with one image that
    fits a 32-px HR patch (LR 12x12) and two that do not (LR 6x6 and 7x10), BSD200 with one that fits."""
    import numpy as np
    from PIL import Image

    from srrepro.data.datasets import prepare_dataset

    rng = np.random.default_rng(7)
    sizes = {"T91": {"t1": (48, 48), "t20": (24, 24), "t9": (28, 40)}, "BSD200": {"100075": (40, 36)}}
    for name, images in sizes.items():
        (root / "mirror" / name).mkdir(parents=True)
        for stem, (h, w) in images.items():
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "mirror" / name / f"{stem}.png")
        prepare_dataset(name, root / name, 4, mirror=root / "mirror")
    return root / "T91", root / "BSD200"


def test_small_training_images_are_refused_by_default_and_skipped_on_request(tmp_path):
    t91, bsd200 = _small_image_sets(tmp_path)
    with pytest.raises(ConfigError) as info:
        PatchSampler(t91, scale=4, hr_patch=32, seed=0)
    assert str(info.value) == (f"train.hr_patch (32) is larger than training image t20 of {t91} (LR (6, 6), HR "
                               f"(24, 24)); lower train.hr_patch, or set train.small_images: skip to leave such images "
                               f"out (counted in the run's manifest)")
    pool = PatchSampler([t91, bsd200], scale=4, hr_patch=32, seed=0, small_images="skip")
    assert pool.skipped == ["T91/t20", "T91/t9"] and [name for name, _, _ in pool.groups[0]] == ["t1", "100075"]
    assert pool.skipped_record() == {"count": 2, "names": ["T91/t20", "T91/t9"], "reason": (
        "LR side smaller than the LR patch of 8 px (train.hr_patch 32 / scale 4); train.small_images: skip")}
    lr, hr = pool.sample(8)
    assert lr.shape == (8, 3, 8, 8) and hr.shape == (8, 3, 32, 32)
    assert PatchSampler(t91, scale=4, hr_patch=16, seed=0, small_images="skip").skipped_record() is None  # all fit
    # nothing left: refused in one line, for a pool and for a mixture's folder
    with pytest.raises(ConfigError, match=r"^train.small_images: skip leaves no training image in .*T91, .*BSD200: "
                                          r"every LR image is smaller than the LR patch of 16 px \(train.hr_patch 64\); "
                                          r"lower train.hr_patch$"):
        PatchSampler([t91, bsd200], scale=4, hr_patch=64, seed=0, small_images="skip")
    with pytest.raises(ConfigError, match=f"leaves no training image in {bsd200}: "):
        PatchSampler({t91: 1, bsd200: 1}, scale=4, hr_patch=48, seed=0, small_images="skip")


def test_skipped_images_are_logged_recorded_and_a_killed_run_resumes(tmp_path):
    """A real ``srrepro train`` with train.small_images: skip on the pool T91 + BSD200: the log names the images left
    out, the manifest records them; killed after iteration 1 and run again, the same run resumes (nothing moved
    aside) and ends as an uninterrupted run does."""
    import subprocess

    t91, bsd200 = _small_image_sets(tmp_path)
    spec = variant("psnr", hr_patch=32, iterations=3, checkpoint_every=1, small_images="skip")
    assert run(spec, [t91, bsd200], tmp_path / "cut", stop_after=1) is None  # killed after iteration 1
    argv = ["train", "--variant-json", json.dumps(spec), "--data", str(t91), "--data", str(bsd200),
            "--run-dir", str(tmp_path / "cut"), "--out", str(tmp_path / "cut.pt"), "--log-file", str(tmp_path / "log")]
    result = subprocess.run([sys.executable, "-m", "srrepro.cli", *argv], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "log").read_text()
    assert ("train.small_images: skip: left out 2 training image(s) smaller than the LR patch of 8 px: T91/t20, "
            "T91/t9") in log
    assert f"resuming from checkpoint {tmp_path / 'cut' / 'checkpoints' / 'iter_00000001.pt'}" in log, log
    assert "moved it to" not in log and sorted(p.name for p in tmp_path.glob("cut*")) == ["cut", "cut.pt"]
    manifest = json.loads((tmp_path / "cut" / "manifest.json").read_text())
    assert manifest["skipped_images"]["count"] == 2 and manifest["skipped_images"]["names"] == ["T91/t20", "T91/t9"]
    assert manifest["variant"]["train"]["small_images"] == "skip"
    whole = run(spec, [t91, bsd200], tmp_path / "whole")
    a, b = load_model(tmp_path / "cut.pt"), load_model(whole)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_run_from_before_small_images_existed_still_resumes(data_dir, tmp_path, capsys):
    """A run folder whose manifest lacks train.small_images (written before the setting existed) holds the same run
    as the default (refuse): it resumes rather than being moved aside."""
    spec = variant("psnr", iterations=3, checkpoint_every=1)
    assert run(spec, data_dir, tmp_path, stop_after=1) is None
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    del manifest["variant"]["train"]["small_images"], manifest["skipped_images"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    run(spec, data_dir, tmp_path)
    err = capsys.readouterr().err
    assert "resuming from checkpoint" in err and "moved it to" not in err, err
    assert not list(tmp_path.parent.glob(f"{tmp_path.name}.superseded-*"))
    spec["train"]["small_images"] = "skip"  # a real change of the setting is one
    run(spec, data_dir, tmp_path)
    assert "changed: variant.train.small_images" in capsys.readouterr().err


def test_t91_at_a_96_px_patch_refuses_or_skips_its_one_small_image(mirror_dir, tmp_path):
    """The real T91 (mirror): only t20 (78x78, LR 19x19 at x4) is smaller than a 96-px HR patch."""
    from srrepro.data.datasets import prepare_dataset

    if not (mirror_dir / "T91").is_dir():
        skip_unless_ci(f"mirror {mirror_dir} has no T91/ folder")
    prepare_dataset("T91", tmp_path / "T91", 4, mirror=mirror_dir)
    with pytest.raises(ConfigError, match=r"^train.hr_patch \(96\) is larger than training image t20 of .*T91 \(LR "
                                          r"\(19, 19\), HR \(76, 76\)\); lower train.hr_patch, or set "):
        PatchSampler(tmp_path / "T91", scale=4, hr_patch=96, seed=0)
    sampler = PatchSampler(tmp_path / "T91", scale=4, hr_patch=96, seed=0, small_images="skip")
    assert sampler.skipped == ["T91/t20"] and len(sampler.groups[0]) == 90

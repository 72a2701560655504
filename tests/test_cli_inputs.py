"""Bad input to the command line: one clear line naming the file or argument, exit status 1 (2 for malformed
arguments, from argparse), no traceback, and nothing written. Each test runs the real command."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from srrepro.cli import main
from srrepro.imaging.matlab import imresize as upscale_bicubic
from srrepro.inference import upscale
from srrepro.models import build_model
from srrepro.models.checkpoints import ours_to_official, save_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {"nf": 8, "nb": 1, "gc": 4}


def run(capsys, *argv) -> tuple[int, str]:
    """Run ``srrepro *argv`` in this process; return its exit status and the last line of its stderr."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit:  # argparse
        status = exit.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("[")]  # not progress lines
    return status, lines[-1] if lines else ""


def run_process(*argv) -> subprocess.CompletedProcess:
    """Run ``python -m srrepro.cli *argv`` as its own process."""
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "srrepro.cli", *map(str, argv)], capture_output=True, text=True,
                          env=env, timeout=120)


def write_images(folder, count=2, size=(12, 16), seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"img_{i}.png")
    return folder


def snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def tiny_model(path, arch="rrdbnet", seed=0, **options):
    torch.manual_seed(seed)
    options = {**TINY, **options}
    model = build_model(arch, **options, init_scale=1.0) if arch == "rrdbnet" else build_model(arch, **options)
    save_model(model, arch, options, path)
    return model


# Outputs over inputs -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["degrade", "upscale"])
def test_output_folder_that_is_or_contains_the_input_is_refused(tmp_path, capsys, command):
    data = write_images(tmp_path / "data" / "images")
    before = snapshot(data)
    status, line = run(capsys, command, data, tmp_path / "data" / "images" / ".." / "images")  # same, unresolved
    assert status == 1 and "is the input folder" in line and "images" in line
    status, line = run(capsys, command, data, tmp_path / "data")
    assert status == 1 and f"output folder {tmp_path / 'data'} contains the input folder {data}" in line
    assert snapshot(data) == before and sorted(p.name for p in (tmp_path / "data").iterdir()) == ["images"]


def test_output_folder_inside_the_input_is_allowed(tmp_path, capsys):
    """Folders are read without descending, so outputs in a subfolder neither overwrite nor become inputs."""
    data = write_images(tmp_path / "HR", size=(16, 20))
    before = snapshot(data)
    assert run(capsys, "degrade", data, data / "LR", "--scale", "4")[0] == 0
    assert [read.size for read in map(Image.open, sorted((data / "LR").iterdir()))] == [(5, 4), (5, 4)]
    assert run(capsys, "degrade", data, data / "LR", "--scale", "4")[0] == 0  # a rerun reads the same two inputs
    assert snapshot(data) == before


def test_upscale_into_a_folder_of_another_model_is_refused_or_replaced_whole(tmp_path, capsys):
    """The issue's case: bicubic into mix/, then a model on fewer images into mix/. Refused without --overwrite
    (mix/ untouched); with it, mix/ holds the model's image and timing record only, and evaluating it measures the
    model alone."""
    lr = write_images(tmp_path / "lr", count=2)
    lr1 = tmp_path / "lr1"
    lr1.mkdir()
    (lr1 / "img_0.png").write_bytes((lr / "img_0.png").read_bytes())
    model = tiny_model(tmp_path / "model.pt")
    mix = tmp_path / "mix"
    assert run(capsys, "upscale", lr, mix, "--model", "bicubic")[0] == 0
    before = snapshot(mix)
    assert sorted(before) == ["img_0.png", "img_1.png", "timing.json"]

    status, line = run(capsys, "upscale", lr1, mix, "--model", tmp_path / "model.pt")
    assert status == 1 and line == (f"srrepro upscale: error: output folder {mix} already holds 3 files (img_0.png, "
                                    f"...), from another run or model; name a new or empty folder, or pass "
                                    f"--overwrite to replace it")
    assert snapshot(mix) == before

    assert run(capsys, "upscale", lr1, mix, "--model", tmp_path / "model.pt", "--overwrite")[0] == 0
    assert sorted(p.name for p in mix.iterdir()) == ["img_0.png", "timing.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    expected = upscale(model, np.asarray(Image.open(lr1 / "img_0.png")))
    np.testing.assert_array_equal(np.asarray(Image.open(mix / "img_0.png")), expected)
    assert json.loads((mix / "timing.json").read_text())["images"] == 1

    hr = tmp_path / "hr"  # the model's image as HR: evaluation finds that one image (SSIM 1), no stale one
    hr.mkdir()
    (hr / "img_0.png").write_bytes((mix / "img_0.png").read_bytes())
    assert run(capsys, "evaluate", mix, hr, "--metrics", "ssim", "--out", tmp_path / "m.csv")[0] == 0
    rows = pd.read_csv(tmp_path / "m.csv")
    assert list(rows["image"]) == ["img_0"] and rows["value"].iloc[0] == pytest.approx(1.0)


# upscale checks the model's scale --------------------------------------------------------------------------------

def test_upscale_refuses_a_model_of_another_scale(tmp_path, capsys):
    lr = write_images(tmp_path / "LR_x3")
    tiny_model(tmp_path / "x4.pt", scale=4)
    status, line = run(capsys, "upscale", lr, tmp_path / "out", "--scale", "3", "--model", tmp_path / "x4.pt")
    assert status == 1
    assert line == (f"srrepro upscale: error: model {tmp_path / 'x4.pt'} upscales x4 (16x12 -> 64x48), not x3 as "
                    f"asked; use a x3 model, or the model's scale with data degraded by it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LR_x3", "x4.pt"]  # no output, no staging folder
    status, _ = run(capsys, "upscale", lr, tmp_path / "out", "--scale", "4", "--model", tmp_path / "x4.pt",
                    "--tile", "5")
    assert status == 0 and Image.open(tmp_path / "out" / "img_0.png").size == (64, 48)


# Paths with '+' ------------------------------------------------------------------------------------------------------

def test_a_file_with_plus_in_its_path_is_a_file(tmp_path, capsys):
    lr = write_images(tmp_path / "LR")
    model = tiny_model(tmp_path / "run+1" / "model.pt")
    assert run(capsys, "upscale", lr, tmp_path / "sr", "--model", tmp_path / "run+1" / "model.pt")[0] == 0
    expected = upscale(model, np.asarray(Image.open(lr / "img_0.png")))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "sr" / "img_0.png")), expected)


def test_a_generator_twice_is_not_an_fs_pair(tmp_path, capsys):
    """'a.pt+a.pt' used to chain two x4 generators into a silent x16."""
    lr = write_images(tmp_path / "LR")
    tiny_model(tmp_path / "a.pt")
    status, line = run(capsys, "upscale", lr, tmp_path / "sr", "--model", f"{tmp_path / 'a.pt'}+{tmp_path / 'a.pt'}")
    assert status == 1 and not (tmp_path / "sr").exists()
    assert line == (f"srrepro upscale: error: {tmp_path / 'a.pt'} is not a feature extractor: it turns an 8x8 image "
                    f"into 32x32 (the first file of EXTRACTOR+TRUNK must keep the image size)")
    status, line = run(capsys, "upscale", lr, tmp_path / "sr", "--model", f"{tmp_path / 'a.pt'}+{tmp_path / 'b.pt'}")
    assert status == 1 and line == (f"srrepro upscale: error: model file {tmp_path / 'a.pt'}+{tmp_path / 'b.pt'} "
                                    f"does not exist, nor does a '+' in it separate two existing files; use "
                                    f"'bicubic', a checkpoint file or an Fs pair EXTRACTOR+TRUNK")
    status, line = run(capsys, "upscale", lr, tmp_path / "sr", "--model", tmp_path / "LR")
    assert status == 1 and line == (f"srrepro upscale: error: model file {tmp_path / 'LR'} is a folder; use "
                                    f"'bicubic', a checkpoint file or an Fs pair EXTRACTOR+TRUNK")


def test_a_training_checkpoint_as_model_names_the_runs_model_file(data_dir, tmp_path, capsys):
    """A file from results/train/<variant>/seed<N>/checkpoints/ is refused, naming the run's model.pt."""
    from srrepro.training import train_variant

    spec = {"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
            "train": {"iterations": 4, "batch_size": 2, "hr_patch": 16, "checkpoint_every": 2, "log_every": 1,
                      "validate_every": 0, "milestones": [3], "lr_g": 1e-3}}
    run_dir = tmp_path / "train" / "psnr" / "seed0"
    train_variant(spec, data_dir, run_dir, seed=0, threads=1, progress=False, stop_after=2)  # as if killed
    lr, checkpoint = write_images(tmp_path / "LR"), run_dir / "checkpoints" / "iter_00000002.pt"
    status, line = run(capsys, "upscale", lr, tmp_path / "sr", "--model", checkpoint)
    assert status == 1 and not (tmp_path / "sr").exists()
    assert line == (f"srrepro upscale: error: '{checkpoint}' is a training checkpoint (iteration 2 of the run in "
                    f"{run_dir}), not a model file; the run has not written its final model {run_dir / 'model.pt'} "
                    f"yet: finish the training (run the same train command to resume it), then use that file")
    train_variant(spec, data_dir, run_dir, seed=0, threads=1, progress=False)
    checkpoint = run_dir / "checkpoints" / "iter_00000004.pt"
    status, line = run(capsys, "upscale", lr, tmp_path / "sr", "--model", checkpoint)
    assert status == 1 and line == (f"srrepro upscale: error: '{checkpoint}' is a training checkpoint (iteration 4 "
                                    f"of the run in {run_dir}), not a model file; use the run's final model "
                                    f"{run_dir / 'model.pt'}")
    assert run(capsys, "upscale", lr, tmp_path / "sr", "--model", run_dir / "model.pt")[0] == 0


def _official_file(model, path):
    torch.save(ours_to_official(model.state_dict()), path)


def test_fs_pair_of_official_files_is_checked(tmp_path, capsys):
    """An extractor file and a trunk file in the official layout, in a folder with '+' in its name."""
    lr = write_images(tmp_path / "LR")
    torch.manual_seed(0)
    extractor = build_model("fs_extractor", **TINY)
    trunk = build_model("fs_generator_trunk", **TINY, scale=4)
    wide_trunk = build_model("fs_generator_trunk", nf=16, nb=1, gc=4, scale=4)
    folder = tmp_path / "run+2"
    folder.mkdir()
    for name, net in [("E.pth", extractor), ("G.pth", trunk), ("G16.pth", wide_trunk)]:
        _official_file(net, folder / name)
    e, g, g16 = folder / "E.pth", folder / "G.pth", folder / "G16.pth"
    assert run(capsys, "upscale", lr, tmp_path / "sr", "--model", f"{e}+{g}")[0] == 0
    expected = upscale(torch.nn.Sequential(extractor, trunk), np.asarray(Image.open(lr / "img_1.png")))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "sr" / "img_1.png")), expected)
    status, line = run(capsys, "upscale", lr, tmp_path / "sr2", "--model", f"{g}+{e}")
    assert status == 1 and line == (f"srrepro upscale: error: {g} takes 8 channels, not RGB: it is not the "
                                    f"extractor of an EXTRACTOR+TRUNK pair (is the order swapped?)")
    status, line = run(capsys, "upscale", lr, tmp_path / "sr2", "--model", f"{e}+{g16}")
    assert status == 1 and line == (f"srrepro upscale: error: {e} puts out 8 channels but {g16} takes 16: they are "
                                    f"not an EXTRACTOR+TRUNK pair")
    assert not (tmp_path / "sr2").exists()


def test_released_fs_extractor_with_a_trunk_in_a_real_process(mirror_dir, tmp_path):
    """The released FsSRGAN_E.pth (3 -> 64 channels) and a 64-channel trunk in the official layout (the released
    FsSRGAN_G.pth is not in the mirror), in a folder named with '+'."""
    from srrepro.models.checkpoints import load_official

    weights = tmp_path / "w+1"
    weights.mkdir()
    (weights / "FsSRGAN_E.pth").symlink_to(mirror_dir / "FASRGAN-weights" / "FsSRGAN_E.pth")
    torch.manual_seed(0)
    trunk = build_model("fs_generator_trunk", nf=64, nb=1, gc=32, scale=4)
    _official_file(trunk, weights / "G.pth")
    lr = tmp_path / "LR"
    lr.mkdir()
    Image.open(mirror_dir / "SelfExSR/Set5/image_SRF_4/img_002_SRF_4_LR.png").crop((20, 20, 32, 30)).save(lr / "a.png")
    result = run_process("upscale", lr, tmp_path / "sr", "--model", f"{weights / 'FsSRGAN_E.pth'}+{weights / 'G.pth'}")
    assert result.returncode == 0, result.stderr
    pair = torch.nn.Sequential(load_official(weights / "FsSRGAN_E.pth"), trunk)
    expected = upscale(pair, np.asarray(Image.open(lr / "a.png")))
    assert expected.shape == (40, 48, 3) and np.array_equal(np.asarray(Image.open(tmp_path / "sr" / "a.png")), expected)


# Invalid scales --------------------------------------------------------------------------------------------------

def test_evaluate_scale_zero_is_refused_and_scale_four_shaves_four(mirror_dir, tmp_path, capsys):
    """Set5 bicubic x4: 28.4290 dB with the 4-pixel shave; scale 0 used to give 28.4373 (no shave)."""
    assert run(capsys, "prepare", "Set5", tmp_path / "Set5", "--mirror", mirror_dir / "SelfExSR")[0] == 0
    assert run(capsys, "upscale", tmp_path / "Set5" / "LR_x4", tmp_path / "sr", "--model", "bicubic")[0] == 0
    status, line = run(capsys, "evaluate", tmp_path / "sr", tmp_path / "Set5" / "HR", "--scale", "0",
                       "--out", tmp_path / "zero.csv")
    assert status == 2 and not (tmp_path / "zero.csv").exists()
    assert line == ("srrepro evaluate: error: argument --scale: 0 is outside 2..8 (the benchmarks' SR factors are "
                    "x2, x3, x4 and x8)")
    status, _ = run(capsys, "evaluate", tmp_path / "sr", tmp_path / "Set5" / "HR", "--scale", "4", "--metrics",
                    "psnr", "--out", tmp_path / "four.csv")
    rows = pd.read_csv(tmp_path / "four.csv")
    assert status == 0 and len(rows) == 5 and round(rows["value"].mean(), 4) == 28.4290


COMMANDS_WITH_SCALE = {
    "prepare": ["prepare", "Set5", "{tmp}/out"],
    "degrade": ["degrade", "{tmp}/in", "{tmp}/out"],
    "upscale": ["upscale", "{tmp}/in", "{tmp}/out"],
    "evaluate": ["evaluate", "{tmp}/in", "{tmp}/in"],
    "recognition": ["recognition", "--model", "hr=hr", "--out", "{tmp}/out.csv"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS_WITH_SCALE))
@pytest.mark.parametrize("scale", ["1", "0", "-3", "9", "1000000"])
def test_every_command_refuses_scales_outside_2_to_8(tmp_path, capsys, command, scale):
    argv = [a.format(tmp=tmp_path) for a in COMMANDS_WITH_SCALE[command]]
    status, line = run(capsys, *argv, "--scale", scale)
    assert status == 2 and line.startswith(f"srrepro {command}: error: argument --scale: {scale} is outside 2..8")
    assert list(tmp_path.iterdir()) == []


# Former tracebacks -----------------------------------------------------------------------------------------------

def test_malformed_arguments_name_the_argument(tmp_path, capsys):
    data = write_images(tmp_path / "in")
    status, line = run(capsys, "upscale", data, tmp_path / "out", "--tile", "0")
    assert status == 2 and line == "srrepro upscale: error: argument --tile: 0 is below 1"
    status, line = run(capsys, "evaluate", data, data, "--metrics", "psnr,sharpness")
    assert status == 2 and line == ("srrepro evaluate: error: argument --metrics: unknown metric 'sharpness'; "
                                    "known metrics: psnr,ssim,rmse,psnr_rgb,ssim_rgb,lpips,niqe,ma,pi")
    status, line = run(capsys, "evaluate", data, data, "--out", tmp_path)
    assert status == 2 and line == (f"srrepro evaluate: error: argument --out: {tmp_path} is a folder; name a file "
                                    f"(a path inside it, for instance)")
    status, line = run(capsys, "evaluate", data, data, "--asset", "lpips_alex")
    assert status == 2 and line == "srrepro evaluate: error: argument --asset: 'lpips_alex' is not NAME=PATH"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_malformed_arguments_in_a_real_process(tmp_path):
    result = run_process("evaluate", tmp_path, tmp_path, "--scale", "-4")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == ("srrepro evaluate: error: argument --scale: -4 is outside 2..8 (the "
                                              "benchmarks' SR factors are x2, x3, x4 and x8)")


def test_degrade_writes_nothing_when_an_image_is_smaller_than_the_scale(tmp_path, capsys):
    data = write_images(tmp_path / "HR", count=3, size=(16, 16))
    Image.fromarray(np.zeros((3, 40, 3), np.uint8)).save(data / "img_1.png")  # sorted between two good images
    out = tmp_path / "LR"
    result = run_process("degrade", data, out, "--scale", "4")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (f"srrepro degrade: error: image {data / 'img_1.png'} is 40x3 pixels, "
                                              f"smaller than the scale 4: it has no x1/4 image; remove it or use a "
                                              f"smaller scale")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["HR"]  # no staging folder left
    out.mkdir()
    (out / "old.png").write_bytes(b"kept")
    (data / "img_1.png").write_bytes((data / "img_0.png").read_bytes()[:100])  # truncated instead
    status, line = run(capsys, "degrade", data, out)
    assert status == 1 and line.startswith(f"srrepro degrade: error: cannot read image {data / 'img_1.png'}")
    assert snapshot(out) == {"old.png": b"kept"}


# 16-bit images ---------------------------------------------------------------------------------------------------

def test_sixteen_bit_inputs_are_refused_naming_the_file(tmp_path, capsys):
    from test_images import write_png16

    data = write_images(tmp_path / "HR", size=(16, 16))
    write_png16(data / "img_1.png", np.full((16, 16, 3), 40000, np.uint16))
    status, line = run(capsys, "degrade", data, tmp_path / "LR")
    assert status == 1 and line.startswith(f"srrepro degrade: error: cannot read image {data / 'img_1.png'}: it has "
                                           f"more than 8 bits per channel (RGB;16B)")
    assert not (tmp_path / "LR").exists()


# Ambiguous images ------------------------------------------------------------------------------------------------

def test_two_files_for_one_image_are_refused_naming_both(tmp_path, capsys):
    hr = write_images(tmp_path / "HR", size=(24, 24))
    sr = write_images(tmp_path / "SR", size=(24, 24), seed=1)
    Image.open(sr / "img_1.png").save(sr / "img_1.jpg", quality=50)
    status, line = run(capsys, "evaluate", sr, hr, "--out", tmp_path / "m.csv")
    assert status == 1 and line == (f"srrepro evaluate: error: image folder {sr} holds both img_1.jpg and img_1.png "
                                    f"for image 'img_1'; keep only one of them")
    status, line = run(capsys, "upscale", sr, tmp_path / "up", "--model", "bicubic")
    assert status == 1 and "holds both img_1.jpg and img_1.png" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["HR", "SR"]
    (sr / "img_1.jpg").unlink()
    assert run(capsys, "evaluate", sr, hr, "--out", tmp_path / "m.csv")[0] == 0
    assert len(pd.read_csv(tmp_path / "m.csv")) == 4  # two images, psnr and ssim


def test_images_too_small_for_the_shave_name_the_file(tmp_path, capsys):
    hr = write_images(tmp_path / "HR", size=(24, 24))
    sr = write_images(tmp_path / "SR", size=(24, 24), seed=1)
    status, line = run(capsys, "evaluate", sr, hr, "--scale", "8", "--metrics", "ssim")
    assert status == 1 and line == (f"srrepro evaluate: error: cannot compute ssim of {sr / 'img_0.png'}: images "
                                    f"too small for an 11x11 SSIM window after shaving: (8, 8)")


def test_report_commands_name_a_missing_or_foreign_metric_file(tmp_path, capsys):
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    status, line = run(capsys, "overview", tmp_path / "absent.csv", "--md", tmp_path / "o.md",
                       "--csv", tmp_path / "o.csv")
    assert status == 1 and line.startswith(f"srrepro overview: error: metric file {tmp_path / 'absent.csv'} does not "
                                           f"exist; `srrepro evaluate-model")
    status, line = run(capsys, "training-effects", foreign, "--variants", "{}", "--md", tmp_path / "t.md",
                       "--csv", tmp_path / "t.csv")
    assert status == 1 and line.startswith(f"srrepro training-effects: error: metric file {foreign} lacks the "
                                           f"column(s) model, dataset, image, metric, value, note")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.csv"]  # nothing written


# Symbolic links and EXIF orientation ---------------------------------------------------------------------------------

def test_broken_symlinks_in_an_input_folder_are_counted_and_explained(tmp_path, capsys):
    lr = write_images(tmp_path / "LR")
    (lr / "c.png").symlink_to(tmp_path / "nowhere.png")  # dangling
    (lr / "d.png").symlink_to(lr / "e.png")  # a loop: d -> e -> d
    (lr / "e.png").symlink_to(lr / "d.png")
    (lr / "f.png").symlink_to(lr / "img_0.png")  # a working link is an ordinary input
    status = main(["upscale", str(lr), str(tmp_path / "sr")])
    err = capsys.readouterr().err
    assert status == 0 and "Traceback" not in err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: image folder {lr}; skipped 3 broken symbolic link(s): c.png (its target "
                        f"{tmp_path / 'nowhere.png'} does not exist), d.png (a symbolic link loop), e.png (a symbolic "
                        f"link loop)"]
    assert sorted(p.name for p in (tmp_path / "sr").iterdir()) == ["f.png", "img_0.png", "img_1.png", "timing.json"]
    for name in ("img_0.png", "img_1.png", "f.png"):
        (lr / name).unlink()
    status, line = run(capsys, "upscale", lr, tmp_path / "sr2")
    assert status == 1 and line == (f"srrepro upscale: error: image folder {lr} holds no image files (.png, .jpg, "
                                    f".jpeg, .bmp, .tif, .tiff); skipped 3 broken symbolic link(s): c.png (its target "
                                    f"{tmp_path / 'nowhere.png'} does not exist), d.png (a symbolic link loop), e.png "
                                    f"(a symbolic link loop)")


@pytest.mark.parametrize("suffix, orientation, turns", [(".jpg", 6, -1), (".png", 8, 1)])
def test_exif_orientation_is_applied_as_viewers_do(tmp_path, capsys, suffix, orientation, turns):
    """A camera stores a portrait photo as landscape pixels plus an EXIF tag (6: turn clockwise to view, 8:
    anticlockwise); it is read upright, so the SR image is upright and pairs with an upright HR copy."""
    from srrepro.imaging.matlab import imresize

    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)  # stored 20 wide, 12 high
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(lr_dir / f"photo{suffix}", exif=exif, **({"quality": 95} if suffix == ".jpg" else {}))
    with Image.open(lr_dir / f"photo{suffix}") as img:
        assert img.getexif()[0x0112] == orientation
        stored = np.asarray(img.convert("RGB"))  # the pixels as stored, before the tag is applied
    upright = np.rot90(stored, turns)
    assert upright.shape == (20, 12, 3)
    assert run(capsys, "upscale", lr_dir, tmp_path / "sr")[0] == 0
    with Image.open(tmp_path / "sr" / "photo.png") as img:
        assert 0x0112 not in img.getexif()
        sr = np.asarray(img)
    assert sr.shape == (80, 48, 3) and np.array_equal(sr, imresize(np.ascontiguousarray(upright), 4))


# Read-only outputs and a full disk -----------------------------------------------------------------------------------

def test_a_read_only_output_location_is_refused_before_the_work(tmp_path, capsys, tmpfs, data_dir):
    """A real read-only file system (a tmpfs mounted ro: root cannot write there either) as the output of upscale,
    evaluate and train: one line naming it, before any image is processed or any training starts."""
    read_only = tmpfs(tmp_path / "ro", read_only=True)
    lr, hr = write_images(tmp_path / "LR", size=(8, 8)), write_images(tmp_path / "HR", size=(32, 32))
    spec = json.dumps({"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
                       "train": {"iterations": 2, "batch_size": 2, "hr_patch": 16, "validate_every": 0}})
    train = ["train", "--variant-json", spec, "--data", data_dir, "--threads", "1"]
    why = "Read-only file system; choose a writable location or make it writable"
    cases = [
        (["upscale", lr, read_only], f"cannot write to {read_only}: {why}"),
        (["upscale", lr, read_only / "sr"], f"cannot write to {read_only} (where {read_only / 'sr'} goes): {why}"),
        (["evaluate", hr, hr, "--out", read_only / "metrics.csv"],
         f"cannot write to {read_only} (where {read_only / 'metrics.csv'} goes): {why}"),
        ([*train, "--run-dir", read_only / "run", "--out", tmp_path / "model.pt"],
         f"cannot write to {read_only} (where {read_only / 'run'} goes): {why}"),
        ([*train, "--run-dir", tmp_path / "run", "--out", read_only / "model.pt"],
         f"cannot write to {read_only} (where {read_only / 'model.pt'} goes): {why}"),
    ]
    for argv, message in cases:
        status = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert status == 1 and err == f"srrepro {argv[0]}: error: {message}\n", err  # no progress line: no work
    assert not (tmp_path / "run").exists() and not (tmp_path / "model.pt").exists()
    assert list(read_only.iterdir()) == []


def test_a_full_disk_during_upscale_names_the_file_and_the_space(tmp_path, tmpfs):
    """A real full file system (a 256 kB tmpfs) under the output folder of a real ``srrepro upscale``: the second SR
    image does not fit. One line names it, the space it needs and the space free; the output folder is unchanged."""
    disk = tmpfs(tmp_path / "disk", size="256k")
    lr = write_images(tmp_path / "LR", count=2, size=(64, 64))  # noise: each x4 PNG takes about 197 kB
    encoded = io.BytesIO()
    Image.fromarray(upscale_bicubic(np.asarray(Image.open(lr / "img_1.png")), 4)).save(encoded, format="PNG")
    result = run_process("upscale", lr, disk / "sr")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    free = re.fullmatch(rf"srrepro upscale: error: no space left on the device writing {disk / 'sr' / 'img_1.png'}: "
                        rf"{len(encoded.getvalue()) / 1e3:.1f} kB needed, (\S+) kB free there; {disk / 'sr'} is "
                        rf"unchanged; free some space there and run the same command again", line)
    assert free and float(free[1]) < len(encoded.getvalue()) / 1e3, line
    assert list(disk.iterdir()) == []  # neither the output folder nor the staging folder is left

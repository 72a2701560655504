"""Dataset registry: offline demo split, benchmark preparation from the mirror, clear errors."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srrepro.imaging.matlab import imresize
from srrepro.data.dataset_sources import DATASET_SOURCES, Download
from srrepro.data.dataset_cache import fetch_dataset
from srrepro.data.dataset_sources import MIRROR_CONFIG_KEY
from srrepro.data.datasets import get_dataset, iter_hr_images, iter_image_pairs, list_dataset_names, prepare_dataset
from srrepro.data.demo_photographs import DEMO_TEST, DEMO_TRAIN
from srrepro.data.prepared import read_prepared
from srrepro.errors import DatasetUnavailable
from srrepro.errors import AssetUnavailable, ConfigError
from srrepro.imaging.images import read_image


def test_names():
    names = list_dataset_names()
    for expected in ["demo_train", "demo_test", "Set5", "Set14", "BSD100", "Urban100", "Manga109", "DIV2K_valid",
                     "PIRM_val"]:
        assert expected in names
    with pytest.raises(ConfigError, match="unknown dataset 'Set6'.*Set5"):
        get_dataset("Set6")


def test_demo_split_is_deterministic_disjoint_and_natural_colour():
    train = dict(iter_hr_images("demo_train"))
    test = dict(iter_hr_images("demo_test"))
    assert list(test) == list(DEMO_TEST) and list(train) == list(DEMO_TRAIN)
    assert len(test) == 3 and len(train) == 3 and not set(test) & set(train)
    for img in [*train.values(), *test.values()]:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert not np.array_equal(img[..., 0], img[..., 1])  # colour photographs
    for test_img in test.values():  # disjoint by content too
        assert not any(test_img.shape == t.shape and np.array_equal(test_img, t) for t in train.values())
    assert train["grace_hopper"].shape == (600, 512, 3)  # matplotlib's sample photograph
    again = dict(iter_hr_images("demo_test"))
    assert all(np.array_equal(again[n], test[n]) for n in test)


def test_prepare_demo_test(tmp_path):
    names = prepare_dataset("demo_test", tmp_path, 4)
    assert names == list(DEMO_TEST)
    for name, hr, lr in read_prepared(tmp_path, 4):
        assert hr.shape[0] % 4 == 0 and hr.shape[1] % 4 == 0
        assert lr.shape == (hr.shape[0] // 4, hr.shape[1] // 4, 3)
        assert np.array_equal(lr, imresize(hr, 1 / 4)), name
    assert read_image(tmp_path / "HR" / "chelsea.png").shape == (300, 448, 3)  # 300x451 mod-cropped


def test_prepare_set5_from_mirror(tmp_path, mirror_dir):
    names = prepare_dataset("Set5", tmp_path / "Set5", 4, mirror=mirror_dir / "SelfExSR")
    assert names == [f"img_00{i}" for i in range(1, 6)]
    source = mirror_dir / "SelfExSR" / "Set5" / "image_SRF_4"
    for name in names:
        hr = read_image(tmp_path / "Set5" / "HR" / f"{name}.png")
        assert np.array_equal(hr, read_image(source / f"{name}_SRF_4_HR.png"))  # already a multiple of 4
        lr = read_image(tmp_path / "Set5" / "LR_x4" / f"{name}.png")
        assert lr.shape == (hr.shape[0] // 4, hr.shape[1] // 4, 3)
        published = read_image(source / f"{name}_SRF_4_LR.png").astype(int)
        assert np.mean(np.abs(lr.astype(int) - published) <= 1) >= 0.99
    # The parent of SelfExSR/ is accepted as the mirror as well; scale 3 mod-crops the x4 HR again.
    names3 = prepare_dataset("Set5", tmp_path / "Set5x3", 3, mirror=mirror_dir)
    hr3 = read_image(tmp_path / "Set5x3" / "HR" / "img_005.png")
    assert names3 == names and hr3.shape == (342, 228, 3)  # 344x228 cropped to multiples of 3
    assert read_image(tmp_path / "Set5x3" / "LR_x3" / "img_005.png").shape == (114, 76, 3)


def test_missing_mirror_names_path_and_config_key(tmp_path):
    with pytest.raises(AssetUnavailable) as info:
        prepare_dataset("Manga109", tmp_path / "out", 4, mirror=tmp_path / "mirror")
    message = str(info.value)
    assert f"mirror {tmp_path / 'mirror' / 'Manga109'} (missing)" in message and MIRROR_CONFIG_KEY in message
    assert "\n" not in message and "data.download" not in message  # one line; Manga109 is never downloaded
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=MIRROR_CONFIG_KEY):
        prepare_dataset("Set5", tmp_path / "out", 4)


# ------------------------------------------------------------------------ mirror layouts, cache and downloads

def _png_bytes(seed: int, size=(8, 8)) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _write_png(path: Path, seed: int, size=(8, 8)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png_bytes(seed, size))


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _with_downloads(monkeypatch, name: str, *downloads: Download) -> None:
    monkeypatch.setitem(DATASET_SOURCES, name, replace(DATASET_SOURCES[name], downloads=downloads))


def test_mirror_plain_folder_keeps_only_hr_files(tmp_path):
    _write_png(tmp_path / "m" / "PIRM_val" / "1_HR.png", 1)
    _write_png(tmp_path / "m" / "PIRM_val" / "1_LR.png", 2, (2, 2))
    _write_png(tmp_path / "m" / "PIRM_val" / "2_HR.png", 3)
    assert [n for n, _ in iter_hr_images("PIRM_val", 4, tmp_path / "m")] == ["1", "2"]


def test_mirror_hr_subfolder_and_alternative_names(tmp_path):
    _write_png(tmp_path / "m" / "DIV2K_valid_HR" / "0801.png", 1)  # an alternative mirror name
    _write_png(tmp_path / "m" / "Manga109" / "HR" / "AisazuNihaIrarenai.png", 2)
    assert [n for n, _ in iter_hr_images("DIV2K_valid", 4, tmp_path / "m")] == ["0801"]
    names = prepare_dataset("Manga109", tmp_path / "out", 4, mirror=tmp_path / "m")
    assert names == ["AisazuNihaIrarenai"] and read_image(tmp_path / "out" / "LR_x4" / f"{names[0]}.png").shape == (2, 2, 3)


def test_mirror_recursive_category_folders(tmp_path):
    _write_png(tmp_path / "m" / "OutdoorSceneTrain_v2" / "sky" / "sky_1.png", 1)
    _write_png(tmp_path / "m" / "OutdoorSceneTrain_v2" / "water" / "w.png", 2)
    assert [n for n, _ in iter_hr_images("OST_train", 4, tmp_path / "m")] == ["sky_sky_1", "water_w"]


def test_realsr_reads_its_own_lr(tmp_path):
    folder = tmp_path / "m" / "RealSR(V3)" / "Canon" / "Test" / "4"
    _write_png(folder / "Canon_001_HR.png", 1, (16, 18))  # 18 is not a multiple of 4: HR cropped to 16x16
    _write_png(folder / "Canon_001_LR4.png", 2, (4, 4))
    _write_png(tmp_path / "m" / "RealSR(V3)" / "Nikon" / "Test" / "4" / "002_HR.png", 3, (8, 8))
    _write_png(tmp_path / "m" / "RealSR(V3)" / "Nikon" / "Test" / "4" / "002_LR4.png", 4, (2, 2))
    names = prepare_dataset("RealSR_V3", tmp_path / "out", 4, mirror=tmp_path / "m")
    assert names == ["Canon_001", "Nikon_002"]
    lr = read_image(tmp_path / "out" / "LR_x4" / "Canon_001.png")
    assert np.array_equal(lr, read_image(folder / "Canon_001_LR4.png"))  # provided, not bicubic
    assert read_image(tmp_path / "out" / "HR" / "Canon_001.png").shape == (16, 16, 3)
    _write_png(tmp_path / "flat" / "RealSR_V3" / "Test" / "4" / "a_HR.png", 5)
    _write_png(tmp_path / "flat" / "RealSR_V3" / "Test" / "4" / "a_LR4.png", 6, (2, 2))
    pairs = list(iter_image_pairs("RealSR_V3", 4, tmp_path / "flat"))
    assert [(n, lr.shape) for n, _, lr in pairs] == [("a", (2, 2, 3))]


def test_download_zip_verified_extracted_cached(tmp_path, monkeypatch):
    members = {"pkg/DIV2K_valid_HR/0801.png": _png_bytes(1), "pkg/DIV2K_valid_HR/0802.png": _png_bytes(2),
               "pkg/README.txt": b"not an image", "pkg/other/0803.png": _png_bytes(3)}
    archive = _zip(tmp_path / "valid.zip", members)
    data = archive.read_bytes()
    _with_downloads(monkeypatch, "DIV2K_valid",
                    Download(archive.as_uri(), hr_glob="pkg/DIV2K_valid_HR/*.png",
                             sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest(),
                             size=len(data)))
    target = fetch_dataset("DIV2K_valid", tmp_path / "cache")
    assert target == tmp_path / "cache" / "datasets" / "DIV2K_valid"
    assert sorted(p.name for p in (target / "HR").iterdir()) == ["0801.png", "0802.png"]
    record = json.loads((target / "provenance.json").read_text())
    assert record["archive_verification"] == "sha256 + md5" and set(record["files"]) == {"HR/0801.png", "HR/0802.png"}
    assert [p.name for p in (tmp_path / "cache" / "datasets").iterdir()] == ["DIV2K_valid"]  # no temporary left
    archive.unlink()  # the cache is used from now on
    names = prepare_dataset("DIV2K_valid", tmp_path / "out", 4, cache_dir=tmp_path / "cache")
    assert names == ["0801", "0802"]
    assert np.array_equal(read_image(tmp_path / "out" / "HR" / "0801.png"), read_image(target / "HR" / "0801.png"))
    # A damaged cache (file size changed) is not used and is fetched again when possible.
    (target / "HR" / "0801.png").write_bytes(b"broken")
    with pytest.raises(DatasetUnavailable, match="incomplete or without provenance"):
        prepare_dataset("DIV2K_valid", tmp_path / "out2", 4, cache_dir=tmp_path / "cache")


def test_checksum_mismatch_rejected_nothing_left(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "a.zip", {"DIV2K_valid_HR/0801.png": _png_bytes(1)})
    _with_downloads(monkeypatch, "DIV2K_valid",
                    Download(archive.as_uri(), hr_glob="DIV2K_valid_HR/*.png", sha256="0" * 64))
    with pytest.raises(DatasetUnavailable) as info:
        prepare_dataset("DIV2K_valid", tmp_path / "out", 4, cache_dir=tmp_path / "cache", download=True)
    assert "sha256 mismatch" in str(info.value) and archive.as_uri() in str(info.value)
    assert list((tmp_path / "cache" / "datasets").iterdir()) == [] and not (tmp_path / "out").exists()


def test_md5_verification(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "a.zip", {"DIV2K_valid_HR/0801.png": _png_bytes(1)})
    good = hashlib.md5(archive.read_bytes()).hexdigest()
    _with_downloads(monkeypatch, "DIV2K_valid", Download(archive.as_uri(), hr_glob="DIV2K_valid_HR/*.png", md5="f" * 32))
    with pytest.raises(DatasetUnavailable, match="md5 mismatch"):
        fetch_dataset("DIV2K_valid", tmp_path / "cache")
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []
    _with_downloads(monkeypatch, "DIV2K_valid", Download(archive.as_uri(), hr_glob="DIV2K_valid_HR/*.png", md5=good))
    target = fetch_dataset("DIV2K_valid", tmp_path / "cache")
    assert json.loads((target / "provenance.json").read_text())["archive_verification"] == "md5"


def test_unpublished_checksum_recorded_then_content_checked(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "a.zip", {"x/DIV2K_valid_HR/0801.png": _png_bytes(1)})
    _with_downloads(monkeypatch, "DIV2K_valid", Download(archive.as_uri(), hr_glob="x/DIV2K_valid_HR/*.png"))
    target = fetch_dataset("DIV2K_valid", tmp_path / "c1")
    record = json.loads((target / "provenance.json").read_text())
    assert record["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert "recorded on first download" in record["archive_verification"]
    _with_downloads(monkeypatch, "DIV2K_valid", Download(archive.as_uri(), hr_glob="x/DIV2K_valid_HR/*.png",
                                                          content_sha256="1" * 64))
    with pytest.raises(DatasetUnavailable, match="content sha256 mismatch"):
        fetch_dataset("DIV2K_valid", tmp_path / "c2")
    assert list((tmp_path / "c2" / "datasets").iterdir()) == []


def test_download_tar_with_provided_lr(tmp_path, monkeypatch):
    archive = tmp_path / "realsr.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in {"RealSR(V3)/Canon/Test/4/Canon_001_HR.png": _png_bytes(1, (8, 8)),
                           "RealSR(V3)/Canon/Test/4/Canon_001_LR4.png": _png_bytes(2, (2, 2)),
                           "RealSR(V3)/Canon/Train/4/Canon_009_HR.png": _png_bytes(3)}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    _with_downloads(monkeypatch, "RealSR_V3",
                    Download(archive.as_uri(), hr_glob="RealSR(V3)/*/Test/4/*_HR.png",
                             lr_glob="RealSR(V3)/*/Test/4/*_LR4.png"))
    pairs = list(iter_image_pairs("RealSR_V3", 4, cache_dir=tmp_path / "cache", download=True))
    assert [n for n, _, _ in pairs] == ["Canon_001"]
    assert np.array_equal(pairs[0][2], np.asarray(Image.open(io.BytesIO(_png_bytes(2, (2, 2))))))


def test_missing_everything_names_paths_urls_and_config_key(tmp_path):
    with pytest.raises(DatasetUnavailable) as info:
        prepare_dataset("DIV2K_train", tmp_path / "out", 4, mirror=tmp_path / "m", cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert "dataset 'DIV2K_train'" in message
    assert f"mirror {tmp_path / 'm' / 'DIV2K_train'} (missing)" in message
    assert f"mirror {tmp_path / 'm' / 'DIV2K_train_HR'} (missing)" in message
    assert str(tmp_path / "cache" / "datasets" / "DIV2K_train") in message
    assert "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip (not tried" in message
    assert "data.mirror/DIV2K_train" in message
    with pytest.raises(DatasetUnavailable) as info:  # user-supplied: no download is attempted
        prepare_dataset("Manga109", tmp_path / "out", 4, cache_dir=tmp_path / "cache", download=True)
    assert "forbids redistribution" in str(info.value) and "data.mirror/Manga109" in str(info.value)
    with pytest.raises(DatasetUnavailable, match="data.imagenet"):
        fetch_dataset("ImageNet_val", tmp_path / "cache")
    assert not (tmp_path / "out").exists()


def test_demo_val_is_central_crops_of_the_test_photographs(tmp_path):
    from skimage import data

    from srrepro.data.datasets import prepare_dataset
    from srrepro.imaging.images import read_image

    assert prepare_dataset("demo_val", tmp_path, 4) == ["astronaut", "chelsea", "coffee"]
    for name in ("astronaut", "chelsea", "coffee"):
        original = getattr(data, name)()
        top, left = (original.shape[0] - 192) // 2, (original.shape[1] - 192) // 2
        crop = read_image(tmp_path / "HR" / f"{name}.png")
        assert crop.shape == (192, 192, 3)
        assert (crop == original[top : top + 192, left : left + 192]).all()
        assert read_image(tmp_path / "LR_x4" / f"{name}.png").shape == (48, 48, 3)


def test_smoke_options_keep_the_first_images_and_their_central_lr_crop(tmp_path):
    """prepare's smoke options: ``max_images`` keeps the first images; ``centre_crop_lr`` keeps the central crop of at
    most N LR pixels a side and the HR region above it, for bicubic sets (HR cut, then degraded) and real-LR sets."""
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)  # mod-cropped to 48x68 -> LR 12x17
    for i in range(3):
        Image.fromarray(hr if i == 0 else hr[::-1]).save(_mkdir(tmp_path / "m" / "PIRM_val") / f"{i}.png")
    names = prepare_dataset("PIRM_val", tmp_path / "out", 4, mirror=tmp_path / "m", centre_crop_lr=10, max_images=2)
    assert names == ["0", "1"] and sorted(p.stem for p in (tmp_path / "out" / "HR").iterdir()) == ["0", "1"]
    cut = hr[4:44, 12:52]  # LR rows (12-10)//2 = 1 .. 11, columns (17-10)//2 = 3 .. 13, times 4
    assert np.array_equal(read_image(tmp_path / "out" / "HR" / "0.png"), cut)
    assert np.array_equal(read_image(tmp_path / "out" / "LR_x4" / "0.png"), imresize(cut, 1 / 4))

    real = _mkdir(tmp_path / "r" / "RealSR_V3" / "Test" / "4")
    lr = rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)
    Image.fromarray(hr).save(real / "a_HR.png")
    Image.fromarray(lr).save(real / "a_LR4.png")
    prepare_dataset("RealSR_V3", tmp_path / "real", 4, mirror=tmp_path / "r", centre_crop_lr=10)
    assert np.array_equal(read_image(tmp_path / "real" / "HR" / "a.png"), cut)
    assert np.array_equal(read_image(tmp_path / "real" / "LR_x4" / "a.png"), lr[1:11, 3:13])  # provided LR, cut alike
    prepare_dataset("RealSR_V3", tmp_path / "whole", 4, mirror=tmp_path / "r", centre_crop_lr=96)  # larger: no-op
    assert read_image(tmp_path / "whole" / "HR" / "a.png").shape == (48, 68, 3)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------ the 291 set: bad input, one line each

def _cli_error(capsys, argv: list[str]) -> str:
    """Run ``srrepro`` and return its only stderr line (exit status 1, no traceback)."""
    from srrepro.cli import main

    assert main(argv) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("name, damaged", [("T91", "t10.bmp"), ("BSD200", "100075.png")])
def test_truncated_training_image_is_one_line_naming_it_and_nothing_is_prepared(name, damaged, mirror_dir, tmp_path,
                                                                                capsys):
    """A copy of the reference set with one image cut in half: prepare stops at it, naming the file and where a
    complete copy comes from, and writes no prepared folder (not even the images read before it)."""
    from shutil import copyfile

    source = mirror_dir / name
    if not source.is_dir():
        from conftest import skip_unless_ci

        skip_unless_ci(f"mirror {mirror_dir} has no {name}/ folder")
    folder = _mkdir(tmp_path / "m" / name)
    kept = sorted(p.name for p in source.iterdir())[:3]
    for file in {*kept, damaged}:
        copyfile(source / file, folder / file)
    data = (source / damaged).read_bytes()
    (folder / damaged).write_bytes(data[: len(data) // 2])
    line = _cli_error(capsys, ["prepare", name, str(tmp_path / "out"), "--mirror", str(tmp_path / "m")])
    url = next(d for d in DATASET_SOURCES[name].downloads).url.replace("{name}", damaged)
    assert line.startswith(f"srrepro prepare: error: cannot read image {folder / damaged}: image file is truncated")
    assert line.endswith(f"; it is an image of dataset '{name}' (mirror {folder}): replace it with a complete copy "
                         f"({url})")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"], "a half-prepared set was left"
    # the complete copy put back, the set prepares
    (folder / damaged).write_bytes(data)
    assert prepare_dataset(name, tmp_path / "out", 4, mirror=tmp_path / "m") == sorted(
        Path(f).stem for f in {*kept, damaged})


def test_truncated_prepared_image_stops_training_in_one_line(tmp_path, capsys):
    """A prepared training set whose HR PNG was cut short (a full disk, a copy interrupted): training stops before
    its first step, naming the file and the fix."""
    _write_png(tmp_path / "raw" / "T91" / "t1.png", 1, (40, 40))
    _write_png(tmp_path / "raw" / "T91" / "t2.png", 2, (40, 40))
    prepare_dataset("T91", tmp_path / "T91", 4, mirror=tmp_path / "raw")
    hr = tmp_path / "T91" / "HR" / "t2.png"
    hr.write_bytes(hr.read_bytes()[:-30])
    variant = {"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 8},
               "train": {"iterations": 1, "batch_size": 1, "hr_patch": 16, "validate_every": 0}}
    line = _cli_error(capsys, ["train", "--variant-json", json.dumps(variant), "--data", str(tmp_path / "T91"),
                               "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "model.pt")])
    assert line.startswith(f"srrepro train: error: cannot read image {hr}: ")
    assert line.endswith(f"; prepared dataset {tmp_path / 'T91'} is damaged: delete the folder and prepare it again")
    assert not (tmp_path / "model.pt").exists()


def test_missing_291_mirror_folder_is_one_line_naming_it_and_the_fix(tmp_path, capsys):
    _mkdir(tmp_path / "m" / "T91x")
    line = _cli_error(capsys, ["prepare", "T91", str(tmp_path / "out"), "--mirror", str(tmp_path / "m")])
    assert line.startswith(f"srrepro prepare: error: dataset 'T91' is unavailable (tried: mirror "
                           f"{tmp_path / 'm' / 'T91'} (missing); ")
    assert line.endswith("supply it with the config key 'data.mirror/T91' (layout: <mirror>/T91/t1.bmp ... tt27.bmp "
                         "(or HR/)), or set data.download: true (srrepro prepare --download) to download it with its "
                         "checksum")
    assert "dcscn-super-resolution" in line and not (tmp_path / "out").exists()

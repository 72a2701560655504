"""Dataset registry: offline demo split, benchmark preparation from the mirror, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from srrepro.bicubic import imresize
from srrepro.datasets import (DEMO_TEST, DEMO_TRAIN, MIRROR_CONFIG_KEY, get_dataset, iter_hr_images,
                              list_dataset_names, prepare_dataset, read_prepared)
from srrepro.errors import AssetUnavailable, ConfigError
from srrepro.images import read_image


def test_names():
    names = list_dataset_names()
    for expected in ["demo_train", "demo_test", "Set5", "Set14", "BSD100", "Urban100", "Manga109", "DIV2K_valid",
                     "PIRM_val"]:
        assert expected in names
    with pytest.raises(ConfigError, match="unknown dataset 'Set6'.*Set5"):
        get_dataset("Set6")


def test_demo_split_is_deterministic_disjoint_and_follows_its_rule():
    train = dict(iter_hr_images("demo_train"))
    test = dict(iter_hr_images("demo_test"))
    assert list(test) == list(DEMO_TEST) and list(train) == list(DEMO_TRAIN)
    assert len(test) == 3 and len(train) == 6 and not set(test) & set(train)
    for img in [*train.values(), *test.values()]:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert not np.array_equal(img[..., 0], img[..., 1])  # colour photographs
    for test_img in test.values():  # disjoint by content too
        assert not any(test_img.shape == t.shape and np.array_equal(test_img, t) for t in train.values())
    pixels = {name: img.shape[0] * img.shape[1] for name, img in {**train, **test}.items()}
    assert sorted(sorted(pixels, key=lambda name: (pixels[name], name))[:3]) == sorted(DEMO_TEST)
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
    assert str(tmp_path / "mirror" / "Manga109" / "image_SRF_4") in message and MIRROR_CONFIG_KEY in message
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=MIRROR_CONFIG_KEY):
        prepare_dataset("Set5", tmp_path / "out", 4)

"""Image input/output: RGB uint8 arrays, grayscale replication, clear errors for broken files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from srrepro.errors import ImageReadError
from srrepro.imaging.images import list_images, read_image, write_image


def test_round_trip_png(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
    write_image(tmp_path / "sub" / "a.png", img)
    back = read_image(tmp_path / "sub" / "a.png")
    assert back.dtype == np.uint8 and np.array_equal(back, img)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.png"]  # no temporary file left behind


def test_grayscale_is_replicated_and_alpha_dropped(tmp_path):
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10)
    Image.fromarray(gray).save(tmp_path / "g.png")
    rgb = read_image(tmp_path / "g.png")
    assert rgb.shape == (6, 10, 3) and all(np.array_equal(rgb[..., c], gray) for c in range(3))
    rgba = np.dstack([np.full((4, 5, 3), 200, np.uint8), np.zeros((4, 5), np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), np.full((4, 5, 3), 200, np.uint8))


def test_set14_grayscale_file_reads_as_rgb(mirror_dir):
    img = read_image(mirror_dir / "SelfExSR" / "Set14" / "image_SRF_4" / "img_003_SRF_4_HR.png")
    assert img.shape == (512, 512, 3)
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


def test_truncated_png_raises_naming_the_file(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "whole.png"
    write_image(path, rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    broken = tmp_path / "truncated.png"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated.png") as info:
        read_image(broken)
    assert "truncated" in str(info.value).split("truncated.png", 1)[1]  # says what is wrong, not only which file


def test_missing_and_non_image_files(tmp_path):
    with pytest.raises(ImageReadError, match="nothere.png.*no such file"):
        read_image(tmp_path / "nothere.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageReadError, match="text.png"):
        read_image(tmp_path / "text.png")


def test_write_rejects_non_uint8(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3), dtype=np.float32))


def test_list_images_sorted_and_errors(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.bmp", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.bmp"]
    with pytest.raises(ImageReadError, match="missing_folder.*does not exist"):
        list_images(tmp_path / "missing_folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="empty.*no image files"):
        list_images(tmp_path / "empty")

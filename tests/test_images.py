"""Image input/output: RGB uint8 arrays, grayscale replication, clear errors for broken files."""

from __future__ import annotations

import struct
import zlib

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


def write_png16(path, array: np.ndarray) -> None:
    """Write a uint16 (H, W, 3) array as a 16-bit RGB PNG (Pillow cannot write one): IHDR, one zlib IDAT, IEND."""
    height, width = array.shape[:2]
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # 16 bits, colour type 2 (RGB)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def test_sixteen_bit_colour_and_gray_are_both_refused(tmp_path):
    """Pillow would keep only the high byte of 16-bit colour (40000 -> 156) and cannot convert 16-bit gray."""
    values = np.arange(4 * 5 * 3, dtype=np.uint16).reshape(4, 5, 3) * 1000
    write_png16(tmp_path / "rgb16.png", values)
    with Image.open(tmp_path / "rgb16.png") as img:  # Pillow sees a 16-bit RGB file
        assert img.mode == "RGB" and img.tile[0][3] == "RGB;16B"
    Image.fromarray(values[..., 0]).save(tmp_path / "gray16.png")
    with Image.open(tmp_path / "gray16.png") as img:
        assert img.mode == "I;16"
    for name, mode in [("rgb16.png", "RGB;16B"), ("gray16.png", "I;16")]:
        with pytest.raises(ImageReadError) as info:
            read_image(tmp_path / name)
        assert str(info.value) == (f"cannot read image {tmp_path / name}: it has more than 8 bits per channel "
                                   f"({mode}); srrepro works on 8-bit images, convert it first (e.g. magick {name} "
                                   f"-depth 8 {name[:-4]}_8bit.png)")
    Image.fromarray((values // 257).astype(np.uint8)).save(tmp_path / "rgb8.png")  # 8-bit still reads
    assert np.array_equal(read_image(tmp_path / "rgb8.png"), values // 257)


def test_two_files_with_one_stem_are_refused(tmp_path):
    write_image(tmp_path / "img.png", np.zeros((4, 4, 3), np.uint8))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "img.JPG")
    with pytest.raises(ImageReadError, match=r"holds both img.JPG and img.png for image 'img'"):
        list_images(tmp_path)

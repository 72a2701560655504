"""The dataset table: every dataset the papers use, with licence, sources, checksums and config keys."""

from __future__ import annotations

import re

import pytest

from srrepro.data.dataset_sources import (
    CHECKSUM_ESTABLISHED,
    CHECKSUM_PUBLISHED,
    CHECKSUM_USER,
    DATASET_SOURCES,
    Download,
    available_datasets,
    format_table,
    get_source,
)
from srrepro.data.dataset_cache import content_sha256, fetch_dataset
from conftest import skip_unless_ci
from srrepro.data.datasets import iter_hr_images, list_dataset_names

CONFIG_NAMES = ["Set5", "Set14", "BSD100", "Urban100", "Manga109", "DIV2K_train", "DIV2K_valid", "PIRM_val",
                "PIRM_test", "RealSR_V3", "OST300", "OST_train", "Flickr2K", "T91", "BSD200"]


def test_every_config_dataset_is_declared_with_licence_and_layout():
    for name in CONFIG_NAMES:
        source = get_source(name)
        assert source.licence and source.layout and source.mirror_names, name
        assert name in list_dataset_names()
    assert "ImageNet_val" in DATASET_SOURCES and "ImageNet_val" not in list_dataset_names()
    with pytest.raises(KeyError, match="Set6"):
        get_source("Set6")


def test_checksums_well_formed_and_published_ones_for_div2k():
    for source in DATASET_SOURCES.values():
        for d in source.downloads:
            assert d.url.startswith("https://") and d.kind in ("archive", "files")
            assert d.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", d.sha256)
            assert d.md5 is None or re.fullmatch(r"[0-9a-f]{32}", d.md5)
            assert d.content_sha256 is None or re.fullmatch(r"[0-9a-f]{64}", d.content_sha256)
            if d.sha256 or d.md5 or d.content_sha256:
                assert d.checksum_source, (source.name, d.url)
    for name in ("DIV2K_train", "DIV2K_valid"):
        (d,) = get_source(name).downloads
        assert d.sha256 and d.md5 and d.size and d.url.endswith(f"{name}_HR.zip")
        assert get_source(name).checksum_status == CHECKSUM_PUBLISHED
    assert get_source("Set5").checksum_status == CHECKSUM_ESTABLISHED


def test_spsagan_training_sets():
    """SPSAGAN §4.1: DIV2K + Flickr2K (800 + 2,650) for pre-training, OutdoorSceneTrain (10,324) for SPSAGAN."""
    (flickr,) = get_source("Flickr2K").downloads
    assert flickr.url == "https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar"
    assert flickr.md5 == "5d3f39443d5e9489bff8963f8f26cb03" and "torchSR" in flickr.checksum_source
    assert flickr.hr_glob == "Flickr2K/Flickr2K_HR/*.png" and get_source("Flickr2K").images == 2650
    assert "Flickr" in get_source("Flickr2K").licence and get_source("Flickr2K").checksum_status == CHECKSUM_PUBLISHED
    ost = get_source("OST_train")
    assert ost.images == 10324 and ost.recursive and ost.user_supplied and "no licence" in ost.licence
    assert "SPSAGAN" in ost.papers and "SPSAGAN" in get_source("Flickr2K").papers


def test_user_supplied_sets_have_no_download_and_name_their_key():
    for name in ("Manga109", "PIRM_val", "PIRM_test", "OST300", "OST_train", "ImageNet_val"):
        source = get_source(name)
        assert source.user_supplied and source.checksum_status == CHECKSUM_USER
    assert "forbids redistribution" in get_source("Manga109").licence
    assert get_source("Manga109").key == "data.mirror/Manga109" and get_source("ImageNet_val").key == "data.imagenet"
    assert "academic research" in get_source("DIV2K_train").licence
    assert get_source("RealSR_V3").real_lr


def test_listing():
    rows = {row["name"]: row for row in available_datasets()}
    assert set(rows) == set(DATASET_SOURCES)
    assert rows["DIV2K_train"]["sources"][-1] == "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip"
    assert rows["Set5"]["sources"][0] == "mirror: <data.mirror>/Set5"
    text = format_table()
    assert all(name in text for name in DATASET_SOURCES) and "user-supplied only" in text


@pytest.mark.parametrize("name", ["Set5", "Set14"])
def test_selfexsr_content_checksums_match_the_reference_copy(name, mirror_dir, tmp_path, monkeypatch):
    """The declared content sha256 of the SelfExSR sets, checked by 'downloading' the reference copy per file."""
    (files, _) = get_source(name).downloads
    local = Download((mirror_dir / "SelfExSR" / name / "image_SRF_4").as_uri() + "/{name}", kind="files",
                     members=files.members, content_sha256=files.content_sha256)
    monkeypatch.setitem(DATASET_SOURCES, name, type(get_source(name))(
        **{**get_source(name).__dict__, "downloads": (local,)}))
    target = fetch_dataset(name, tmp_path)
    assert content_sha256(target) == files.content_sha256
    assert len(list((target / "HR").iterdir())) == len(files.members)


# ---------------------------------------------------------------------------------------------- the 291 set

def test_t91_and_bsd200_declared_with_pinned_per_file_sources():
    """T91 and BSD200 (the '291' set): file by file from public git repositories at fixed commits, checked by the
    content checksum established here; T91 from either of two byte-identical repositories."""
    from srrepro.data.dataset_sources import DCSCN_COMMIT, SRCNN_TF_COMMIT

    t91, bsd200 = get_source("T91"), get_source("BSD200")
    assert (t91.images, bsd200.images) == (91, 200) and "T91" in t91.mirror_names and "BSD200" in bsd200.mirror_names
    dcscn, tegg = t91.downloads
    (bsd,) = bsd200.downloads
    assert dcscn.url.endswith(f"/jiny2001/dcscn-super-resolution/{DCSCN_COMMIT}/data/yang91/{{name}}")
    assert tegg.url.endswith(f"/tegg89/SRCNN-Tensorflow/{SRCNN_TF_COMMIT}/Train/{{name}}")
    assert bsd.url.endswith(f"/jiny2001/dcscn-super-resolution/{DCSCN_COMMIT}/data/bsd200/{{name}}")
    assert dcscn.members == tegg.members and dcscn.content_sha256 == tegg.content_sha256
    assert len(set(dcscn.members)) == 91 and all(m.endswith(".bmp") for m in dcscn.members)
    assert "t41.bmp" not in dcscn.members and "tt11.bmp" not in dcscn.members
    assert len(set(bsd.members)) == 200 and all(m.endswith(".png") for m in bsd.members)
    assert all(d.kind == "files" for d in (dcscn, tegg, bsd))
    assert t91.checksum_status == bsd200.checksum_status == CHECKSUM_ESTABLISHED
    assert "Yang" in t91.licence and "non-commercial" in bsd200.licence
    assert {"T91", "BSD200"} <= set(list_dataset_names())


def test_srrepro_datasets_lists_the_291_set(capsys):
    from srrepro.cli import main

    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    for name, images, licence in (("T91", 91, "no licence published"), ("BSD200", 200, "non-commercial")):
        block = text.split(f"\n{name} ({images} images) — ", 1)[1].split("\n", 4)
        assert licence in block[1] and block[2] == f"    checksum: {CHECKSUM_ESTABLISHED}", block
        assert block[3] == f"    supply:   data.mirror/{name}"


@pytest.mark.parametrize("name, count, suffix", [("T91", 91, ".bmp"), ("BSD200", 200, ".png")])
def test_291_sets_resolve_from_the_mirror(name, count, suffix, mirror_dir):
    """The mirror folders T91/ (BMP as published) and BSD200/ (PNG) hold every declared member; the smallest T91
    image is 78x78."""
    if not (mirror_dir / name).is_dir():
        skip_unless_ci(f"mirror {mirror_dir} has no {name}/ folder")
    images = dict(iter_hr_images(name, 4, mirror_dir))
    (files,) = get_source(name).downloads[:1]
    assert len(images) == count and sorted(images) == sorted(m.removesuffix(suffix) for m in files.members)
    assert all(img.dtype.name == "uint8" and img.shape[2] == 3 for img in images.values())
    if name == "T91":
        assert min(min(img.shape[:2]) for img in images.values()) == 78 and images["t20"].shape == (78, 78, 3)
    else:
        assert images["100075"].shape[:2] in ((321, 481), (481, 321))

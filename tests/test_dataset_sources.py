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
from srrepro.data.datasets import list_dataset_names

CONFIG_NAMES = ["Set5", "Set14", "BSD100", "Urban100", "Manga109", "DIV2K_train", "DIV2K_valid", "PIRM_val",
                "PIRM_test", "RealSR_V3", "OST300", "OST_train", "Flickr2K"]


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

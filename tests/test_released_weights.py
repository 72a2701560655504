"""The authors' released models: the real FsSRGAN_E.pth from the reference mirror, and synthetic files in each official
key layout (random weights of the real architectures, saved by the test under the official key names) through the
same loaders; files that do not fit name their keys; ``released:<name>`` for inference and as an init checkpoint."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from released_files import official_files
from srrepro.cli import main
from srrepro.data.assets import ASSETS, asset_manifest, fetch_asset
from srrepro.data.downloads import git_blob_sha1_of
from srrepro.errors import AssetUnavailable, CheckpointError, ConfigError
from srrepro.inference import load_generator, upscale
from srrepro.models import build_model
from srrepro.models.checkpoints import load_official
from srrepro.models.pairs import GANPair, generator_parameter_count
from srrepro.models.released import RELEASED_MODELS, load_released, load_released_files, released_init_file
from srrepro.models.srgan import SRResNetNoBN
from srrepro.training.initialisation import load_init_weights
from srrepro.training.procedures import Networks

UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: connection refused

#: Per released file: number of keys and some keys with their shapes (refs §2, from the authors' classes).
LAYOUT = {
    "released-fasrgan-g": (702, {"model.0.weight": (64, 3, 3, 3), "model.1.sub.22.RDB3.conv5.0.bias": (64,),
                                 "model.1.sub.23.weight": (64, 64, 3, 3), "model.3.weight": (64, 64, 3, 3),
                                 "model.6.weight": (64, 64, 3, 3), "model.8.weight": (64, 64, 3, 3),
                                 "model.10.weight": (3, 64, 3, 3)}),
    "released-fs-srgan-e": (34, {"model.0.weight": (64, 3, 3, 3), "model.1.sub.0.RDB3.conv5.0.weight": (64, 192, 3, 3),
                                 "model.1.sub.1.weight": (64, 64, 3, 3)}),
    "released-fs-srgan-g": (492, {"model.0.weight": (64, 64, 3, 3), "model.1.sub.16.weight": (64, 64, 3, 3),
                                  "model.10.bias": (3,)}),
    "released-fa-fs-srgan-e": (64, {"model.1.sub.1.RDB1.conv1.0.weight": (32, 64, 3, 3),
                                    "model.1.sub.2.weight": (64, 64, 3, 3)}),
    "released-fa-fs-srgan-g": (462, {"model.0.weight": (64, 64, 3, 3), "model.1.sub.15.bias": (64,)}),
    "released-srresnet": (76, {"model.0.weight": (64, 3, 3, 3), "model.1.sub.15.res.2.weight": (64, 64, 3, 3),
                               "model.1.sub.16.weight": (64, 64, 3, 3), "model.2.weight": (256, 64, 3, 3),
                               "model.5.weight": (256, 64, 3, 3), "model.8.weight": (64, 64, 3, 3),
                               "model.10.weight": (3, 64, 3, 3)}),
}
LAYOUT["released-esrgan"] = LAYOUT["released-rrdb-psnr"] = LAYOUT["released-fasrgan-g"]
#: Generator parameters as the papers count them (E + G for the pairs; TMM: "17 RRDBs, 12.46 M").
PARAMETERS = {"fasrgan": 16_697_987, "esrgan": 16_697_987, "rrdb_psnr": 16_697_987, "fs_srgan": 12_455_299,
              "fa_fs_srgan": 12_455_299, "srresnet": 1_554_499}


def test_released_fs_extractor_from_the_mirror(mirror_dir, tmp_path):
    """The real FsSRGAN_E.pth (reference data, SRREPRO_MIRROR): verified by its git blob SHA-1, loaded strictly."""
    path = fetch_asset("released-fs-srgan-e", tmp_path / "cache", mirror=mirror_dir / "FASRGAN-weights",
                       released_url=UNREACHABLE, timeout=2)
    record = asset_manifest(tmp_path / "cache")["released-fs-srgan-e"]
    assert record["verification"] == "git-blob-sha1"
    assert record["source_git_blob_sha1"] == git_blob_sha1_of(path) == "f20e471a0d0843239cd1d55a450f270adcf6aae3"
    official = torch.load(path, map_location="cpu", weights_only=True)
    count, shapes = LAYOUT["released-fs-srgan-e"]
    assert len(official) == count and all(tuple(official[k].shape) == s for k, s in shapes.items())
    extractor = load_official(path, build_model("fs_extractor", nb=1))
    assert generator_parameter_count(extractor) == 758_144
    features = extractor(torch.rand(1, 3, 6, 5))
    assert features.shape == (1, 64, 6, 5) and torch.isfinite(features).all()


def test_released_pair_names_the_missing_file(mirror_dir, tmp_path):
    """released:fs_srgan offline: E comes from the mirror, G is in neither the mirror nor reachable."""
    options = {"cache_dir": tmp_path / "cache", "mirror": mirror_dir / "FASRGAN-weights",
               "released_url": UNREACHABLE, "timeout": 2}
    with pytest.raises(AssetUnavailable) as info:
        load_generator("released:fs_srgan", options)
    message = str(info.value)
    assert "asset 'released-fs-srgan-g' is unavailable" in message and "assets.local.released-fs-srgan-g" in message
    assert "has neither FsSRGAN/FsSRGAN_G.pth nor FsSRGAN_G.pth" in message
    assert f"{UNREACHABLE}FsSRGAN/FsSRGAN_G.pth: ConnectionRefusedError" in message
    assert (tmp_path / "cache" / "FsSRGAN_E.pth").is_file()  # the verified E stays cached
    with pytest.raises(ConfigError, match="unknown released model 'fsrgan'; released models: fasrgan, fs_srgan"):
        load_released("fsrgan", options)


@pytest.mark.parametrize("name", list(RELEASED_MODELS))
def test_synthetic_official_files_load_strictly(name, tmp_path):
    original, paths = official_files(name, tmp_path)
    for asset, path in zip(RELEASED_MODELS[name].assets, paths):
        official = torch.load(path, map_location="cpu", weights_only=True)
        count, shapes = LAYOUT[asset]
        assert len(official) == count, asset
        assert {k: tuple(official[k].shape) for k in shapes} == shapes, asset
    loaded = load_released_files(name, paths)
    assert generator_parameter_count(loaded) == PARAMETERS[name]
    assert isinstance(loaded, GANPair) == (len(paths) == 2)
    lr = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        sr = loaded(lr)
        assert sr.shape == (1, 3, 24, 20)
        assert torch.equal(sr, original(lr))


def test_srresnet_layout_is_inferred(tmp_path):
    _, (path,) = official_files("srresnet", tmp_path)
    model = load_official(path)
    assert isinstance(model, SRResNetNoBN) and len(model.trunk.blocks) == 16 and len(model.upconvs) == 2


def test_files_that_do_not_fit_name_their_keys(tmp_path):
    # FA+Fs E in the layout of the committed model_ex (no LR conv, model.1.sub.2): the missing keys are named
    _, (e_path, g_path) = official_files("fa_fs_srgan", tmp_path)
    official = torch.load(e_path, weights_only=True)
    torch.save({k: v for k, v in official.items() if not k.startswith("model.1.sub.2.")}, e_path)
    with pytest.raises(CheckpointError) as info:
        load_released_files("fa_fs_srgan", [e_path, g_path])
    assert "FA_FsSRGAN_E.pth" in str(info.value)
    assert "missing keys ['model.1.sub.2.bias', 'model.1.sub.2.weight']" in str(info.value)
    # an SRResNet file with BatchNorm (Ledig's) has keys outside the layout: the first is named
    _, (path,) = official_files("srresnet", tmp_path)
    official = torch.load(path, weights_only=True)
    official["model.1.sub.0.res.1.weight"] = torch.ones(64)
    torch.save(official, path)
    with pytest.raises(CheckpointError, match=r"SRResNet_bicx4_in3nf64nb16.pth.*'model.1.sub.0.res.1.weight'"):
        load_released_files("srresnet", [path])
    # E and G swapped
    with pytest.raises(CheckpointError, match="FA_FsSRGAN_G.pth.*unexpected keys"):
        load_released_files("fa_fs_srgan", [g_path, e_path])


def test_released_init_file_and_upscale_end_to_end(tmp_path, monkeypatch):
    """released:fs_srgan through the real fetch (mirror, git blob check, cache), as an init checkpoint and through
    ``srrepro upscale``. The declared git blobs are replaced by those of synthetic files: the real G is not here."""
    original, paths = official_files("fs_srgan", tmp_path / "mirror")
    for asset, path in zip(RELEASED_MODELS["fs_srgan"].assets, paths):
        declared = ASSETS[asset]
        sources = tuple(replace(s, git_blob=git_blob_sha1_of(path)) for s in declared.sources)
        monkeypatch.setitem(ASSETS, asset, replace(declared, sources=sources))
    cache = tmp_path / "cache"
    options = {"cache_dir": cache, "mirror": tmp_path / "mirror", "released_url": UNREACHABLE, "timeout": 2,
               "perceptual_features": None}  # keys fetch_asset does not take are ignored
    init = released_init_file("fs_srgan", options)
    assert init == cache / "released" / "fs_srgan.pt"
    model = build_model("fs_rrdbnet_vgg", split="E1G16", d_nf=8)
    nets = Networks(model, model.extractor, model.generator_trunk, model.discriminator)
    load_init_weights(nets, init)
    for ours, theirs in ((nets.extractor, original.extractor), (nets.trunk, original.generator_trunk)):
        assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))

    lr = np.random.default_rng(0).integers(0, 256, (7, 6, 3), dtype=np.uint8)
    (tmp_path / "lr").mkdir()
    Image.fromarray(lr).save(tmp_path / "lr" / "a.png")
    assert main(["upscale", str(tmp_path / "lr"), str(tmp_path / "sr"), "--model", "released:fs_srgan",
                 "--asset-cache", str(cache), "--asset-mirror", str(tmp_path / "mirror")]) == 0
    sr = np.asarray(Image.open(tmp_path / "sr" / "a.png"))
    assert sr.shape == (28, 24, 3) and np.array_equal(sr, upscale(original, lr))

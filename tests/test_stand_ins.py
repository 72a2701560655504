"""Random stand-ins of the download-only weights (smoke runs): the real loaders read them, they are seeded, they live
in their own folder with their provenance, and the asset cache never sees them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from srrepro.cli import main
from srrepro.data.assets import ASSETS, fetch_asset
from srrepro.data.stand_ins import PROVENANCE
from srrepro.metrics.nrqm_features import load_nrqm_model
from srrepro.metrics.registry import get_metric
from srrepro.models.backbones import load_state_file, resnet50, vgg_features
from srrepro.models.released import RELEASED_MODELS, load_released
from srrepro.models.segmentation_prior import OutdoorSceneSeg
from srrepro.stand_in_weights import STAND_IN_ASSETS, stand_in_paths


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """Each stand-in fetched once through fetch_asset, the way a smoke run's jobs fetch them."""
    folder, cache = tmp_path_factory.mktemp("stand-ins"), tmp_path_factory.mktemp("cache")
    paths = {name: fetch_asset(name, cache, stand_in_paths(folder)) for name in STAND_IN_ASSETS}
    return folder, cache, paths


def test_stand_ins_are_the_download_only_assets():
    released = {asset for spec in RELEASED_MODELS.values() for asset in spec.assets}
    assert set(STAND_IN_ASSETS) == {"vgg19", "resnet50", "sftgan-seg", "nrqm-model"} | released
    assert all(name in ASSETS for name in STAND_IN_ASSETS)


def test_stand_ins_live_in_their_own_folder_with_provenance(stand_ins):
    folder, cache, paths = stand_ins
    for name, path in paths.items():
        assert path.parent == folder and path.name == ASSETS[name].filename
        record = json.loads(path.with_name(path.name + ".provenance.json").read_text())
        assert record["provenance"] == PROVENANCE and record["name"] == name
    assert list(cache.iterdir()) == []  # never mixed into the real asset cache


def test_real_loaders_read_the_stand_ins(stand_ins):
    _, _, paths = stand_ins
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.isfinite(vgg_features("vgg19", paths["vgg19"])(x)).all()
        logits = resnet50(paths["resnet50"])(x)
        assert logits.shape == (1, 1000) and torch.isfinite(logits).all()
        probs = load_state_file(OutdoorSceneSeg(), paths["sftgan-seg"])(x * 255)  # strict: every key, every shape
        assert probs.shape == (1, 8, 64, 64) and torch.allclose(probs.sum(1), torch.ones(1, 64, 64), atol=1e-5)
    model = load_nrqm_model(paths["nrqm-model"])
    assert [f.n_trees for f in model.forests] == [4, 4, 4]


@pytest.mark.parametrize("name", list(RELEASED_MODELS))
def test_released_stand_ins_load_strictly_through_the_official_key_maps(stand_ins, name):
    folder, cache, _ = stand_ins
    generator = load_released(name, {"cache_dir": cache, "local_paths": stand_in_paths(folder)})
    with torch.no_grad():
        sr = generator(torch.rand(1, 3, 8, 8))
    assert sr.shape == (1, 3, 32, 32) and torch.isfinite(sr).all()


def test_ma_and_pi_are_computed_from_the_nrqm_stand_in(stand_ins, asset_cache):
    folder, _, _ = stand_ins
    image = np.random.default_rng(1).integers(0, 256, (192, 192, 3), dtype=np.uint8)  # NIQE: 192 px at least
    options = {"cache_dir": asset_cache, "local_paths": stand_in_paths(folder)}
    ma = get_metric("ma", options, scale=4)(image, None)
    pi = get_metric("pi", options, scale=4)(image, None)
    assert 0 <= ma <= 10 and np.isfinite(pi)


def test_stand_ins_are_seeded_and_leave_the_callers_random_state_alone(stand_ins, tmp_path):
    _, _, paths = stand_ins
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    again = fetch_asset("vgg19", tmp_path / "cache", stand_in_paths(tmp_path / "again"))
    assert torch.equal(torch.rand(3), expected)
    first, second = (torch.load(p, weights_only=True) for p in (paths["vgg19"], again))
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_cli_flag_asks_for_stand_ins(tmp_path, capsys):
    code = main(["assets", "nrqm-model", "--asset-cache", str(tmp_path / "cache"), "--asset-stand-ins",
                 str(tmp_path / "stand-ins")])
    assert code == 0 and str(tmp_path / "stand-ins" / "NRQM_model.mat") in capsys.readouterr().out
    assert not (tmp_path / "cache" / "NRQM_model.mat").exists()

"""``smoke: true``: the overrides keep what a smoke run must exercise (architectures, loss terms, discriminator input
sizes) and shrink only the work; the result is a valid configuration."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from srrepro.config import (
    SMOKE_BATCH_SIZE,
    SMOKE_ITERATIONS,
    SMOKE_PRUNE_BATCHES,
    SMOKE_TEST_LR_CROP,
    smoke_overrides,
    smoke_prepare_options,
    smoke_statement,
    validate_config,
)
from srrepro.errors import ConfigError
from srrepro.stand_in_weights import STAND_IN_ASSETS

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
KEPT = ("label", "procedure", "init_from", "generator", "discriminator", "losses", "perceptual_layer")
KEPT_TRAIN = ("hr_patch", "lr_g", "lr_d", "lr_g_overrides", "lr_schedule", "milestones", "gamma", "step_size",
              "val_metrics", "prune_weights")


@pytest.fixture(params=["config/paper.yaml", "config.yaml", "config/workstation.yaml"])
def config(request) -> dict:
    return {k: v for k, v in yaml.safe_load((REPO / request.param).read_text()).items() if not k.startswith("_")}


def test_smoke_keeps_every_variant_and_shrinks_only_the_work(config):
    original = copy.deepcopy(config)
    smoke = smoke_overrides({**config, "smoke": True})
    assert config == original  # the input is not modified
    validate_config(smoke, SCHEMA)
    assert smoke["smoke"] is True and smoke["seeds"] == config["seeds"][:1]
    assert smoke["variants"].keys() == config["variants"].keys()
    for name, variant in smoke["variants"].items():
        before = config["variants"][name]
        assert {k: variant.get(k) for k in KEPT} == {k: before.get(k) for k in KEPT}, name
        assert {k: variant["train"].get(k) for k in KEPT_TRAIN} == {k: before["train"].get(k) for k in KEPT_TRAIN}
        train = variant["train"]
        assert (train["iterations"], train["batch_size"]) == (SMOKE_ITERATIONS, SMOKE_BATCH_SIZE), name
        assert train["checkpoint_every"] <= SMOKE_ITERATIONS and train["validate_every"] <= SMOKE_ITERATIONS
        if variant["generator"].get("prune"):
            assert train["prune_batches"] <= SMOKE_PRUNE_BATCHES
    assert smoke["data"] == config["data"] and smoke["evaluation"]["metrics"] == config["evaluation"]["metrics"]
    for key in ("data", "results", "reports"):
        assert smoke["paths"][key] == config["paths"][key] + "-smoke"
    assert smoke["paths"]["assets"] == config["paths"]["assets"]
    note = smoke["reports"]["scale_note"]
    assert note.startswith(smoke_statement()) and note.endswith(config["reports"]["scale_note"])
    assert all(name in smoke_statement() for name in STAND_IN_ASSETS)


def test_smoke_crops_the_evaluated_sets_only():
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    train, validation, test = config["data"]["train"], config["data"]["validation"], config["data"]["test"][-1]
    assert "centre_crop_lr" not in smoke_prepare_options(config, train)
    for evaluated in (validation, test):
        assert smoke_prepare_options(config, evaluated)["centre_crop_lr"] == SMOKE_TEST_LR_CROP
    assert all(smoke_prepare_options(config, d)["max_images"] >= 1 for d in (train, validation, test))


def test_smoke_must_be_a_boolean(config):
    with pytest.raises(ConfigError, match="config key 'smoke'"):
        validate_config({**config, "smoke": "yes"}, SCHEMA)

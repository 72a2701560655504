"""Configuration errors caught before any job runs: both shipped configurations validate; a typo, a wrong
procedure/architecture pairing, a missing asset or a duplicate YAML key is one line naming the key (or file) and
the allowed values. The same checks run through Snakemake in test_workflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from srrepro.config import check_duplicate_keys, validate_config, workflow_asset_files
from srrepro.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


def unshared(config: dict) -> dict:
    """A copy in which the mappings YAML anchors share are separate objects (so a change touches one variant)."""
    return json.loads(json.dumps(config))


def test_demo_configuration_validates():
    check_duplicate_keys(REPO / "config.yaml")
    validate_config(load("config.yaml"), SCHEMA)


def test_workstation_configuration_validates():
    """The workstation scale: the 291 pool, three seeds, the benchmark sets, every Table I/IV/V variant."""
    check_duplicate_keys(REPO / "config" / "workstation.yaml")
    workstation = load("config/workstation.yaml")
    validate_config(workstation, SCHEMA)
    assert workstation["data"]["train"] == ["T91", "BSD200"] and workstation["seeds"] == [0, 1, 2]
    assert {"rrdb_psnr", "esrgan", "fasrgan", "fasrgan_l2_0p05", "fasrgan_l2_0p005", "fasrgan_wo_fa", "fs_psnr",
            "fs_srgan", "fs_wo_fs", "fa_fs_srgan"} <= set(workstation["variants"])


def test_paper_configuration_validates_once_the_segmentation_weights_are_at_hand(sftgan_seg_file, tmp_path):
    check_duplicate_keys(REPO / "config" / "paper.yaml")
    paper = load("config/paper.yaml")
    paper["paths"]["assets"] = str(tmp_path / "cache")
    with pytest.raises(ConfigError) as err:
        validate_config(paper, SCHEMA)
    message = str(err.value)
    assert "\n" not in message and "asset 'sftgan-seg'" in message and "spsa_seg, spsagan" in message
    assert "supply the file with the config key 'assets.local.sftgan-seg'" in message
    validate_config({**paper, "assets": {"local": {"sftgan-seg": str(sftgan_seg_file)}}}, SCHEMA)

    mirror = tmp_path / "mirror"  # or found in the data mirror, one folder down
    (mirror / "SFTGAN").mkdir(parents=True)
    (mirror / "SFTGAN" / "segmentation_OST_bic.pth").symlink_to(sftgan_seg_file)
    in_mirror = {**paper, "data": {**paper["data"], "mirror": str(mirror)}}
    validate_config(in_mirror, SCHEMA)
    assert workflow_asset_files(in_mirror) == {"sftgan-seg": mirror / "SFTGAN" / "segmentation_OST_bic.pth"}


def _set(path: str, value):
    def mutate(config):
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return mutate


@pytest.mark.parametrize("mutate, expected", [
    (_set("variants.esrgan.init_from", "released:rrdb_psnrr"),
     "config key 'variants.esrgan.init_from': 'released:rrdb_psnrr' is not a released model; released models: "
     "released:fasrgan, "),
    (_set("variants.esrgan.generator.arch", "rrdbnett"),
     "config key 'variants.esrgan.generator.arch': 'rrdbnett' is not one of attention_srgan, "),
    (_set("variants.esrgan.generator.nbb", 3), "config key 'variants.esrgan.generator.nbb': architecture 'rrdbnet' "
                                               "takes no option 'nbb'; its options: in_nc, out_nc, nf, nb, gc, "
                                               "scale, init_scale"),
    (_set("variants.fasrgan.losses", {"atention": 0.01}),
     "config key 'variants.fasrgan.losses.atention': procedure 'ragan_fa' has no loss term 'atention'; its terms: "
     "pixel, perceptual, gan, map, attention, d_map, pixel_criterion, perceptual_criterion, perceptual_scale"),
    (_set("variants.wu_srgan.losses.perceptual_criterion", "l2"),
     "config key 'variants.wu_srgan.losses.perceptual_criterion': 'l2' is not one of l1, mse"),
    (_set("variants.srgan.losses.perceptual_scale", 0),
     "config key 'variants.srgan.losses.perceptual_scale': 0 is less than or equal to the minimum of 0"),
    (_set("variants.srgan.losses.perceptual_scale", "1/12.75"),
     "config key 'variants.srgan.losses.perceptual_scale': '1/12.75' is not of type 'number'"),
    (_set("variants.srgan.perceptual_layer", "vgg19_relu54"),
     "config key 'variants.srgan.perceptual_layer': 'vgg19_relu54' is not one of vgg19_conv5_4, vgg19_relu5_4, "),
    (_set("variants.esrgan.procedure", "ragan_fa"),
     "config key 'variants.esrgan.discriminator.arch': procedure 'ragan_fa' needs a discriminator with a "
     "fine-grained map output, which 'vgg128' lacks"),
    (_set("variants.esrgan.discriminator", None),
     "config key 'variants.esrgan.discriminator' is required by procedure 'ragan'"),
    (_set("variants.rrdb_psnr.discriminator", {"arch": "vgg128"}),
     "config key 'variants.rrdb_psnr.discriminator': procedure 'psnr' trains no discriminator"),
    (_set("variants.esrgan.train.hr_patch", 64),
     "config key 'variants.esrgan.train.hr_patch' (64) does not fit the discriminator, whose input size is 32"),
    (_set("variants.srgan_fa.train.hr_patch", 32),
     "config key 'variants.srgan_fa.train.hr_patch' (32) does not fit the discriminator, whose input size is 64"),
    (_set("variants.spsa_seg.generator.prior", "osst"),
     "config key 'variants.spsa_seg.generator': architecture 'spsagan' refuses its options: unknown segmentation "
     "prior 'osst'; known: colour, ost"),
    (_set("variants.fs_srgan.generator.split", "E1X2"),
     "config key 'variants.fs_srgan.generator': architecture 'fs_rrdbnet_vgg' refuses its options: split must"),
    (_set("variants.spsagan.train_data", {"demo_train_scnes": 10, "demo_train": 1}),
     "config key 'variants.spsagan.train_data': 'demo_train_scnes' is not one of demo_train, "),
    (_set("variants.spsagan.train_data", {"demo_train_scenes": 0, "demo_train": 1}),
     "config key 'variants.spsagan.train_data.demo_train_scenes': 0 is less than or equal to the minimum of 0"),
    (_set("data.train", "DIV2K_trian"), "config key 'data.train': 'DIV2K_trian' is not one of "),
    (lambda config: config["reports"]["datasets"].update({"OST Fig. 11": "OST300_fig11"}),
     "config key 'reports.datasets.OST Fig. 11': 'OST300_fig11' is images of OST300, which is not in data.test; "
     "add it there"),
    (lambda config: config["reports"]["datasets"].update({"OST Fig. 11": "OST300_fig12"}),
     "config key 'reports.datasets.OST Fig. 11': 'OST300_fig12' is not in data.test (nor a subset: OST300_fig11)"),
    (_set("reports.qualitative.images", None),
     "config key 'reports.qualitative.images' is not set, so the figure shows the paper's images (FASRGAN Figs. "
     "6-8), but their datasets DIV2K_valid, Urban100, Set14, PIRM_val, Manga109 are not in data.test; add them there "
     "or name the images to show"),
    (_set("reports.qualitative.images", [{"dataset": "Set14", "image": "img_001"}]),
     "config key 'reports.qualitative.images[0]': dataset 'Set14' of image 'img_001' is not in data.test; add it "
     "there"),
    (_set("reports.qualitative.images", [{"dataset": "demo_test", "image": "astronaut", "at": [3]}]),
     "config key 'reports.qualitative.images.0.at': [3] is too short"),
    (_set("variants.spsagan_rrsb_psnr.init_from", "released:rrdb_psnr"),
     "config key 'variants.spsagan_rrsb_psnr.init_from': 'released:rrdb_psnr' is no variant of this configuration; "
     "a pruning variant (generator.prune) starts from a trained variant, on whose training data the pruning is "
     "measured"),
    (_set("scale", 2), "config key 'variants.rrdb_psnr.generator.scale' (also in "),
    (_set("variants.spsa_seg.generator.prior", "ost"),
     "asset 'sftgan-seg' (segmentation_OST_bic.pth: SFTGAN OutdoorSceneSeg segmentation network (local file only)) "
     "needed by variant(s) spsa_seg is in none of: config key 'assets.local.sftgan-seg' (not set);"),
    (_set("assets", {"local": {"sftgan-seg": "/nonexistent/segmentation_OST_bic.pth"}}),
     "config key 'assets.local.sftgan-seg': /nonexistent/segmentation_OST_bic.pth does not exist"),
])
def test_a_mistake_is_one_line_naming_the_key_and_the_allowed_values(mutate, expected, tmp_path):
    config = unshared(load("config.yaml"))
    config["paths"]["assets"] = str(tmp_path / "cache")
    mutate(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    message = str(err.value)
    assert message.startswith(expected) and "\n" not in message, message


def test_a_mistake_in_a_shared_anchor_is_one_line_naming_every_variant():
    config = load("config.yaml")  # the variants share the anchor _rrdb's mapping, as YAML loads it
    config["_rrdb"]["arch"] = "rrdbnett"
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    assert str(err.value).startswith("config key 'variants.esrgan.generator.arch' (also in rrdb_psnr, spsa_esrgan): "
                                     "'rrdbnett' is not one of ")


def test_several_mistakes_are_listed_one_per_line():
    config = unshared(load("config.yaml"))
    config["variants"]["esrgan"]["generator"]["nbb"] = 3
    config["variants"]["fasrgan"]["losses"] = {"atention": 0.01}
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    lines = str(err.value).splitlines()
    assert lines[0] == "invalid configuration (2 problems):" and len(lines) == 3
    assert "'variants.esrgan.generator.nbb'" in lines[1] and "'variants.fasrgan.losses.atention'" in lines[2]


def test_duplicate_keys_are_refused_naming_file_line_and_key(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("_base: &base {lr_g: 1.0e-4, hr_patch: 32}\n"
                    "variants:\n"
                    "  esrgan:\n"
                    "    train: {<<: *base, hr_patch: 64}\n"  # overriding a merged key is YAML's intent: allowed
                    "    label: ESRGAN\n"
                    "    procedure: ragan\n"
                    "    label: ESRGAN again\n")
    with pytest.raises(ConfigError) as err:
        check_duplicate_keys(path)
    assert str(err.value) == (f"config file {path}, line 7: duplicate key 'label' (first at line 5); YAML would "
                              f"silently keep the last one, remove one of them")
    path.write_text("a: [1\n")
    with pytest.raises(ConfigError) as err:
        check_duplicate_keys(path)
    assert str(err.value) == (f"config file {path}, line 2, column 1: not valid YAML: expected ',' or ']', but got "
                              f"'<stream end>' (while parsing a flow sequence started at line 1, column 4)")
    path.write_text("a:\n\tb: 1\n")
    with pytest.raises(ConfigError) as err:
        check_duplicate_keys(path)
    assert str(err.value) == (f"config file {path}, line 2, column 1: not valid YAML: found character '\\t' that "
                              f"cannot start any token (while scanning for the next token); indent with spaces, not "
                              f"tabs")

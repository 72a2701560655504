"""`srrepro plan`: every job of the paper grid and of the demo, FLOPs counted over the real training step, totals that
add up, costs that grow with iterations, released initialisation. No timings: the estimate is arithmetic on counts."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from srrepro import cli
from srrepro.errors import ConfigError
from srrepro.planning import DEVICES, UTILISATION, format_plan, plan, step_flops
from srrepro.training.variant import WORKFLOW_KEYS, resolve_variant

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def paper() -> dict:
    return load("config/paper.yaml")


@pytest.fixture(scope="module")
def paper_plan(paper):
    return plan(paper, "h100-sxm", None, "config/paper.yaml")


def resolved(config: dict, name: str) -> dict:
    spec = {k: v for k, v in config["variants"][name].items() if k not in WORKFLOW_KEYS}
    return resolve_variant({"scale": config["scale"], **spec})


def check_totals(config: dict, result, device: str = "h100-sxm") -> None:
    """Every variant x seed once, in order; s/it = FLOPs / (peak x utilisation); the totals are the sums."""
    assert [(j.variant, j.seed) for j in result.jobs] == [(v, s) for v in config["variants"] for s in config["seeds"]]
    for job in result.jobs:
        cfg = resolved(config, job.variant)
        assert job.iterations == cfg["train"]["iterations"] and job.source == "estimate"
        assert job.flops_per_iteration == step_flops(cfg) > 0
        arithmetic = "bf16" if cfg["train"]["amp"] == "auto" else cfg["train"]["amp"]  # every table GPU has bf16
        peak = DEVICES[device].peak_tflops[arithmetic] * 1e12
        assert job.seconds_per_iteration == pytest.approx(job.flops_per_iteration / (peak * UTILISATION), rel=1e-12)
        assert job.gpu_hours == pytest.approx(job.iterations * job.seconds_per_iteration / 3600, rel=1e-12)
    assert result.gpu_hours == pytest.approx(sum(j.gpu_hours for j in result.jobs), rel=1e-12)
    per_seed = {j.variant: j.gpu_hours for j in result.jobs}
    chain = list(result.chain)
    for before, after in zip(chain, chain[1:]):
        assert config["variants"][after]["init_from"] == before
    assert result.chain_hours == pytest.approx(sum(per_seed[v] for v in chain), rel=1e-12)
    assert result.chain_hours >= max(per_seed.values())


def test_paper_grid_every_job_and_totals(paper, paper_plan):
    check_totals(paper, paper_plan)
    assert len(paper_plan.jobs) == len(paper["variants"]) * 3
    text = format_plan(paper_plan)
    assert f"Total: {len(paper_plan.jobs)} jobs, {paper_plan.gpu_hours:.0f} GPU-hours" in text
    assert text.count("| estimate |") == len(paper_plan.jobs)


def test_rrdb_psnr_flops_are_the_convolutions_of_its_step(paper_plan):
    """One PSNR iteration of the 23-RRDB generator at batch 16, HR 128: every 3x3 convolution forward, its weight
    gradient and its input gradient (none for the first one, whose input is the data), 2 FLOPs per MAC."""
    batch, lr_pixels = 16, 32 * 32

    def conv(c_in, c_out, pixels):
        return 2 * batch * pixels * c_in * c_out * 9

    first = conv(3, 64, lr_pixels)
    rdb = sum(conv(64 + 32 * i, 32, lr_pixels) for i in range(4)) + conv(192, 64, lr_pixels)
    forward = (first + 23 * 3 * rdb + conv(64, 64, lr_pixels) + conv(64, 64, 4 * lr_pixels)
               + 2 * conv(64, 64, 16 * lr_pixels) + conv(64, 3, 16 * lr_pixels))
    job = next(j for j in paper_plan.jobs if j.variant == "rrdb_psnr")
    assert job.flops_per_iteration == 3 * forward - first == 1_762_224_242_688


def test_each_rrdb_moved_into_the_shared_extractor_costs_the_same(paper_plan):
    """Fs-SRGAN's extractor also runs on HR images for D, so each block moved from G into E adds the same FLOPs;
    the PSNR pre-training (E and G on LR only) costs the same for every split."""
    flops = {j.variant: j.flops_per_iteration for j in paper_plan.jobs}
    steps = [flops[v] for v in ("fs_srgan", "fs_e2g15", "fs_e3g14", "fs_e4g13")]
    increments = {b - a for a, b in zip(steps, steps[1:])}
    assert len(increments) == 1 and increments.pop() > 0
    assert len({flops[v] for v in ("fs_psnr", "fs_psnr_e2g15", "fs_psnr_e3g14", "fs_psnr_e4g13")}) == 1
    assert flops["fasrgan"] > flops["esrgan"]  # the UNet discriminator's map costs more than VGG128
    assert flops["spsagan"] == flops["spsa_seg"]  # pruned: counted at its dense size


def test_paper_starts_the_fasrgan_family_from_the_released_rrdb_psnr(paper, paper_plan):
    """config/paper.yaml starts FASRGAN and the variants sharing its generator from RRDB_PSNR_x4, as the authors did:
    nothing waits on our own rrdb_psnr, whose jobs the plan says can be dropped."""
    saving = next(s for s in paper_plan.savings if s.variant == "rrdb_psnr")
    assert (saving.released, saving.file, saving.consumers, saving.jobs) == ("rrdb_psnr", "RRDB_PSNR_x4.pth", (), 3)
    already = tuple(v for v, spec in paper["variants"].items() if spec.get("init_from") == "released:rrdb_psnr")
    assert saving.already == already and {"esrgan", "fasrgan", "fasrgan_wo_fa"} <= set(already)
    rrdb_psnr = [j.gpu_hours for j in paper_plan.jobs if j.variant == "rrdb_psnr"]
    assert saving.gpu_hours == pytest.approx(sum(rrdb_psnr), rel=1e-12)
    assert paper_plan.gpu_hours_with_released == pytest.approx(
        paper_plan.gpu_hours - sum(s.gpu_hours for s in paper_plan.savings), rel=1e-12)
    assert "so nothing waits on rrdb_psnr" in format_plan(paper_plan)
    assert "rrdb_psnr" not in paper_plan.chain[:-1]  # the longest chain does not run through our own pre-training


def test_variants_starting_from_own_pre_training_are_what_the_released_file_saves(paper, paper_plan):
    edited = copy.deepcopy(paper)
    for name in ("esrgan", "fasrgan"):
        edited["variants"][name]["init_from"] = "rrdb_psnr"
    result = plan(edited)
    assert [j.init_from for j in result.jobs if j.variant == "fasrgan"] == ["rrdb_psnr"] * 3
    assert result.gpu_hours == pytest.approx(paper_plan.gpu_hours, rel=1e-12)  # the same jobs, other dependencies
    saving = next(s for s in result.savings if s.variant == "rrdb_psnr")
    assert saving.consumers == ("esrgan", "fasrgan") and "fasrgan_wo_fa" in saving.already
    assert "need not run if esrgan, fasrgan start from released:rrdb_psnr" in format_plan(result)


def test_cost_grows_with_iterations(paper, paper_plan):
    edited = copy.deepcopy(paper)
    edited["variants"]["fasrgan"]["train"] = {**paper["variants"]["fasrgan"]["train"], "iterations": 1_000_000}
    longer = plan(edited)
    before = {(j.variant, j.seed): j.gpu_hours for j in paper_plan.jobs}
    after = {(j.variant, j.seed): j.gpu_hours for j in longer.jobs}
    for key, hours in after.items():
        assert hours == pytest.approx(before[key] * (2 if key[0] == "fasrgan" else 1), rel=1e-12)
    assert longer.gpu_hours > paper_plan.gpu_hours


def test_demo_grid_every_job_and_totals():
    config = load("config.yaml")
    result = plan(config, "a100-sxm")
    check_totals(config, result, "a100-sxm")
    assert result.savings == ()  # the demo's small RRDB is not the released RRDB_PSNR_x4
    assert "no own pre-training of this configuration is reproduced by a released file" in format_plan(result)


def test_cli_plan_prints_the_paper_plan(paper_plan, tmp_path, capsys):
    assert cli.main(["plan", "--configfile", str(ROOT / "config/paper.yaml"), "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Total: {len(paper_plan.jobs)} jobs, {paper_plan.gpu_hours:.0f} GPU-hours" in out
    assert "| fs_e4g13 | 2 | fs_psnr_e4g13 | 500000 | fp32 |" in out


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["variants"]["fasrgan"].update(init_from="rrdb_psnr_typo"),
     "config key 'variants.fasrgan.init_from': 'rrdb_psnr_typo' is not a variant"),
    (lambda c: (c["variants"]["rrdb_psnr"].update(init_from="esrgan"), c["variants"]["esrgan"].update(init_from="rrdb_psnr")),
     "config keys 'variants.rrdb_psnr.init_from', 'variants.esrgan.init_from': init_from cycle "
     "rrdb_psnr -> esrgan -> rrdb_psnr"),
    (lambda c: c["variants"]["fasrgan"].update(train={**c["variants"]["fasrgan"]["train"], "iterations": 0}),
     "variants.fasrgan.train.iterations"),
    (lambda c: c.pop("seeds"), "config key '<top level>': 'seeds' is a required property"),
    # the workflow's schema: `plan` refuses what the workflow refuses
    (lambda c: c.update(seeds=["a"]), "config key 'seeds.0': 'a' is not of type 'integer'"),
    (lambda c: c.update(seeds=[0, 0]), "config key 'seeds': [0, 0] has non-unique elements"),
    (lambda c: c["variants"].update(bicubic=c["variants"]["rrdb_psnr"]), "config key 'variants.bicubic': the names "
     "bicubic, hr, released_<name> are reserved"),
])
def test_bad_configuration_is_named_in_one_line(paper, tmp_path, capsys, edit, message):
    edited = copy.deepcopy(paper)
    edit(edited)
    with pytest.raises(ConfigError, match=re.escape(message)):
        plan(edited)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(edited, sort_keys=False))
    assert cli.main(["plan", "--configfile", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("srrepro plan: error:") and message.split(":")[0] in err and "Traceback" not in err


def test_unknown_device_is_named(capsys):
    assert cli.main(["plan", "--configfile", str(ROOT / "config.yaml"), "--device", "tpu-v5"]) == 1
    assert "unknown device 'tpu-v5'; known devices: h100-sxm, h200, a100-sxm" in capsys.readouterr().err


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path, capsys):
    """What Snakemake reports for a --configfile as "not valid JSON or YAML" only (it reads the file before the
    workflow): `srrepro plan --configfile` names the place."""
    path = tmp_path / "bad.yaml"
    path.write_text((ROOT / "config/paper.yaml").read_text().replace("seeds: [0, 1, 2]", "seeds: [0, 1, 2", 1))
    assert cli.main(["plan", "--configfile", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"srrepro plan: error: config file {path}, line ") and ", column " in err
    assert "not valid YAML: expected ',' or ']'" in err and "(while parsing a flow sequence started at line" in err

"""The paper grid as the papers ran it: each variant changes what its paper changes, checked on the BUILT networks,
losses and data, for both configurations (config.yaml, the demo; config/paper.yaml, the papers' numbers)."""

from __future__ import annotations

import copy
import json
import re
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch import nn
from torch.nn import functional as F

from srrepro.errors import AssetUnavailable, CheckpointError
from srrepro.imaging.matlab import imresize
from srrepro.inference import load_upscaler, upscale
from srrepro.models import build_model
from srrepro.models.checkpoints import load_model, save_model
from srrepro.models.feature_sharing import SharedExtractor
from srrepro.models.segmentation_prior import OutdoorScenePrior, OutdoorSceneSeg, attach_prior_weights
from srrepro.training import losses, train_variant
from srrepro.training.initialisation import load_init_weights
from srrepro.training.loop import _make_optimizers
from srrepro.training.patches import PatchSampler
from srrepro.training.procedures import PROCEDURES, StepContext, _d_update, _g_update, loss_weights
from srrepro.training.variant import build_networks, resolve_variant

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"demo": REPO / "config.yaml", "paper": REPO / "config" / "paper.yaml"}
TRAIN = {"iterations": 1, "batch_size": 2, "hr_patch": 32, "checkpoint_every": 1, "log_every": 1,
         "validate_every": 0, "milestones": [10], "lr_g": 1e-3, "lr_d": 1e-3}
D32 = {"arch": "vgg128", "nf": 8, "input_size": 32}


def config(which: str) -> dict:
    return yaml.safe_load(CONFIGS[which].read_text())


def resolved(which: str, name: str) -> dict:
    return resolve_variant(config(which)["variants"][name])


VALIDATION_ONLY = ("validate_every", "val_metrics")  # when and what is measured; the trained weights are the same


def training(cfg: dict, *drop: str) -> dict:
    """A resolved variant without the keys in ``drop`` and without its validation cadence (the demo validates only
    the runs Fig. 9 plots)."""
    return {k: ({s: x for s, x in v.items() if s not in VALIDATION_ONLY} if k == "train" else v)
            for k, v in cfg.items() if k not in drop}


def run(spec, data, out_dir, asset_options=None, **kwargs):
    torch.manual_seed(123)
    options = {"perceptual_features": nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), **(asset_options or {})}
    return train_variant(spec, data, out_dir, seed=0, threads=1, asset_options=options, progress=False, **kwargs)


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


# --- SPSAGAN's segmentation prior: SFTGAN's OutdoorSceneSeg, fed as SFTGAN feeds it ----------------------------------


def test_ost_prior_loads_sftgan_layout_strictly_and_sees_matlab_bicubic_bgr(sftgan_seg_file, tmp_path):
    model = build_model("spsagan", nf=8, nb=1, gc=4, prior="ost")
    assert isinstance(model.prior, OutdoorScenePrior)
    assert not any(k.startswith("prior") for k in model.state_dict())  # never part of the generator's weights
    assert all(not n.startswith("prior") for n, _ in model.named_parameters())
    with pytest.raises(RuntimeError, match="sftgan-seg"):  # random weights are never used silently
        model(torch.rand(1, 3, 8, 8))
    provenance = attach_prior_weights(model, {"cache_dir": tmp_path / "cache",
                                              "local_paths": {"sftgan-seg": str(sftgan_seg_file)}})
    assert provenance["name"] == "sftgan-seg" and provenance["source"] == f"local file {sftgan_seg_file}"
    released = torch.load(sftgan_seg_file, weights_only=True)
    batch_norms = sum(isinstance(m, nn.BatchNorm2d) for m in model.prior.net.modules())
    assert len(released) + batch_norms == 645  # SFTGAN's 645 keys less num_batches_tracked (a torch 0.4.0 file)
    ours = model.prior.net.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in released.items())
    assert not model.prior.training and not any(p.requires_grad for p in model.prior.parameters())

    # SFTGAN's test_segmentation.py: MATLAB bicubic x4 of the LR (unclamped), BGR on 0..255 minus the Caffe means
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 8, 6)
    up = torch.from_numpy(imresize(lr[0].permute(1, 2, 0).double().numpy(), 4)).permute(2, 0, 1)[None].float()
    assert up.min() < 0 or up.max() > 1  # MATLAB's cubic overshoots; SFTGAN does not clamp
    torch.testing.assert_close(model.upsample_for_prior(lr), up, atol=1e-5, rtol=0)
    reference = OutdoorSceneSeg().eval()
    reference.load_state_dict(released)
    bgr = up[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference(bgr)
        torch.testing.assert_close(model.prior(model.upsample_for_prior(lr)), expected)
        torch.testing.assert_close(model(lr), model(lr, seg=expected))  # forward feeds the prior that image
    pytorch_bicubic = build_model("spsagan", nf=8, nb=1, gc=4, prior="ost", prior_upsampling="pytorch")
    torch.testing.assert_close(pytorch_bicubic.upsample_for_prior(lr),
                               F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1))

    model.double()  # .to() and friends move the prior though it is outside the module tree
    assert model.prior.net.feature[0].weight.dtype == torch.float64


def test_ost_prior_errors_name_the_asset_key_and_file(sftgan_seg_file, tmp_path):
    model = build_model("spsagan", nf=8, nb=1, gc=4, prior="ost")
    with pytest.raises(AssetUnavailable, match=r"asset 'sftgan-seg'.*assets\.local\.sftgan-seg"):
        attach_prior_weights(model, {"cache_dir": tmp_path / "empty"})
    broken = {k: v for k, v in torch.load(sftgan_seg_file, weights_only=True).items() if k != "deconv.weight"}
    torch.save(broken, tmp_path / "segmentation_OST_bic.pth")
    with pytest.raises(CheckpointError, match=r"segmentation_OST_bic\.pth.*deconv\.weight"):
        model.prior.load_weights(tmp_path / "segmentation_OST_bic.pth")


def test_spsa_generator_with_ost_prior_starts_from_rrdb_psnr_and_keeps_the_prior_out_of_files(
        sftgan_seg_file, data_dir, tmp_path):
    psnr = run({"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 8, "nb": 1, "gc": 4},
                "train": {**TRAIN, "hr_patch": 16}}, data_dir, tmp_path / "psnr")
    assets = {"cache_dir": tmp_path / "cache", "local_paths": {"sftgan-seg": str(sftgan_seg_file)}}
    spec = {"procedure": "ragan", "generator": {"arch": "spsagan", "nf": 8, "nb": 1, "gc": 4, "prior": "ost"},
            "discriminator": D32, "train": {**TRAIN, "iterations": 2}}
    final = run(spec, data_dir, tmp_path / "spsa", assets, init_checkpoint=psnr)

    stored = torch.load(final, weights_only=True)
    assert not any(k.startswith("prior") for k in stored["state_dict"])
    assert final.stat().st_size < 2_000_000 < sftgan_seg_file.stat().st_size
    checkpoint = next((tmp_path / "spsa" / "checkpoints").glob("*.pt"))
    assert not any("prior" in k for k in torch.load(checkpoint, weights_only=False)["nets"]["model"])
    manifest = json.loads((tmp_path / "spsa" / "manifest.json").read_text())
    assert manifest["assets"]["segmentation_prior"]["name"] == "sftgan-seg"

    model = load_model(final, {"cache_dir": tmp_path / "cache"})  # re-attached from the asset cache
    released = torch.load(sftgan_seg_file, weights_only=True)
    assert all(torch.equal(model.prior.net.state_dict()[k], v) for k, v in released.items())  # never trained
    trunk = load_model(psnr).state_dict()
    assert not torch.equal(model.state_dict()["conv_first.weight"], trunk["conv_first.weight"])  # trained on
    with pytest.raises(AssetUnavailable, match="assets.local.sftgan-seg"):
        load_model(final, {"cache_dir": tmp_path / "elsewhere"})
    # evaluation and recognition load it the same way: the prior from the job's asset options, not a default cache
    local = {"cache_dir": tmp_path / "elsewhere", "local_paths": {"sftgan-seg": str(sftgan_seg_file)}}
    lr = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    torch.testing.assert_close(torch.from_numpy(load_upscaler(str(final), scale=4, asset_options=local)(lr)),
                               torch.from_numpy(upscale(model, lr)), atol=1, rtol=0)
    with pytest.raises(AssetUnavailable, match="assets.local.sftgan-seg"):
        load_upscaler(str(final), scale=4, asset_options={"cache_dir": tmp_path / "nowhere"})


def test_prior_is_in_no_optimiser_and_stays_in_eval_mode():
    cfg = resolve_variant({"procedure": "ragan", "generator": {"arch": "spsagan", "nf": 8, "nb": 1, "gc": 4,
                                                               "prior": "ost"},
                           "discriminator": D32, "train": TRAIN})
    nets = build_networks(cfg)
    optimizers, _ = _make_optimizers(cfg, nets)
    optimised = {id(p) for opt in optimizers.values() for group in opt.param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in nets.model.prior.parameters()}
    nets.model.train()
    assert not nets.model.prior.training and not nets.model.prior.net.feature[1].training


# --- SPSAGAN's training data: OST + DIV2K drawn 10:1, then an image --------------------------------------------------


def _constant_dataset(root: Path, value: int, count: int) -> Path:
    (root / "HR").mkdir(parents=True)
    (root / "LR_x4").mkdir()
    for i in range(count):
        Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(root / "LR_x4" / f"{i}.png")
        Image.fromarray(np.full((32, 32, 3), value, np.uint8)).save(root / "HR" / f"{i}.png")
    return root


def test_sampler_draws_the_dataset_by_ratio_then_an_image_and_resumes(tmp_path):
    ost = _constant_dataset(tmp_path / "ost", 10, count=3)
    div2k = _constant_dataset(tmp_path / "div2k", 200, count=1)
    mixture = PatchSampler({ost: 10, div2k: 1}, scale=4, hr_patch=16, seed=0)
    draws = torch.cat([mixture.sample(100)[1][:, 0, 0, 0] for _ in range(22)])
    share = float((draws > 0.5).float().mean())
    assert abs(share - 1 / 11) < 4 * (1 / 11 * 10 / 11 / 2200) ** 0.5  # 10:1, not the images' 3:1 ratio
    pool = PatchSampler([ost, div2k], scale=4, hr_patch=16, seed=0)  # a list is one pool: every image alike
    share = float((torch.cat([pool.sample(100)[1][:, 0, 0, 0] for _ in range(22)]) > 0.5).float().mean())
    assert abs(share - 1 / 4) < 4 * (1 / 4 * 3 / 4 / 2200) ** 0.5
    state = mixture.state_dict()
    after = mixture.sample(50)
    mixture.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(mixture.sample(50), after))


def test_train_command_takes_a_mixture_and_its_ratio(tmp_path):
    from srrepro.cli import main

    ost = _constant_dataset(tmp_path / "ost", 10, count=3)
    div2k = _constant_dataset(tmp_path / "div2k", 200, count=1)
    spec = {"procedure": "psnr", "generator": {"arch": "rrdbnet", "nf": 4, "nb": 1, "gc": 4},
            "train": {**TRAIN, "hr_patch": 16}}
    common = ["train", "--variant-json", json.dumps(spec), "--data", str(ost), "--data", str(div2k),
              "--asset-cache", str(tmp_path / "cache")]
    assert main([*common, "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "model.pt"),
                 "--data-ratio", "10:1"]) == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["data_dir"] == {str(ost): 10.0, str(div2k): 1.0}
    assert main([*common, "--run-dir", str(tmp_path / "pool"), "--out", str(tmp_path / "pool.pt")]) == 0
    assert json.loads((tmp_path / "pool" / "manifest.json").read_text())["data_dir"] == [str(ost), str(div2k)]
    assert main([*common, "--run-dir", str(tmp_path / "bad"), "--out", str(tmp_path / "bad.pt"),
                 "--data-ratio", "10"]) == 1
    assert not (tmp_path / "bad").exists()


def test_workflow_variants_train_on_their_mixture(tmp_path):
    paper = config("paper")["variants"]
    ost_div2k = {"OST_train": 10, "DIV2K_train": 1}
    for name in ("spsa_esrgan", "spsa_fattn", "spsa_seg", "spsagan"):
        assert paper[name]["train_data"] == ost_div2k
    for name in ("spsa_psnr", "spsagan_rrsb_psnr"):
        assert paper[name]["train_data"] == ["DIV2K_train", "Flickr2K"]
    assert paper["spsa_seg"]["init_from"] == "spsa_psnr" and "train_data" not in paper["rrdb_psnr"]
    demo = config("demo")["variants"]
    assert demo["spsagan"]["train_data"] == {"demo_train_scenes": 10, "demo_train": 1}


# --- RRSB: pruned, PSNR pre-trained from scratch, then the GAN phase -------------------------------------------------


def test_rrsb_network_goes_through_psnr_pre_training_then_the_gan_phase(data_dir, tmp_path):
    for which in CONFIGS:
        variants = config(which)["variants"]
        step1, step2 = variants["spsagan_rrsb_psnr"], variants["spsagan"]
        assert step1["procedure"] == "psnr" and step1["init_from"] == "spsa_seg"
        assert step1["generator"]["prune"] and step1["generator"]["attention"] == "none"
        assert step1["train"]["prune_weights"] == "scratch"
        assert step2["init_from"] == "spsagan_rrsb_psnr" and not step2["generator"].get("prune")
        assert step2["procedure"] == "ragan" and step2["generator"]["attention"] == "spsa"
    widths = {"nf": 8, "nb": 1, "gc": 4}
    seg = run({"procedure": "ragan", "generator": {"arch": "spsagan", **widths, "attention": "spsa"},
               "discriminator": D32, "train": TRAIN}, data_dir, tmp_path / "seg")
    rrsb = run({"procedure": "psnr", "generator": {"arch": "spsagan", **widths, "attention": "none", "prune": True},
                "train": {**TRAIN, "iterations": 2, "prune_batches": 2, "prune_weights": "scratch"}},
               data_dir, tmp_path / "rrsb", init_checkpoint=seg, prune_data=data_dir)
    pruning = json.loads((tmp_path / "rrsb" / "manifest.json").read_text())["pruning"]
    assert pruning["source"] == "measured" and 0 < pruning["fraction_pruned"] < 1
    assert not any(k.startswith("spsa.") for k in load_model(rrsb).state_dict())  # no SPSA module in step 1
    assert all(not k.startswith("d/") for r in records(tmp_path / "rrsb")[1:] for k in r)  # L1 only
    final = run({"procedure": "ragan", "generator": {"arch": "spsagan", **widths, "attention": "spsa"},
                 "discriminator": D32, "train": TRAIN}, data_dir, tmp_path / "gan", init_checkpoint=rrsb)
    before, after = load_model(rrsb).state_dict(), load_model(final).state_dict()
    masks = [k for k in before if k.endswith(".mask")]
    assert masks and all(torch.equal(before[k], after[k]) for k in masks)
    assert "spsa.f_seg.weight" in after and {"d/gan", "g/gan"} <= set(records(tmp_path / "gan")[0])
    assert json.loads((tmp_path / "gan" / "manifest.json").read_text())["pruning"]["source"] == "init_checkpoint"


def test_rrsb_pruning_is_measured_on_the_pruned_runs_training_data(data_dir, tmp_path, capsys):
    """Eq. 8 on spsa_seg's OST + DIV2K (10:1), not on spsagan_rrsb_psnr's own DIV2K + Flickr2K batches."""
    from srrepro.cli import main
    from srrepro.config import pruning_datasets, training_data_arguments

    paper = config("paper")
    assert pruning_datasets(paper, "spsagan_rrsb_psnr") == {"OST_train": 10, "DIV2K_train": 1}
    assert training_data_arguments(paper, "spsagan_rrsb_psnr", "P") == (
        "--data P/DIV2K_train --data P/Flickr2K --prune-data P/OST_train --prune-data P/DIV2K_train "
        "--prune-data-ratio 10:1")
    assert pruning_datasets(paper, "spsa_seg") == {} and "--prune" not in training_data_arguments(paper, "spsa_seg", "P")
    demo = config("demo")
    assert pruning_datasets(demo, "spsagan_rrsb_psnr") == demo["variants"]["spsa_seg"]["train_data"]

    widths = {"nf": 8, "nb": 1, "gc": 4}
    seg = run({"procedure": "ragan", "generator": {"arch": "spsagan", **widths, "attention": "spsa"},
               "discriminator": D32, "train": TRAIN}, data_dir, tmp_path / "seg")
    other = _constant_dataset(tmp_path / "ost", 10, count=2)
    spec = {"procedure": "psnr", "generator": {"arch": "spsagan", **widths, "attention": "none", "prune": True},
            "train": {**TRAIN, "iterations": 1, "prune_batches": 1, "prune_weights": "scratch"}}
    common = ["train", "--variant-json", json.dumps(spec), "--data", str(data_dir), "--init", str(seg),
              "--prune-data", str(other), "--prune-data", str(data_dir), "--asset-cache", str(tmp_path / "cache")]
    assert main([*common, "--prune-data-ratio", "3:1", "--run-dir", str(tmp_path / "rrsb"),
                 "--out", str(tmp_path / "rrsb.pt")]) == 0
    manifest = json.loads((tmp_path / "rrsb" / "manifest.json").read_text())
    assert manifest["pruning"]["data"] == {str(other): 3.0, str(data_dir): 1.0}
    assert manifest["data_dir"] == str(data_dir)
    capsys.readouterr()
    assert main([*common, "--prune-data-ratio", "3", "--run-dir", str(tmp_path / "bad"),
                 "--out", str(tmp_path / "bad.pt")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("--prune-data-ratio '3' must be 2 numbers separated by ':', one per --prune-data folder")
    assert "\n" not in err


# --- Wu's Table 1 baseline: the four-term leftthomas/SRGAN loss; Wu's setup ------------------------------------------


def test_tv_loss_is_leftthomas_definition():
    x = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    a = x.numpy()
    h_tv = ((a[:, :, 1:, :] - a[:, :, :-1, :]) ** 2).sum()
    w_tv = ((a[:, :, :, 1:] - a[:, :, :, :-1]) ** 2).sum()
    expected = 2 * (h_tv / (3 * 4 * 7) + w_tv / (3 * 5 * 6)) / 2
    assert losses.tv_loss(x).item() == pytest.approx(expected, rel=1e-12)


def test_vgg16_pool5_perceptual_is_mse_on_unnormalised_features(asset_cache):
    from srrepro.models.backbones import vgg_features

    cfg = resolved("paper", "wu_srgan")
    assert cfg["perceptual_layer"] == "vgg16_pool5" and cfg["losses"]["perceptual_criterion"] == "mse"
    features, _ = losses.perceptual_features(cfg["perceptual_layer"], {"cache_dir": asset_cache})
    criterion = losses.PerceptualLoss(features, cfg["losses"]["perceptual_criterion"],
                                      losses.PERCEPTUAL_LAYERS[cfg["perceptual_layer"]].imagenet_normalise)
    assert len(features) == 31 and isinstance(features[-1], nn.MaxPool2d)  # vgg16.features[:31], through pool5
    vgg = vgg_features("vgg16", asset_cache / "vgg16_features.pt").features.eval()
    sr, hr = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(criterion(sr, hr), F.mse_loss(vgg(sr), vgg(hr)))


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_wu_variants_use_the_leftthomas_losses_and_wus_setup(which, data_dir, tmp_path):
    base, attention = resolved(which, "wu_srgan"), resolved(which, "wu_attention")
    assert base["losses"] == {"pixel": 1.0, "gan": 1e-3, "perceptual": 6e-3, "tv": 2e-8, "pixel_criterion": "mse",
                              "perceptual_criterion": "mse", "perceptual_scale": 1.0}
    assert attention["losses"] == {"pixel": 1.0, "gan": 1e-3, "perceptual": 0.0, "tv": 0.0, "pixel_criterion": "l1",
                                   "perceptual_criterion": "l1", "perceptual_scale": 1.0}
    for cfg in (base, attention):
        train = cfg["train"]
        assert (train["lr_g"], train["lr_d"], train["betas"], train["milestones"], train["augment"]) == (
            1e-3, 1e-3, [0.9, 0.999], [], False)
        if which == "paper":
            assert (train["batch_size"], train["hr_patch"], train["iterations"]) == (16, 128, 5000)
    nets = build_networks(base)
    optimizers, schedulers = _make_optimizers(base, nets)
    for opt in optimizers.values():
        assert all(g["lr"] == 1e-3 and g["betas"] == (0.9, 0.999) and g["weight_decay"] == 0 for g in opt.param_groups)
    assert all(not scheduler.milestones for scheduler in schedulers.values())  # no learning-rate schedule

    tiny = {**copy.deepcopy(config(which)["variants"]["wu_srgan"]), "train": {**TRAIN, "hr_patch": 16}}
    tiny["generator"].update(nf=8, nb=1)
    tiny["discriminator"].update(nf=8)
    tiny.pop("label")
    run(tiny, data_dir, tmp_path)
    (record,) = records(tmp_path)
    assert {"g/pixel", "g/gan", "g/perceptual", "g/tv"} <= set(record)
    total = record["g/pixel"] + 1e-3 * record["g/gan"] + 6e-3 * record["g/perceptual"] + 2e-8 * record["g/tv"]
    assert record["g/total"] == pytest.approx(total, rel=1e-5)


# --- FASRGAN Table IV ablations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_fasrgan_without_fa_only_switches_the_fa_losses_off(which):
    with_fa, without = resolved(which, "fasrgan"), resolved(which, "fasrgan_wo_fa")
    assert training(with_fa, "losses") == training(without, "losses")
    assert (without["losses"]["map"], without["losses"]["attention"], without["losses"]["d_map"]) == (0, 0, 0)
    assert {k: v for k, v in with_fa["losses"].items() if k not in ("map", "attention", "d_map")} == {
        k: v for k, v in without["losses"].items() if k not in ("map", "attention", "d_map")}

    cfg = resolve_variant({**config(which)["variants"]["fasrgan_wo_fa"],
                           "generator": {"arch": "rrdbnet_unet", "nf": 8, "nb": 1, "gc": 4, "d_nf": 8,
                                         "d_input_size": 16}, "train": {**TRAIN, "hr_patch": 16}})
    torch.manual_seed(0)
    nets = build_networks(cfg)
    assert type(nets.discriminator).__name__ == "UNetDiscriminator"  # FASRGAN's discriminator kept
    weights = loss_weights(cfg)
    opt_g = torch.optim.Adam(nets.generator_parameters(), lr=1e-2)
    opt_d = torch.optim.Adam(nets.discriminator_parameters(), lr=1e-2)
    ctx = StepContext(nets, opt_g, opt_d, weights, "l1", losses.PerceptualLoss(nn.Conv2d(3, 4, 1)), nullcontext,
                      "ragan_fa")
    lr, hr = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 16, 16)
    objective = PROCEDURES["ragan_fa"].objective
    g_terms = _g_update(ctx, objective, nets.generate(lr), hr)
    head = nets.discriminator.map_head.weight.detach().clone()
    score = nets.discriminator.score[0].weight.detach().clone()
    d_terms = _d_update(ctx, objective, nets.generate(lr), hr)
    assert set(g_terms) == {"g/pixel", "g/perceptual", "g/gan", "g/total"}  # no map, no attention term
    assert set(d_terms) == {"d/gan", "d/total"} and torch.equal(d_terms["d/total"], d_terms["d/gan"])
    assert torch.equal(nets.discriminator.map_head.weight, head)  # D's map loss is off: its head gets no gradient
    assert not torch.equal(nets.discriminator.score[0].weight, score)


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_fs_without_fs_gives_g_and_d_their_own_extractors(which, tmp_path):
    shared, separate = resolved(which, "fs_srgan"), resolved(which, "fs_wo_fs")
    assert separate["generator"] == {**shared["generator"], "shared": False}
    assert training(shared, "generator") == training(separate, "generator")
    assert config(which)["variants"]["fs_wo_fs"]["init_from"] == config(which)["variants"]["fs_srgan"]["init_from"]

    tiny = {"arch": "fs_rrdbnet_vgg", "split": "E1G1", "nf": 8, "gc": 4, "d_nf": 8, "d_input_size": 16,
            "d_stages": 4}
    cfg = resolve_variant({"procedure": "ragan", "generator": {**tiny, "shared": False}, "train": TRAIN | {
        "hr_patch": 16}})
    torch.manual_seed(0)
    nets = build_networks(cfg)
    assert isinstance(nets.d_extractor, SharedExtractor) and nets.d_extractor is not nets.extractor
    g_ids = {id(p) for p in nets.generator_parameters()}
    d_ids = {id(p) for p in nets.discriminator_parameters()}
    assert not g_ids & d_ids  # nothing shared
    torch.manual_seed(0)
    with_fs = build_networks(resolve_variant({"procedure": "ragan", "generator": tiny, "train": TRAIN | {
        "hr_patch": 16}}))
    assert sum(p.numel() for p in nets.generator_parameters()) == sum(
        p.numel() for p in with_fs.generator_parameters())
    assert {id(p) for p in with_fs.generator_parameters()} & {id(p) for p in with_fs.discriminator_parameters()}

    opt_g = torch.optim.Adam(nets.generator_parameters(), lr=1e-2)
    opt_d = torch.optim.Adam(nets.discriminator_parameters(), lr=1e-2)
    ctx = StepContext(nets, opt_g, opt_d, {"pixel": 1e-2, "perceptual": 0.0, "gan": 5e-3}, "l1", None, nullcontext,
                      "ragan")
    lr, hr = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 16, 16)

    def snapshot(module):
        return [p.detach().clone() for p in module.parameters()]

    def changed(before, module):
        return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))

    e, e_d = snapshot(nets.extractor), snapshot(nets.d_extractor)
    _g_update(ctx, PROCEDURES["ragan"].objective, nets.generate(lr), hr)
    assert changed(e, nets.extractor) and not changed(e_d, nets.d_extractor)
    e, e_d = snapshot(nets.extractor), snapshot(nets.d_extractor)
    _d_update(ctx, PROCEDURES["ragan"].objective, nets.generate(lr), hr)
    assert changed(e_d, nets.d_extractor) and not changed(e, nets.extractor)

    save_model(with_fs.model, "fs_rrdbnet_vgg", {k: v for k, v in tiny.items() if k != "arch"}, tmp_path / "fs.pt")
    load_init_weights(nets, tmp_path / "fs.pt")  # the shared PSNR model initialises E and G, not E_D
    assert all(torch.equal(a, b) for a, b in zip(nets.extractor.parameters(), with_fs.extractor.parameters()))


# --- Table VI, Table I's FASRGAN and Table V -----------------------------------------------------------------------


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_table6_variants_share_patch_and_schedule(which):
    cfgs = [resolved(which, name) for name in ("srgan", "srgan_fa", "srgan_fs")]
    # shared_bn_statistics concerns a shared extractor only, which SRGAN and SRGAN_FA lack
    trains = [{k: v for k, v in cfg["train"].items() if k != "shared_bn_statistics"} for cfg in cfgs]
    assert trains[0] == trains[1] == trains[2]
    for cfg in cfgs:
        assert build_networks(cfg).discriminator.input_size == cfg["train"]["hr_patch"]


def _with_anchor(text: str, key: str, value: str) -> dict:
    """paper.yaml with the anchored value of the one-key setting ``key`` (e.g. ``_gan_hr``) replaced."""
    line = re.compile(rf"^({key}: &\S+) (\S+)", re.M)
    assert len(line.findall(text)) == 1, key
    return yaml.safe_load(line.sub(lambda m: f"{m[1]} {value}", text))


def _built_perceptual(cfg: dict, asset_cache: Path, monkeypatch) -> tuple[nn.Module, nn.Module]:
    """(the perceptual criterion the training loop builds for ``cfg``, its full VGG). VGG19 is download-only:
    paper-scale layers are built on a randomly initialised VGG19 of the same layout; the demo's VGG16 is the real one."""
    from srrepro.models.backbones import VGGFeatures, vgg_features

    arch = losses.PERCEPTUAL_LAYERS[cfg["perceptual_layer"]].arch
    if arch == "vgg19":
        torch.manual_seed(0)
        vgg = VGGFeatures("vgg19")
        monkeypatch.setattr(losses.assets, "fetch_with_options", lambda name, options: asset_cache / "vgg19.pt")
        monkeypatch.setattr(losses.backbones, "vgg_features", lambda name, path: vgg)
    else:
        vgg = vgg_features(arch, losses.assets.fetch_with_options("vgg16-features", {"cache_dir": asset_cache}))
    features, _ = losses.perceptual_features(cfg["perceptual_layer"], {"cache_dir": asset_cache})
    return losses.perceptual_loss(cfg, features), vgg.features.eval()


@pytest.mark.parametrize("which, layer, stop", [("paper", "vgg19_relu5_4", 36), ("demo", "vgg16_relu5_3", 30)])
def test_table6_trains_srgan_ledigs_objective_and_only_the_mechanism_differs(which, layer, stop, asset_cache,
                                                                            monkeypatch):
    cfgs = {name: resolved(which, name) for name in ("srgan", "srgan_fa", "srgan_fs")}
    fa_terms = {"map", "attention", "d_map"}
    weights = {name: loss_weights(cfg) for name, cfg in cfgs.items()}
    base = weights["srgan"]
    if which == "paper":  # Ledig et al.: VGG φ5,4 (after ReLU) MSE on features / 12.75 + 1e-3 BCE, no pixel term
        assert base == {"pixel": 0.0, "perceptual": 1.0, "gan": 1e-3}
    assert weights["srgan_fs"] == base and {k: v for k, v in weights["srgan_fa"].items() if k not in fa_terms} == base
    # SRGAN_FA: the paper's λ2 = 0.01; G's map term at the adversarial weight λ1 (Eq. 9); D's map term 1
    assert (weights["srgan_fa"]["attention"], weights["srgan_fa"]["map"], weights["srgan_fa"]["d_map"]) == (
        1e-2, base["gan"], 1.0)
    sr, hr = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    mean, std = torch.tensor(losses.IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(losses.IMAGENET_STD).view(1, 3, 1, 1)
    for name, cfg in cfgs.items():
        assert cfg["perceptual_layer"] == layer and cfg["procedure"] == ("bce_fa" if name == "srgan_fa" else "bce")
        criterion, vgg = _built_perceptual(cfg, asset_cache, monkeypatch)
        assert len(criterion.features) == stop and isinstance(criterion.features[-1], nn.ReLU)
        assert (criterion.criterion, criterion.scale) == ("mse", pytest.approx(1 / 12.75))
        with torch.no_grad():
            phi = vgg[:stop]
            expected = F.mse_loss(phi((sr - mean) / std) / 12.75, phi((hr - mean) / std) / 12.75)
            torch.testing.assert_close(criterion(sr, hr), expected)


def test_table6_authors_train_srgan_json_is_the_other_objective_one_key_away():
    text = CONFIGS["paper"].read_text()
    released = yaml.safe_load(text.replace("<<: *srgan_ledig ", "<<: *srgan_released "))
    assert released != yaml.safe_load(text)
    cfgs = {name: resolve_variant(released["variants"][name]) for name in ("srgan", "srgan_fa", "srgan_fs")}
    for name, cfg in cfgs.items():  # train_SRGAN.json: L1 pixel 1e-2, L1 conv5_4 (pre-ReLU) 1, BCE 5e-3, 500k
        assert cfg["perceptual_layer"] == "vgg19_conv5_4"
        assert {k: cfg["losses"][k] for k in ("pixel_criterion", "perceptual_criterion", "perceptual_scale")} == {
            "pixel_criterion": "l1", "perceptual_criterion": "l1", "perceptual_scale": 1.0}
        assert {k: v for k, v in loss_weights(cfg).items() if k not in ("map", "attention", "d_map")} == {
            "pixel": 1e-2, "perceptual": 1.0, "gan": 5e-3}
        train = cfg["train"]
        assert (train["iterations"], train["lr_schedule"], train["milestones"], train["gamma"], train["batch_size"],
                train["hr_patch"], train["lr_g"], train["lr_d"]) == (
            500000, "multistep", [50000, 100000, 200000, 300000], 0.5, 16, 128, 1e-4, 1e-4)
    assert (cfgs["srgan_fa"]["losses"]["map"], cfgs["srgan_fa"]["losses"]["attention"]) == (5e-3, 1e-2)
    criterion = losses.perceptual_loss(cfgs["srgan"], nn.Identity())
    assert (criterion.criterion, criterion.scale) == ("l1", 1.0)
    from srrepro.reporting.table_specs import TABLES

    assert "_srgan_objective" in " ".join(TABLES["table6"].notes)  # the table says which objective and the other


@pytest.mark.parametrize("key, value, variants, setting, expected", [
    ("_gan_hr", "192", ("esrgan", "fasrgan", "fasrgan_l2_0p05", "fasrgan_l2_0p005", "fasrgan_wo_fa", "fa_fs_srgan"),
     "hr_patch", (128, 192)),
    ("_fs_batch", "16", ("fs_srgan", "fs_e2g15", "fs_e3g14", "fs_e4g13", "fs_wo_fs"), "batch_size", (32, 16)),
    ("_fa_fs_batch", "16", ("fa_fs_srgan",), "batch_size", (12, 16)),
    ("_fa_fs_lr", "1.0e-4", ("fa_fs_srgan",), "lr_g", (2.5e-5, 1e-4)),
    ("_fa_fs_lr", "1.0e-4", ("fa_fs_srgan",), "lr_d", (2.5e-5, 1e-4)),
    ("_gan_schedule", "halve_every", ("esrgan", "fasrgan", "fasrgan_l2_0p05", "fasrgan_l2_0p005", "fasrgan_wo_fa",
                                      "fs_srgan", "fs_e2g15", "fs_e3g14", "fs_e4g13", "fs_wo_fs", "fa_fs_srgan"),
     "lr_schedule", ("multistep", "halve_every")),
])
def test_paper_text_settings_are_one_key_each_and_default_to_the_released_configurations(
        key, value, variants, setting, expected):
    text = CONFIGS["paper"].read_text()
    released, paper_text = yaml.safe_load(text), _with_anchor(text, key, value)
    for name, variant in paper_text["variants"].items():
        before, after = resolve_variant(released["variants"][name]), resolve_variant(variant)  # networks fit
        if name in variants:
            assert (before["train"][setting], after["train"][setting]) == expected, name
            if setting == "hr_patch":  # the discriminators are built for the text's patch
                nets = build_networks(after)
                assert nets.discriminator.input_size == 192
        else:  # nothing else changes (the SRGAN group and SPSAGAN keep their own patch and schedule)
            assert before == after, name
    if setting == "lr_schedule":
        assert resolve_variant(paper_text["variants"]["fasrgan"])["train"]["step_size"] == 20000
    from srrepro.reporting.table_specs import TABLES

    assert all(key in " ".join(TABLES[t].notes) for t in ("table1", "table4", "table5"))  # the tables say so


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_table1_fasrgan_uses_lambda2_0p01_and_table5_has_the_released_0p05(which):
    from srrepro.reporting.table_specs import TABLES

    variants = config(which)["variants"]
    assert resolved(which, "fasrgan")["losses"]["attention"] == 1e-2
    assert resolved(which, "fasrgan_l2_0p05")["losses"]["attention"] == 5e-2
    assert resolved(which, "fasrgan_l2_0p005")["losses"]["attention"] == 5e-3
    assert "fasrgan_l2_0p01" not in variants
    assert {r.setting: r.variant for r in TABLES["table5"].rows} == {
        "lambda2=0.05": "fasrgan_l2_0p05", "lambda2=0.01": "fasrgan", "lambda2=0.005": "fasrgan_l2_0p005"}
    assert {r.setting: r.variant for r in TABLES["table4"].rows} == {
        "w/o FA": "fasrgan_wo_fa", "with FA": "fasrgan", "w/o Fs": "fs_wo_fs", "with Fs": "fs_srgan"}
    assert any("0.01" in note for note in TABLES["table1"].notes)
    assert all(r.variant in variants for t in TABLES.values() for r in t.rows
               if r.variant not in (None, "hr", "bicubic"))

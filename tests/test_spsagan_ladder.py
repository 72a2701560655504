"""SPSAGAN ablation ladder (Fig. 11): ESRGAN on RRSBs → + feature attention → + segmentation attention → + RRSB pruning."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from srrepro.errors import ConfigError
from srrepro.models import build_model
from srrepro.models.checkpoints import load_model
from srrepro.models.rrsb_pruning import prune_generator, transfer_surviving_weights
from srrepro.models.spsagan import SelfAttentionLayer, SparseDenseBlock, SPSAGenerator, SPSALayer, dense_mask, rrdbnet_to_spsagan
from srrepro.training import train_variant

WIDTHS = {"nf": 8, "nb": 1, "gc": 4}
RUNGS = {"esrgan_rrsb": {"attention": "none"}, "feature_attention": {"attention": "self"},
         "segmentation_attention": {"attention": "spsa", "prior": "colour"}}
TRAIN = {"iterations": 2, "batch_size": 2, "hr_patch": 32, "checkpoint_every": 2, "log_every": 1,
         "validate_every": 0, "milestones": [1], "lr_g": 1e-3, "lr_d": 1e-3}
D = {"arch": "vgg128", "nf": 8, "input_size": 32}


@pytest.mark.parametrize("rung", sorted(RUNGS))
def test_each_rung_builds_and_upscales_odd_sizes(rung):
    torch.manual_seed(0)
    model = build_model("spsagan", **WIDTHS, **RUNGS[rung])
    out = model(torch.rand(1, 3, 7, 5))
    assert out.shape == (1, 3, 28, 20) and torch.isfinite(out).all()
    attention = {"none": type(None), "self": SelfAttentionLayer, "spsa": SPSALayer}[RUNGS[rung]["attention"]]
    assert isinstance(getattr(model, "spsa", None), attention)
    assert (model.prior is None) == (RUNGS[rung]["attention"] != "spsa")


def test_default_keeps_its_state_dict_layout():
    model = build_model("spsagan", **WIDTHS)
    assert model.attention == "spsa"
    assert sorted(k for k in model.state_dict() if k.startswith("spsa.")) == sorted(
        f"spsa.{n}" for n in ["alpha", "alpha_initialized", "gamma", "f_fea.weight", "f_fea.bias", "g_fea.weight",
                              "g_fea.bias", "f_seg.weight", "f_seg.bias", "g_seg.weight", "g_seg.bias", "h.weight",
                              "h.bias", "transform.weight", "transform.bias"])
    old_options = build_model("spsagan", **WIDTHS, scale=4, prior="colour")  # options stored by earlier model.pt
    old_options.load_state_dict(model.state_dict(), strict=True)
    self_keys = set(build_model("spsagan", **WIDTHS, attention="self").state_dict())
    assert self_keys < set(model.state_dict())  # the feature branch keeps the SPSA layer's names
    with pytest.raises(ValueError, match="only applies to attention 'spsa'"):
        build_model("spsagan", **WIDTHS, attention="self", prior="colour")
    with pytest.raises(ValueError, match="unknown attention"):
        build_model("spsagan", **WIDTHS, attention="channel")


def test_no_attention_unpruned_equals_rrdbnet():
    torch.manual_seed(0)
    rrdb = build_model("rrdbnet", nf=8, nb=2, gc=4)
    for p in rrdb.parameters():  # non-trivial values everywhere (the default init zeroes biases)
        p.data.add_(torch.randn_like(p) * 0.01)
    esrgan_on_rrsb = build_model("spsagan", nf=8, nb=2, gc=4, attention="none")
    esrgan_on_rrsb.load_state_dict(rrdbnet_to_spsagan(rrdb.state_dict()), strict=True)
    lr = torch.rand(2, 3, 7, 5)
    assert torch.equal(esrgan_on_rrsb(lr), rrdb(lr))


def test_attention_layers_rows_and_weight():
    torch.manual_seed(0)
    model = build_model("spsagan", nf=16, nb=1, gc=4)
    lr = torch.rand(2, 3, 5, 3)
    seg = model.prior(torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic").clamp(0, 1))
    x = torch.randn(2, 16, 5, 3)
    beta, w_seg = model.spsa.attention(x, seg)
    torch.testing.assert_close(beta.sum(-1), torch.ones(2, 15))
    assert (w_seg >= 0).all() and (w_seg <= 1).all()
    sa = SelfAttentionLayer(16)
    torch.testing.assert_close(sa.attention(x).sum(-1), torch.ones(2, 15))
    torch.testing.assert_close(sa(x), x)  # γ starts at 0


def test_transferred_weights_reproduce_the_dense_model_when_pruned_inputs_are_zero():
    torch.manual_seed(0)
    dense = build_model("spsagan", nf=8, nb=1, gc=4, attention="self")
    masks = dense_mask().repeat(3, 1, 1)
    masks[:, 4, :2] = False
    masks[1, 2, 0] = False
    for block, mask in zip(dense.sparse_blocks(), masks):  # zero the weights of the connections to be pruned
        for l, conv in enumerate(block.convs):
            for i in range(l):
                if not mask[l, i]:
                    conv.weight.data[:, 8 + 4 * i:8 + 4 * (i + 1)] = 0
            conv.bias.data.normal_()
    dense.spsa.gamma.data.fill_(0.5)
    pruned = build_model("spsagan", nf=8, nb=1, gc=4, attention="self")
    pruned.apply_pruning(masks)
    transfer_surviving_weights(pruned, dense.state_dict())
    lr = torch.rand(1, 3, 6, 5)
    torch.testing.assert_close(pruned(lr), dense(lr), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="pruned"):
        transfer_surviving_weights(dense, pruned.state_dict())


def test_prune_generator_keeps_x0_and_only_drops_connections():
    torch.manual_seed(0)
    model = build_model("spsagan", nf=8, nb=2, gc=4)
    stats = prune_generator(model, [torch.rand(2, 3, 6, 6) for _ in range(2)])
    assert stats["dense_blocks"] == 6 and len(stats["kept_per_block"]) == 6
    assert stats["generator_parameters"] <= stats["generator_parameters_before"]
    for block in model.sparse_blocks():
        assert all(conv.in_channels >= 8 for conv in block.convs)  # x_0 feeds every layer
        assert block.mask[1, 0]  # layer 2 has one candidate (x_1): never pruned


# --- training: the + RRSB rung through the trainer -------------------------------------------------------------


def run(spec, data_dir, out_dir, seed=0, **kwargs):
    """Train ``spec``; a pruning run measures Eq. 8 on ``data_dir`` too unless ``prune_data`` says otherwise."""
    if spec["generator"].get("prune"):
        kwargs.setdefault("prune_data", data_dir)
    torch.manual_seed(123)
    assets = {"perceptual_features": nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))}
    return train_variant(spec, data_dir, out_dir, seed=seed, threads=1, asset_options=assets, progress=False,
                         **kwargs)


def spsagan_variant(generator: dict, **train) -> dict:
    return {"procedure": "ragan", "generator": {"arch": "spsagan", **WIDTHS, **generator}, "discriminator": D,
            "train": {**TRAIN, **train}}


@pytest.fixture(scope="module")
def init_run(data_dir, tmp_path_factory):
    """The unpruned '+ segmentation attention' rung: the init of the '+ RRSB' rung."""
    out = tmp_path_factory.mktemp("spsa")
    return run(spsagan_variant({"attention": "spsa"}), data_dir, out, seed=1)  # not the pruned runs' seed


def _state(path):
    return load_model(path).state_dict()


def test_pruned_run_records_masks_reloads_and_resumes_bit_identically(data_dir, init_run, tmp_path):
    spec = spsagan_variant({"attention": "spsa", "prune": True}, iterations=3, checkpoint_every=1,
                           prune_batches=2)
    final = run(spec, data_dir, tmp_path / "full", init_checkpoint=init_run)
    manifest = json.loads((tmp_path / "full" / "manifest.json").read_text())
    pruning = manifest["pruning"]
    assert pruning["source"] == "measured" and pruning["batches"] == 2 and pruning["weights"] == "init"
    assert pruning["dense_blocks"] == 3 and pruning["prunable_per_block"] == 10
    assert 0 < pruning["fraction_pruned"] < 1  # > 0 on this data and seed, so the resume rebuilds a sparse trunk
    assert pruning["fraction_pruned"] == pytest.approx(1 - sum(pruning["kept_per_block"]) / 30)
    first = json.loads((tmp_path / "full" / "train_log.jsonl").read_text().splitlines()[0])
    assert first["iteration"] == 0 and first["event"] == "pruning"
    assert first["kept_per_block"] == pruning["kept_per_block"]

    model = load_model(final)  # masks travel in model.pt; the saved options have no 'prune'
    assert isinstance(model, SPSAGenerator)
    assert [int(b.mask.sum()) for b in model.sparse_blocks()] == pruning["kept_per_block"]
    assert all(conv.in_channels >= WIDTHS["nf"] for b in model.sparse_blocks() for conv in b.convs)
    assert torch.load(final, weights_only=True)["options"] == {**WIDTHS, "attention": "spsa"}
    lr = torch.rand(1, 3, 7, 5)
    torch.testing.assert_close(load_model(final)(lr), model(lr))

    assert run(spec, data_dir, tmp_path / "cut", init_checkpoint=init_run, stop_after=2) is None
    resumed = _state(run(spec, data_dir, tmp_path / "cut", init_checkpoint=init_run))
    full = _state(final)
    assert resumed.keys() == full.keys() and all(torch.equal(full[k], resumed[k]) for k in full)
    logs = [[{k: v for k, v in json.loads(line).items() if k != "seconds_per_iteration"}
             for line in (tmp_path / name / "train_log.jsonl").read_text().splitlines()] for name in ("full", "cut")]
    assert logs[0] == logs[1]


def test_pruning_is_measured_on_the_pruned_runs_training_data(data_dir, init_run, tmp_path):
    """Eq. 8 "during the last several iterations" of the dense run: on its training data (spsa_seg: OST + DIV2K), not
    on the batches of the run that is pruned and retrained (DIV2K + Flickr2K)."""
    from conftest import write_paired_dataset

    from srrepro.training.patches import PatchSampler

    dense_data = write_paired_dataset(tmp_path / "dense_data", count=2, size=64, seed=7)  # the dense run's data
    spec = spsagan_variant({"attention": "spsa", "prune": True}, iterations=1, prune_batches=2)
    run(spec, data_dir, tmp_path / "pruned", init_checkpoint=init_run, prune_data={str(dense_data): 1.0})
    manifest = json.loads((tmp_path / "pruned" / "manifest.json").read_text())
    assert manifest["pruning"]["data"] == {str(dense_data): 1.0} and manifest["data_dir"] == str(data_dir)
    assert set(manifest["data_fingerprint"]) == {"train", "val", "prune"}

    def measured(data) -> list[list[list[float]]]:  # Eq. 8 by hand: the same seed's first patches of ``data``
        model = load_model(init_run)
        sampler = PatchSampler(data, 4, TRAIN["hr_patch"], 0, True)
        return prune_generator(model, [sampler.sample(TRAIN["batch_size"])[0] for _ in range(2)])["dissimilarity"]

    assert manifest["pruning"]["dissimilarity"] == measured({str(dense_data): 1.0})
    assert manifest["pruning"]["dissimilarity"] != measured(str(data_dir))  # the run's own batches differ
    with pytest.raises(ConfigError, match=r"'generator.prune' needs .* its training data \(prune_data"):
        train_variant(spec, data_dir, tmp_path / "no_data", seed=0, threads=1, init_checkpoint=init_run,
                      progress=False)


def test_pruned_weights_come_from_init_or_scratch(data_dir, init_run, tmp_path):
    finals = {}
    for mode in ("init", "scratch"):
        spec = spsagan_variant({"attention": "spsa", "prune": True}, iterations=1, prune_batches=2,
                               prune_weights=mode)
        finals[mode] = _state(run(spec, data_dir, tmp_path / mode, init_checkpoint=init_run))
    a, b = (json.loads((tmp_path / m / "manifest.json").read_text())["pruning"] for m in ("init", "scratch"))
    assert a["masks"] == b["masks"] and (a["weights"], b["weights"]) == ("init", "scratch")
    init = _state(init_run)
    # conv_first: one fine-tuning step (lr 1e-3) away from the init in "init" mode, from seed 0's init in "scratch"
    assert (finals["init"]["conv_first.weight"] - init["conv_first.weight"]).abs().max() < 2e-3
    assert (finals["scratch"]["conv_first.weight"] - init["conv_first.weight"]).abs().max() > 1e-2


def test_rrdbnet_init_feeds_the_pruned_ladder_top(data_dir, tmp_path):
    psnr = run({"procedure": "psnr", "generator": {"arch": "rrdbnet", **WIDTHS}, "train": {**TRAIN, "hr_patch": 16}},
               data_dir, tmp_path / "rrdb")
    spec = spsagan_variant({"attention": "none", "prune": True}, iterations=1, prune_batches=1)
    final = run(spec, data_dir, tmp_path / "pruned", init_checkpoint=psnr)
    assert load_model(final)(torch.rand(1, 3, 5, 7)).shape == (1, 3, 20, 28)


def test_pruned_init_carries_its_masks_into_a_later_phase(data_dir, init_run, tmp_path):
    pruned = run(spsagan_variant({"attention": "spsa", "prune": True}, iterations=1, prune_batches=1), data_dir,
                 tmp_path / "pruned", init_checkpoint=init_run)
    later = run(spsagan_variant({"attention": "spsa"}, iterations=1), data_dir, tmp_path / "later",
                init_checkpoint=pruned)
    before, after = _state(pruned), _state(later)
    masks = [k for k in before if k.endswith(".mask")]
    assert all(torch.equal(before[k], after[k]) for k in masks)
    assert json.loads((tmp_path / "later" / "manifest.json").read_text())["pruning"]["source"] == "init_checkpoint"
    last = [k for k in before if k.endswith(".convs.4.weight")]  # the last conv of a dense block is always used
    assert [k for k in last if torch.equal(before[k], after[k])] == []  # the optimiser holds the rebuilt convs


@pytest.mark.parametrize("change, key", [
    ({"generator": {"arch": "rrdbnet", **WIDTHS, "prune": True}}, "generator.prune"),
    ({"train": {**TRAIN, "prune_batches": 4}}, "train.prune_batches"),
    ({"generator": {"arch": "spsagan", **WIDTHS, "prune": True}, "train": {**TRAIN, "prune_weights": "x"}},
     "train.prune_weights"),
    ({"generator": {"arch": "spsagan", **WIDTHS, "prune": True}}, "generator.prune"),  # no init_checkpoint
])
def test_bad_pruning_variants_are_refused(change, key, data_dir, tmp_path):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        run({**spsagan_variant({}), **change}, data_dir, tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_sparse_block_mask_is_a_buffer_and_unused_layers_are_skipped():
    torch.manual_seed(0)
    block = SparseDenseBlock(8, 4)
    assert "mask" in dict(block.named_buffers()) and torch.equal(block.mask, dense_mask())
    mask = dense_mask()
    mask[2:, 1] = False  # x_2 feeds nothing: layer 2's conv is dead
    block.set_mask(mask)
    assert block.live == [True, False, True, True, True]
    x = torch.rand(1, 8, 5, 4)
    torch.testing.assert_close(block(x), block.layer_outputs(x)[-1] * 0.2 + x)

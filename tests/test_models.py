"""Architectures: paper-scale parameter counts, shapes, discriminator checks, Fs gradient flow, SPSA and RRSB."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from srrepro.models.pairs import generator_parameter_count as count_parameters
from srrepro.models import available_models, build_model
from srrepro.models.checkpoints import load_model, save_model
from srrepro.models.rrsb_pruning import measure_dissimilarity, prune_masks, two_means_1d
from srrepro.models.spsagan import SPSALayer, dense_mask


def test_rrdbnet_paper_scale_count():
    assert round(count_parameters(build_model("rrdbnet")) / 1e6, 2) == 16.70


@pytest.mark.parametrize("arch, split", [("fs_rrdbnet_vgg", "E1G16"), ("fs_rrdbnet_unet", "E2G15")])
def test_feature_sharing_generator_counts(arch, split):
    # The paper's 12.46 M = shared extractor E + generator trunk G (discriminator excluded).
    model = build_model(arch, split=split, d_nf=4, d_input_size=64)
    n = sum(p.numel() for p in model.generator_parameters())
    assert n == 12_455_299 and round(n / 1e6, 2) == 12.46
    assert count_parameters(build_model("fs_extractor")) == 758_144


def test_srgan_family_counts():
    # Table VI of the FASRGAN paper reports 1.554 M (SRGAN) and 1.48 M (SRGAN_Fs).
    assert round(count_parameters(build_model("srresnet")) / 1e6, 2) == 1.55
    assert count_parameters(build_model("srresnet_nobn")) == 1_554_499  # the released BasicSR SRResNet (refs §2)
    model = build_model("fs_srresnet", d_nf=4, d_input_size=32)
    assert round(sum(p.numel() for p in model.generator_parameters()) / 1e6, 2) == 1.48


TINY = {
    "rrdbnet": {"nf": 8, "nb": 1, "gc": 4},
    "rrdbnet_unet": {"nf": 8, "nb": 1, "gc": 4, "d_nf": 4, "d_input_size": 32},
    "fs_rrdbnet_vgg": {"split": "E1G1", "nf": 8, "gc": 4, "d_nf": 4, "d_input_size": 64},
    "fs_rrdbnet_unet": {"split": "E1G1", "nf": 8, "gc": 4, "d_nf": 4, "d_input_size": 32},
    "srresnet": {"nf": 8, "nb": 1},
    "srresnet_nobn": {"nf": 8, "nb": 1},
    "fs_rrdb_generator": {"split": "E1G1", "nf": 8, "gc": 4},
    "srresnet_unet": {"nf": 8, "nb": 1, "d_nf": 4, "d_input_size": 32},
    "fs_srresnet": {"nf": 8, "nb": 1, "d_nf": 4, "d_input_size": 32},
    "srgan_leftthomas_g": {"nf": 8, "nb": 1},
    "attention_srgan": {"nf": 16, "nb": 1},
    "spsagan": {"nf": 16, "nb": 1, "gc": 8},
}


@pytest.mark.parametrize("arch", sorted(TINY))
def test_generators_x4_on_odd_sizes(arch):
    torch.manual_seed(0)
    model = build_model(arch, **TINY[arch])
    out = model(torch.rand(1, 3, 7, 5))
    assert out.shape == (1, 3, 28, 20) and torch.isfinite(out).all()


def test_every_registered_generator_is_covered():
    discriminators = {"vgg128", "vgg192", "unet_fa", "srgan_d", "srgan_leftthomas_d", "outdoor_scene_seg",
                      "fs_extractor", "fs_generator_trunk"}
    assert set(available_models()) - discriminators == set(TINY)


def test_unet_outputs_and_wrong_size():
    d = build_model("unet_fa", nf=4, input_size=32)
    score, logits = d(torch.rand(2, 3, 32, 32))
    assert score.shape == (2, 1) and logits.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"\(B, C, 32, 32\).*\(2, 3, 64, 64\)"):
        d(torch.rand(2, 3, 64, 64))
    paper = build_model("unet_fa")
    assert paper.score[0].in_features == 65536
    with pytest.raises(ValueError, match="128, 128"):
        paper(torch.rand(1, 3, 96, 96))


def test_unet_bn_eps_quirk_only_behind_flag():
    eps = [m.eps for m in build_model("unet_fa", nf=4, input_size=16, bn_eps_quirk=True).modules()
           if isinstance(m, nn.BatchNorm2d)]
    assert eps[:2] == [4.0, 1e-5]
    assert all(m.eps == 1e-5 for m in build_model("unet_fa", nf=4, input_size=16).modules()
               if isinstance(m, nn.BatchNorm2d))


def test_vgg_discriminators():
    assert build_model("vgg192", in_nc=64).classifier[0].in_features == 4608
    assert build_model("vgg128", nf=4, input_size=32)(torch.rand(2, 3, 32, 32)).shape == (2, 1)
    with pytest.raises(ValueError, match="64, 64"):
        build_model("vgg192", nf=4, input_size=64)(torch.rand(1, 3, 48, 48))
    assert build_model("srgan_leftthomas_d", nf=4)(torch.rand(2, 3, 24, 24)).shape == (2,)


@pytest.mark.parametrize("arch", ["fs_rrdbnet_vgg", "fs_rrdbnet_unet"])
def test_fs_gradients_reach_extractor_from_both_objectives(arch):
    torch.manual_seed(0)
    gan = build_model(arch, **TINY[arch])
    size = gan.discriminator.input_size
    lr, hr = torch.rand(2, 3, size // 4, size // 4), torch.rand(2, 3, size, size)
    sr = gan.generate(lr)
    score = gan.discriminate(sr)
    score = score[0] if isinstance(score, tuple) else score
    (sr.abs().mean() + score.mean()).backward()  # generator objective
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.extractor.parameters())
    gan.zero_grad(set_to_none=True)
    real = gan.discriminate(hr)
    real = real[0] if isinstance(real, tuple) else real
    real.mean().backward()  # discriminator objective
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.extractor.parameters())
    assert all(p.grad is None for p in gan.generator_trunk.parameters())


def test_spsa_attention_rows_and_weight():
    torch.manual_seed(0)
    layer = SPSALayer(nf=16, scale=4)
    x, seg = torch.randn(2, 16, 5, 3), torch.softmax(torch.randn(2, 8, 20, 12), 1)
    beta, w_seg = layer.attention(x, seg)
    assert beta.shape == (2, 15, 15)
    torch.testing.assert_close(beta.sum(-1), torch.ones(2, 15))
    assert (w_seg >= 0).all() and (w_seg <= 1).all()
    conv = layer.transform(seg)
    torch.testing.assert_close(layer.alpha.detach(), x.abs().mean() / conv.abs().mean())
    assert bool(layer.alpha_initialized)
    out = layer(x, seg)
    torch.testing.assert_close(out, x)  # gamma starts at 0
    with pytest.raises(ValueError, match="4x the LR size"):
        layer(x, seg[..., :16, :])


def test_spsa_inference_in_row_chunks_equals_the_whole_matrix():
    """Without autograd the layer computes β a chunk of rows at a time; the output is the whole matrix's."""
    torch.manual_seed(0)
    layer = SPSALayer(nf=16, scale=4)
    layer.gamma.data.fill_(0.7)
    x, seg = torch.randn(2, 16, 13, 11), torch.softmax(torch.randn(2, 8, 52, 44), 1)
    assert x.shape[-1] * x.shape[-2] > 2 * layer.ROWS_PER_CHUNK  # several chunks, the last one partial
    whole = layer(x, seg)  # autograd on: one (N, N) matrix
    with torch.no_grad():
        chunked = layer(x, seg)
    beta, _ = layer.attention(x, seg)
    expected = x + 0.7 * (layer.h(x).flatten(2) @ beta.transpose(1, 2)).view_as(x)
    torch.testing.assert_close(whole, expected)
    torch.testing.assert_close(chunked, whole.detach(), rtol=1e-6, atol=1e-6)


def test_two_means_and_pruning_rule():
    low, m_lo, m_hi = two_means_1d(torch.tensor([0.4, 0.1, 0.4, 0.1]))
    assert low.tolist() == [False, True, False, True] and (m_lo, m_hi) == pytest.approx((0.1, 0.4))
    ds = torch.zeros(2, 5, 4)
    ds[0, 4] = torch.tensor([0.1, 0.4, 0.1, 0.4])
    ds[1, 4] = torch.tensor([0.249, 0.251, 0.25, 0.25])  # classes differ by < 5 %: keep all
    ds[:, 3, :3] = torch.tensor([0.2, 0.3, 0.5])
    masks = prune_masks(ds)
    assert masks[0, 4].tolist() == [False, True, False, True]
    assert masks[1, 4].tolist() == [True] * 4
    assert masks[:, 3, :3].tolist() == [[False, False, True]] * 2
    assert (masks[:, :3] == dense_mask()[:3]).all()


def test_dissimilarity_from_rrdb_run():
    torch.manual_seed(0)
    rrdb = build_model("rrdbnet", nf=8, nb=2, gc=4)
    ds = measure_dissimilarity(rrdb, [torch.rand(2, 3, 6, 6), torch.rand(1, 3, 6, 6)])
    assert ds.shape == (6, 5, 4)
    torch.testing.assert_close(ds[:, 1:].sum(-1), torch.ones(6, 4))
    assert prune_masks(ds).shape == (6, 5, 4)


def test_rrsb_mask_saved_and_reloaded(tmp_path):
    torch.manual_seed(0)
    options = {"nf": 8, "nb": 2, "gc": 4}
    model = build_model("spsagan", **options)
    masks = dense_mask().repeat(6, 1, 1)
    masks[:, 4, 0] = False
    masks[0, 3, 1] = False
    model.apply_pruning(masks)
    assert model.sparse_blocks()[0].convs[4].in_channels == 8 + 3 * 4
    lr = torch.rand(1, 3, 5, 6)
    expected = model(lr)
    save_model(model, "spsagan", options, tmp_path / "spsa.pt")
    loaded = load_model(tmp_path / "spsa.pt")
    assert all(torch.equal(a.mask, b) for a, b in zip(loaded.sparse_blocks(), masks))
    assert count_parameters(loaded) == count_parameters(model) < count_parameters(build_model("spsagan", **options))
    torch.testing.assert_close(loaded(lr), expected)


def test_attention_srgan_block_layout():
    model = build_model("attention_srgan", nf=32, nb=2)
    kinds = {type(m).__name__ for m in model.modules()}
    assert "GroupNorm" in kinds and "BatchNorm2d" not in kinds
    out = model(torch.rand(1, 3, 4, 4))
    assert (out >= 0).all() and (out <= 1).all()


def test_outdoor_scene_seg_layout():
    net = build_model("outdoor_scene_seg")
    keys = net.state_dict().keys()
    assert {"feature.0.weight", "feature.10.proj.0.weight", "feature.42.res.7.running_var", "feature.47.bias",
            "deconv.weight"} <= keys
    assert "feature.11.proj.0.weight" not in keys and len(keys) == 645
    torch.manual_seed(0)
    prior = build_model("spsagan", nf=8, nb=1, gc=4, prior="ost").prior
    prior.net.load_state_dict(net.state_dict())
    prior.loaded_from = "test: random weights"  # the asset path (attach_prior_weights) is tested in test_paper_grid
    probs = prior(torch.rand(1, 3, 32, 24))
    assert probs.shape == (1, 8, 32, 24)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 32, 24))
    with pytest.raises(ValueError, match="unknown segmentation prior"):
        build_model("spsagan", nf=8, nb=1, gc=4, prior="nope")

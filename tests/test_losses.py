"""Each loss term against an explicit numpy computation on small tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from srrepro.training import losses

RNG = np.random.default_rng(0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def bce(logits, target):
    p = sigmoid(logits)
    return float(np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p))))


def t(array, grad=False):
    return torch.tensor(array, dtype=torch.float64, requires_grad=grad)


C_REAL = RNG.normal(size=(4, 1))
C_FAKE = RNG.normal(size=(4, 1))
M_REAL = RNG.normal(size=(2, 3, 4, 5))
M_FAKE = RNG.normal(size=(2, 3, 4, 5))
SR = RNG.uniform(size=(2, 3, 4, 5))
HR = RNG.uniform(size=(2, 3, 4, 5))


def test_pixel_l1_and_mse():
    assert losses.pixel_loss(t(SR), t(HR)).item() == pytest.approx(np.abs(SR - HR).mean(), rel=1e-12)
    assert losses.pixel_loss(t(SR), t(HR), "mse").item() == pytest.approx(((SR - HR) ** 2).mean(), rel=1e-12)


def test_ragan_generator_and_discriminator():
    expected_g = (bce(C_REAL - C_FAKE.mean(), 0) + bce(C_FAKE - C_REAL.mean(), 1)) / 2
    expected_d = (bce(C_REAL - C_FAKE.mean(), 1) + bce(C_FAKE - C_REAL.mean(), 0)) / 2
    real, fake = t(C_REAL, True), t(C_FAKE, True)
    loss_g = losses.ragan_g(real, fake)
    assert loss_g.item() == pytest.approx(expected_g, rel=1e-12)
    loss_g.backward()
    assert real.grad is None  # D's real prediction is detached in the G loss
    assert fake.grad.abs().sum() > 0
    assert losses.ragan_d(t(C_REAL), t(C_FAKE)).item() == pytest.approx(expected_d, rel=1e-12)


def test_fine_grained_map_terms():
    expected_d = (bce(M_REAL, 1) + bce(M_FAKE, 0)) / 2
    assert losses.map_d(t(M_REAL), t(M_FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert losses.map_g(t(M_FAKE)).item() == pytest.approx(bce(M_FAKE, 1) / 2, rel=1e-12)


def test_attention_loss_weight_is_detached():
    expected = float(np.mean(np.abs(SR - HR) * (1 - sigmoid(M_FAKE))))
    sr, m_fake = t(SR, True), t(M_FAKE, True)
    loss = losses.attention_loss(sr, t(HR), m_fake)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert m_fake.grad is None
    np.testing.assert_allclose(sr.grad.numpy(), np.sign(SR - HR) * (1 - sigmoid(M_FAKE)) / SR.size, rtol=1e-12)


def test_standard_gan_terms():
    assert losses.bce_g(t(C_FAKE)).item() == pytest.approx(bce(C_FAKE, 1), rel=1e-12)
    expected_d = bce(C_REAL, 1) + bce(C_FAKE, 0)
    assert losses.bce_d(t(C_REAL), t(C_FAKE)).item() == pytest.approx(expected_d, rel=1e-12)


def test_wu_terms():
    p_real, p_fake = sigmoid(C_REAL), sigmoid(C_FAKE)
    assert losses.wu_g(t(p_fake)).item() == pytest.approx(np.mean(1 - p_fake), rel=1e-12)
    expected_d = 1 - p_real.mean() + p_fake.mean()
    assert losses.wu_d(t(p_real), t(p_fake)).item() == pytest.approx(expected_d, rel=1e-12)
    # Wu's generator objective: L1 + 0.001 · mean(1 − D(G(z)))
    terms = {"pixel": losses.pixel_loss(t(SR), t(HR)), "gan": losses.wu_g(t(p_fake))}
    expected = np.abs(SR - HR).mean() + 0.001 * np.mean(1 - p_fake)
    assert losses.weighted_total(terms, {"pixel": 1.0, "gan": 0.001}).item() == pytest.approx(expected, rel=1e-12)


def test_perceptual_loss_normalises_and_freezes():
    conv = nn.Conv2d(3, 2, 1).double()
    weight = conv.weight.detach().numpy()[:, :, 0, 0]
    bias = conv.bias.detach().numpy()
    # the module stores the constants as float32 buffers
    mean = np.float32([0.485, 0.456, 0.406]).astype(np.float64).reshape(1, 3, 1, 1)
    std = np.float32([0.229, 0.224, 0.225]).astype(np.float64).reshape(1, 3, 1, 1)

    def features(x):
        x = (x - mean) / std
        return np.einsum("oc,bchw->bohw", weight, x) + bias.reshape(1, 2, 1, 1)

    expected = np.abs(features(SR) - features(HR)).mean()
    criterion = losses.PerceptualLoss(conv).double()
    sr = t(SR, True)
    loss = criterion(sr, t(HR))
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    loss.backward()
    assert sr.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in conv.parameters())
    criterion.train()
    assert not criterion.features.training


def test_frozen_extractor_stored_in_bf16_computes_the_same_loss_and_gradient():
    torch.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1))
    sr, hr = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)

    def loss_and_grad(criterion):
        x = sr.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = criterion(x, hr)
        loss.backward()
        return loss.detach(), x.grad

    loss32, grad32 = loss_and_grad(losses.PerceptualLoss(features))
    stored = losses.PerceptualLoss(features).store_frozen_as(torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in stored.features.parameters())
    loss16, grad16 = loss_and_grad(stored)
    assert torch.equal(loss32, loss16) and torch.equal(grad32, grad16)
    assert all(p.dtype == torch.float32 for p in features.parameters())  # the caller's module is untouched


def test_generator_totals_eq9_and_eq11():
    values = {"perceptual": 0.7, "gan": 0.3, "map": 0.2, "attention": 0.11, "pixel": 0.05}
    weights = {"perceptual": 1.0, "gan": 5e-3, "map": 5e-3, "attention": 1e-2, "pixel": 1e-2}
    terms = {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
    eq9 = 0.7 + 5e-3 * 0.3 + 5e-3 * 0.2 + 1e-2 * 0.11 + 1e-2 * 0.05
    assert losses.weighted_total(terms, weights).item() == pytest.approx(eq9, rel=1e-12)
    fs_terms = {k: terms[k] for k in ("perceptual", "gan", "pixel")}
    eq11 = 0.7 + 5e-3 * 0.3 + 1e-2 * 0.05
    assert losses.weighted_total(fs_terms, weights).item() == pytest.approx(eq11, rel=1e-12)


@pytest.mark.parametrize("layer, arch, asset, last_conv", [
    ("vgg19_conv5_4", "vgg19", "vgg19", 34), ("vgg16_conv5_3", "vgg16", "vgg16-features", 28)])
def test_perceptual_layers_stop_before_relu(layer, arch, asset, last_conv, tmp_path, monkeypatch):
    from srrepro.models.backbones import VGGFeatures

    weights = tmp_path / "weights.pt"
    weights.touch()
    (tmp_path / "weights.pt.provenance.json").write_text('{"name": "%s", "source": "test"}' % asset)
    requested = []
    monkeypatch.setattr(losses.assets, "fetch_with_options", lambda name, options: requested.append(name) or weights)
    monkeypatch.setattr(losses.backbones, "vgg_features", lambda name, path: VGGFeatures(name))
    features, provenance = losses.perceptual_features(layer, {"cache_dir": tmp_path})
    full = VGGFeatures(arch).features
    assert requested == [asset] and len(features) == last_conv + 1
    assert isinstance(features[-1], nn.Conv2d) and features[-1].out_channels == 512
    assert isinstance(full[last_conv + 1], nn.ReLU) and sum(isinstance(m, nn.MaxPool2d) for m in features) == 4
    assert provenance == {"layer": layer, "name": asset, "source": "test"}


@pytest.mark.parametrize("layer, arch, last_conv", [("vgg19_relu5_4", "vgg19", 34), ("vgg16_relu5_3", "vgg16", 28)])
def test_post_relu_layers_end_with_the_relu_of_the_last_conv(layer, arch, last_conv, tmp_path, monkeypatch):
    from srrepro.models.backbones import VGGFeatures

    weights = tmp_path / "weights.pt"
    weights.touch()
    monkeypatch.setattr(losses.assets, "fetch_with_options", lambda name, options: weights)
    monkeypatch.setattr(losses.backbones, "vgg_features", lambda name, path: VGGFeatures(name))
    features, _ = losses.perceptual_features(layer, {"cache_dir": tmp_path})
    assert len(features) == last_conv + 2 and isinstance(features[-1], nn.ReLU)
    assert isinstance(features[-2], nn.Conv2d) and features[-2].out_channels == 512
    assert len(VGGFeatures(arch).features) > last_conv + 2  # the block's max-pool is left out


@pytest.mark.parametrize("criterion, power", [("mse", 2), ("l1", 1)])
def test_perceptual_scale_multiplies_the_features_before_the_criterion(criterion, power):
    conv = nn.Conv2d(3, 2, 1).double()
    weight, bias = conv.weight.detach().numpy()[:, :, 0, 0], conv.bias.detach().numpy().reshape(1, 2, 1, 1)
    mean = np.float32([0.485, 0.456, 0.406]).astype(np.float64).reshape(1, 3, 1, 1)
    std = np.float32([0.229, 0.224, 0.225]).astype(np.float64).reshape(1, 3, 1, 1)

    def features(x):
        return np.einsum("oc,bchw->bohw", weight, (x - mean) / std) + bias

    scale = 1 / 12.75  # Ledig et al.
    diff = np.abs(features(SR) * scale - features(HR) * scale)
    plain = losses.PerceptualLoss(conv, criterion).double()(t(SR), t(HR)).item()
    scaled = losses.PerceptualLoss(conv, criterion, scale=scale).double()(t(SR), t(HR)).item()
    assert scaled == pytest.approx(float(np.mean(diff ** power)), rel=1e-10)
    assert scaled == pytest.approx(plain * scale ** power, rel=1e-10)

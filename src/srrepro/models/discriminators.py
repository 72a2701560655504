"""Discriminators: ESRGAN-style VGG (128 / 192 inputs) and the FASRGAN UNet with a per-pixel map (facts §3, §4)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.models.registry import register_model


def kaiming_init(module: nn.Module) -> None:
    """Kaiming-normal ×1 on conv/linear weights with zero biases; BatchNorm weight 1, bias 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, a=0, mode="fan_in")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


def check_size(x: torch.Tensor, size: int, name: str) -> None:
    """Raise ValueError unless ``x`` is a batch of ``size``x``size`` images."""
    if x.dim() != 4 or x.shape[-2:] != (size, size):
        raise ValueError(f"{name} expects input of shape (B, C, {size}, {size}), got {tuple(x.shape)}")


class VGGDiscriminator(nn.Module):
    """VGG-style discriminator: pairs of (conv3x3 s1, conv4x4 s2) → flatten → Linear(·,100) → LReLU → Linear(100,1).

    Channel multipliers 1,2,4,8,8,8 (first ``stages`` of them); BatchNorm + LeakyReLU(0.2) after every conv
    but the first. ``stages`` = 5 is ESRGAN's 128 discriminator, 6 the Fs-SRGAN 192 one. Returns raw logits (B, 1).
    """

    _MULTIPLIERS = (1, 2, 4, 8, 8, 8)

    def __init__(self, in_nc: int = 3, nf: int = 64, input_size: int = 128, stages: int = 5):
        super().__init__()
        if not 1 <= stages <= len(self._MULTIPLIERS):
            raise ValueError(f"stages must be in 1..{len(self._MULTIPLIERS)}, got {stages}")
        if input_size % 2**stages:
            raise ValueError(f"input_size {input_size} must be divisible by {2**stages} for {stages} stages")
        self.input_size = input_size
        layers: list[nn.Module] = []
        prev = in_nc
        for stage, mult in enumerate(self._MULTIPLIERS[:stages]):
            ch = nf * mult
            if stage == 0:
                layers += [nn.Conv2d(prev, ch, 3, 1, 1), nn.LeakyReLU(0.2, True)]
            else:
                layers += [nn.Conv2d(prev, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.LeakyReLU(0.2, True)]
            layers += [nn.Conv2d(ch, ch, 4, 2, 1, bias=False), nn.BatchNorm2d(ch), nn.LeakyReLU(0.2, True)]
            prev = ch
        self.features = nn.Sequential(*layers)
        side = input_size // 2**stages
        self.classifier = nn.Sequential(nn.Linear(prev * side * side, 100), nn.LeakyReLU(0.2, True), nn.Linear(100, 1))
        kaiming_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x, self.input_size, type(self).__name__)
        return self.classifier(self.features(x).flatten(1))


class UNetBlock(nn.Sequential):
    """conv3x3 → BN → ReLU → conv3x3 → BN → ReLU. ``bn_eps_quirk`` gives the first BN eps = channel count."""

    def __init__(self, in_nc: int, out_nc: int, bn_eps_quirk: bool = False):
        super().__init__(
            nn.Conv2d(in_nc, out_nc, 3, 1, 1), nn.BatchNorm2d(out_nc, eps=float(out_nc) if bn_eps_quirk else 1e-5),
            nn.ReLU(True),
            nn.Conv2d(out_nc, out_nc, 3, 1, 1), nn.BatchNorm2d(out_nc), nn.ReLU(True),
        )


class UNetDiscriminator(nn.Module):
    """FASRGAN UNet discriminator: returns (global logit (B,1), per-pixel logit map (B, map_nc, H, W)).

    Encoder nf, 2nf, 4nf, 4nf with max-pooling (input_size/8 at the bottom); the global head flattens the
    bottom map into Linear(·, fc_nc) → LReLU 0.2 → Linear(fc_nc, 1). Decoder: bilinear x2 (align_corners=True),
    concatenation with the encoder map of the same size, same block; 1x1 conv head to ``map_nc`` raw logits.
    """

    def __init__(self, in_nc: int = 3, nf: int = 64, input_size: int = 128, map_nc: int = 3, fc_nc: int = 1024,
                 bn_eps_quirk: bool = False):
        super().__init__()
        if input_size % 8:
            raise ValueError(f"input_size must be a multiple of 8, got {input_size}")
        self.input_size = input_size
        self.enc1 = UNetBlock(in_nc, nf, bn_eps_quirk)
        self.enc2 = UNetBlock(nf, 2 * nf, bn_eps_quirk)
        self.enc3 = UNetBlock(2 * nf, 4 * nf, bn_eps_quirk)
        self.enc4 = UNetBlock(4 * nf, 4 * nf, bn_eps_quirk)
        side = input_size // 8
        self.score = nn.Sequential(nn.Linear(4 * nf * side * side, fc_nc), nn.LeakyReLU(0.2, True), nn.Linear(fc_nc, 1))
        self.dec3 = UNetBlock(8 * nf, 2 * nf, bn_eps_quirk)
        self.dec2 = UNetBlock(4 * nf, nf, bn_eps_quirk)
        self.dec1 = UNetBlock(2 * nf, nf, bn_eps_quirk)
        self.map_head = nn.Conv2d(nf, map_nc, 1)
        kaiming_init(self)

    @staticmethod
    def _up_cat(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True), skip], 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_size(x, self.input_size, type(self).__name__)
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        e4 = self.enc4(F.max_pool2d(e3, 2))
        score = self.score(e4.flatten(1))
        d3 = self.dec3(self._up_cat(e4, e3))
        d2 = self.dec2(self._up_cat(d3, e2))
        d1 = self.dec1(self._up_cat(d2, e1))
        return score, self.map_head(d1)


@register_model("vgg128")
def build_vgg128(in_nc: int = 3, nf: int = 64, input_size: int = 128) -> VGGDiscriminator:
    """ESRGAN's VGG discriminator (five stages, 128x128 input at paper scale)."""
    return VGGDiscriminator(in_nc, nf, input_size, stages=5)


@register_model("vgg192")
def build_vgg192(in_nc: int = 3, nf: int = 64, input_size: int = 192, stages: int = 6) -> VGGDiscriminator:
    """Six-stage VGG discriminator (192x192 input; Fs-SRGAN uses it with in_nc=64 on shared features).

    ``stages`` < 6 drops the last stride-2 stages, so tiny demo patches (e.g. 32 px with 5 stages) fit.
    """
    return VGGDiscriminator(in_nc, nf, input_size, stages=stages)


@register_model("unet_fa")
def build_unet_fa(in_nc: int = 3, nf: int = 64, input_size: int = 128, map_nc: int = 3, fc_nc: int = 1024,
                  bn_eps_quirk: bool = False) -> UNetDiscriminator:
    """FASRGAN UNet discriminator; ``bn_eps_quirk=True`` reproduces the official BatchNorm-eps bug."""
    return UNetDiscriminator(in_nc, nf, input_size, map_nc, fc_nc, bn_eps_quirk)

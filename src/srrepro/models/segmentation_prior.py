"""Segmentation priors of the SPSA layer: SFTGAN's OutdoorSceneSeg network and a cheap colour-based substitute.

Both map an RGB image in [0, 1] to (B, 8, H, W) class probabilities in OutdoorSceneSeg's class order:
0 background, 1 sky, 2 water, 3 grass, 4 mountain, 5 building, 6 plant, 7 animal.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.models.registry import register_model

N_CLASSES = 8  # OutdoorSceneSeg classes


class ColourPrior(nn.Module):
    """Cheap offline substitute for OutdoorSceneSeg: softmax over −‖rgb − prototype‖² / τ with fixed class colours.

    Classes follow OutdoorSceneSeg's order; the prototypes are rough typical colours (background grey, sky light blue,
    water dark blue, grass green, mountain brown-grey, building grey-beige, plant dark green, animal brown).
    Input RGB in [0, 1]; output (B, 8, H, W) probabilities. Not a segmentation model: a smooth colour prior.
    """

    PROTOTYPES = ((0.5, 0.5, 0.5), (0.55, 0.75, 0.95), (0.15, 0.3, 0.45), (0.35, 0.6, 0.2), (0.45, 0.4, 0.35),
                  (0.65, 0.6, 0.55), (0.15, 0.3, 0.1), (0.5, 0.35, 0.2))

    def __init__(self, temperature: float = 0.02):
        super().__init__()
        self.temperature = temperature
        self.register_buffer("prototypes", torch.tensor(self.PROTOTYPES).view(N_CLASSES, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        dist = ((rgb.unsqueeze(1) - self.prototypes.to(rgb.dtype)) ** 2).sum(2)  # (B, 8, H, W)
        return torch.softmax(-dist / self.temperature, 1)


def _conv_bn(in_nc: int, out_nc: int, kernel: int, stride: int = 1, dilation: int = 1, relu: bool = True) -> list[nn.Module]:
    layers = [nn.Conv2d(in_nc, out_nc, kernel, stride, dilation * (kernel - 1) // 2, dilation, bias=False),
              nn.BatchNorm2d(out_nc)]
    return layers + [nn.ReLU(True)] if relu else layers


class Res131(nn.Module):
    """Bottleneck (1x1 → 3x3 dilated/strided → 1x1, BN each) with an optional projection shortcut; ReLU after the sum."""

    def __init__(self, in_nc: int, mid_nc: int, out_nc: int, dilation: int = 1, stride: int = 1):
        super().__init__()
        self.res = nn.Sequential(*_conv_bn(in_nc, mid_nc, 1), *_conv_bn(mid_nc, mid_nc, 3, stride, dilation),
                                 *_conv_bn(mid_nc, out_nc, 1, relu=False))
        self.proj = nn.Sequential(*_conv_bn(in_nc, out_nc, 1, stride, relu=False)) if in_nc != out_nc else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return F.relu(shortcut + self.res(x))


class OutdoorSceneSeg(nn.Module):
    """SFTGAN's segmentation network (architecture only; weights ``segmentation_OST_bic.pth`` are an external asset).

    DeepLab-style ResNet-101 with BatchNorm, dilations 2/4, 8 classes, grouped transposed conv x8, softmax. Layer
    order and names follow the original flat ``feature`` sequence so its state dict loads. Input: BGR on 0..255 minus
    the ImageNet means.
    """

    def __init__(self):
        super().__init__()
        layers = [*_conv_bn(3, 64, 3, 2), *_conv_bn(64, 64, 3), *_conv_bn(64, 128, 3),
                  nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)]
        layers += [Res131(128, 64, 256)] + [Res131(256, 64, 256) for _ in range(2)]
        layers += [Res131(256, 128, 512, 1, 2)] + [Res131(512, 128, 512) for _ in range(3)]
        layers += [Res131(512, 256, 1024, 2)] + [Res131(1024, 256, 1024, 2) for _ in range(22)]
        layers += [Res131(1024, 512, 2048, 4)] + [Res131(2048, 512, 2048, 4) for _ in range(2)]
        layers += [*_conv_bn(2048, 512, 3), nn.Dropout(0.1), nn.Conv2d(512, N_CLASSES, 1)]
        self.feature = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(N_CLASSES, N_CLASSES, 16, 8, 4, groups=N_CLASSES, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.deconv(self.feature(x)), 1)


class OutdoorScenePrior(nn.Module):
    """OutdoorSceneSeg applied to an RGB [0, 1] image; frozen and always in eval mode; output resized to the input."""

    MEAN_BGR = (103.939, 116.779, 123.68)

    def __init__(self):
        super().__init__()
        self.net = OutdoorSceneSeg()
        self.net.requires_grad_(False)
        self.register_buffer("mean_bgr", torch.tensor(self.MEAN_BGR).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> OutdoorScenePrior:
        return super().train(False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        probs = self.net(rgb.flip(1) * 255 - self.mean_bgr)
        if probs.shape[-2:] != rgb.shape[-2:]:
            probs = F.interpolate(probs, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        return probs


PRIORS = {"colour": ColourPrior, "ost": OutdoorScenePrior}


@register_model("outdoor_scene_seg")
def build_outdoor_scene_seg() -> OutdoorSceneSeg:
    """SFTGAN OutdoorSceneSeg (architecture only)."""
    return OutdoorSceneSeg()

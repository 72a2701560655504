"""SRGAN family (facts §10): Ledig's SRResNet and discriminator, the shared part of SRGAN_Fs (Table VI; the pair is
``fs_srresnet`` in :mod:`srrepro.models.feature_sharing`), and the leftthomas/SRGAN networks that Wu's attention
SRGAN builds on.

The SRResNet the authors ship (``SRResNet_bicx4_in3nf64nb16.pth``, BasicSR's "SRResNet with modification") is a
different network: no BatchNorm, ReLU, 3x3 first and last convs (:class:`SRResNetNoBN`, ``srresnet_nobn``).

SRGAN_Fs layout (the paper gives only "a conv and one residual block shared, 13 residual blocks in G" and 1.48 M
parameters): E = conv9x9 + PReLU → residual[1 block → conv3x3 + BN]; G = SRResNet on 64 channels with a 3x3 first
conv and 13 blocks. This mirrors the RRDB Fs design and gives 1,475,221 parameters (1.48 M); SRResNet has 1,549,462.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from srrepro.models.discriminators import check_size
from srrepro.models.registry import register_model
from srrepro.models.rrdbnet import scaled_kaiming_init


class ResidualBlockBN(nn.Module):
    """SRResNet block: conv3x3 → BN → PReLU → conv3x3 → BN, plus the input."""

    def __init__(self, nf: int = 64):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf), nn.PReLU(),
                                  nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """head conv + PReLU → residual[nb blocks → conv3x3 (+BN)] → log2(scale)×(conv → PixelShuffle 2 → PReLU) → conv9x9.

    ``block`` builds one residual block from the width; ``tanh_output`` maps the output through (tanh + 1) / 2
    (leftthomas/SRGAN), otherwise it is linear (Ledig).
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 16, scale: int = 4,
                 block: Callable[[int], nn.Module] = ResidualBlockBN, tail_norm: bool = True, head_kernel: int = 9,
                 tanh_output: bool = False):
        super().__init__()
        if scale not in (1, 2, 4, 8):
            raise ValueError(f"SRResNet scale must be 1, 2, 4 or 8, got {scale}")
        self.scale = scale
        self.tanh_output = tanh_output
        self.head = nn.Sequential(nn.Conv2d(in_nc, nf, head_kernel, 1, head_kernel // 2), nn.PReLU())
        self.body = nn.Sequential(*(block(nf) for _ in range(nb)))
        self.tail = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), *([nn.BatchNorm2d(nf)] if tail_norm else []))
        self.upsample = nn.Sequential(*(layer for _ in range(scale.bit_length() - 1) for layer in
                                        (nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU())))
        self.conv_last = nn.Conv2d(nf, out_nc, 9, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        out = self.conv_last(self.upsample(h + self.tail(self.body(h))))
        return (torch.tanh(out) + 1) / 2 if self.tanh_output else out


class SRGANExtractor(nn.Module):
    """SRGAN_Fs shared part: conv9x9 + PReLU → residual[nb blocks → conv3x3 + BN]."""

    def __init__(self, in_nc: int = 3, nf: int = 64, nb: int = 1):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(in_nc, nf, 9, 1, 4), nn.PReLU())
        self.body = nn.Sequential(*(ResidualBlockBN(nf) for _ in range(nb)))
        self.tail = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return h + self.tail(self.body(h))


class ResidualBlockNoBN(nn.Module):
    """BasicSR's ResNetBlock without normalisation: conv3x3 → ReLU → conv3x3, plus the input."""

    def __init__(self, nf: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


class ResidualTrunk(nn.Module):
    """``blocks`` followed by a 3x3 conv, wrapped in a long skip connection."""

    def __init__(self, blocks: nn.Sequential, nf: int = 64):
        super().__init__()
        self.blocks = blocks
        self.conv = nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.blocks(x))


class SRResNetNoBN(nn.Module):
    """BasicSR's old ``sr_resnet`` with ``norm_type`` null, the network of the released
    ``SRResNet_bicx4_in3nf64nb16.pth`` (refs §2): conv3x3 → residual[nb × (conv → ReLU → conv, plus input) → conv3x3]
    → log2(scale) × (conv nf→4nf → PixelShuffle 2 → ReLU) → conv3x3 → ReLU → conv3x3; linear output.

    Attribute names follow RRDBNet (``conv_first``, ``trunk``, ``upconvs``, ``conv_hr``, ``conv_last``) so the official
    key map of :mod:`srrepro.models.checkpoints` covers both. BasicSR initialises it with Kaiming × 0.1.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 16, scale: int = 4):
        super().__init__()
        if scale not in (1, 2, 4, 8):
            raise ValueError(f"SRResNetNoBN scale must be 1, 2, 4 or 8, got {scale}")
        self.scale = scale
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1)
        self.trunk = ResidualTrunk(nn.Sequential(*(ResidualBlockNoBN(nf) for _ in range(nb))), nf)
        self.upconvs = nn.ModuleList(nn.Conv2d(nf, 4 * nf, 3, 1, 1) for _ in range(scale.bit_length() - 1))
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_nc, 3, 1, 1)
        scaled_kaiming_init(self, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.trunk(self.conv_first(x))
        for conv in self.upconvs:
            fea = torch.relu(nn.functional.pixel_shuffle(conv(fea), 2))
        return self.conv_last(torch.relu(self.conv_hr(fea)))


def srgan_conv_features(in_nc: int, nf: int) -> nn.Sequential:
    """The eight convs of the SRGAN discriminator: widths nf,nf,2nf,2nf,4nf,4nf,8nf,8nf, stride 2 every second;
    BatchNorm on all but the first; LeakyReLU 0.2."""
    layers: list[nn.Module] = [nn.Conv2d(in_nc, nf, 3, 1, 1), nn.LeakyReLU(0.2, True)]
    prev = nf
    for i, mult in enumerate((1, 2, 2, 4, 4, 8, 8)):
        stride = 2 if i % 2 == 0 else 1
        layers += [nn.Conv2d(prev, nf * mult, 3, stride, 1), nn.BatchNorm2d(nf * mult), nn.LeakyReLU(0.2, True)]
        prev = nf * mult
    return nn.Sequential(*layers)


class SRGANDiscriminator(nn.Module):
    """Ledig's discriminator: eight convs → flatten → Dense(1024) → LReLU → Dense(1); raw logits (B, 1).

    Fixed input size (96 in the paper; a multiple of 16).
    """

    def __init__(self, in_nc: int = 3, nf: int = 64, input_size: int = 96):
        super().__init__()
        if input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16, got {input_size}")
        self.input_size = input_size
        self.features = srgan_conv_features(in_nc, nf)
        side = input_size // 16
        self.classifier = nn.Sequential(nn.Linear(8 * nf * side * side, 1024), nn.LeakyReLU(0.2, True), nn.Linear(1024, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x, self.input_size, type(self).__name__)
        return self.classifier(self.features(x).flatten(1))


class LeftthomasDiscriminator(nn.Module):
    """leftthomas/SRGAN discriminator: eight convs → adaptive average pool → 1x1 conv 8nf→16nf → LReLU → 1x1 → sigmoid.

    Any input size; returns probabilities of shape (B,).
    """

    def __init__(self, in_nc: int = 3, nf: int = 64):
        super().__init__()
        self.features = srgan_conv_features(in_nc, nf)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(8 * nf, 16 * nf, 1), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(16 * nf, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(x)).flatten())


@register_model("srresnet")
def build_srresnet(nf: int = 64, nb: int = 16, scale: int = 4) -> SRResNet:
    """Ledig's SRResNet (16 BN residual blocks, linear output); the SRGAN and SRGAN_FA generator."""
    return SRResNet(3, 3, nf, nb, scale)


@register_model("srresnet_nobn")
def build_srresnet_nobn(in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 16, scale: int = 4) -> SRResNetNoBN:
    """BasicSR's SRResNet without BatchNorm (the authors' released SRResNet_bicx4_in3nf64nb16.pth; 1,554,499
    parameters at the defaults)."""
    return SRResNetNoBN(in_nc, out_nc, nf, nb, scale)


@register_model("srgan_d")
def build_srgan_d(in_nc: int = 3, nf: int = 64, input_size: int = 96) -> SRGANDiscriminator:
    """Ledig's SRGAN discriminator."""
    return SRGANDiscriminator(in_nc, nf, input_size)


@register_model("srgan_leftthomas_g")
def build_srgan_leftthomas_g(nf: int = 64, nb: int = 5, scale: int = 4) -> SRResNet:
    """leftthomas/SRGAN generator: 9x9 head, nb BN residual blocks, output (tanh + 1) / 2."""
    return SRResNet(3, 3, nf, nb, scale, tanh_output=True)


@register_model("srgan_leftthomas_d")
def build_srgan_leftthomas_d(in_nc: int = 3, nf: int = 64) -> LeftthomasDiscriminator:
    """leftthomas/SRGAN discriminator (sigmoid output)."""
    return LeftthomasDiscriminator(in_nc, nf)

"""Wu's attention SRGAN generator (facts §10): the leftthomas/SRGAN generator with BatchNorm removed and each
residual block replaced by three convs with GroupNorm followed by RCAN channel attention.

The paper leaves open the activation inside the block, the GroupNorm group count and the block count; here the block is
conv → GN → PReLU → conv → GN → PReLU → conv → GN → channel attention, plus the input (``groups`` = 8, ``nb`` = 5
as in leftthomas/SRGAN), and the trunk's closing conv has no normalisation. Pair it with ``srgan_leftthomas_d``.
"""

from __future__ import annotations

import torch
from torch import nn

from srrepro.models.registry import register_model
from srrepro.models.srgan import SRResNet


class ChannelAttention(nn.Module):
    """RCAN channel attention: global average pool → 1x1 C→C/r → ReLU → 1x1 C/r→C → sigmoid → rescale."""

    def __init__(self, nf: int = 64, reduction: int = 16):
        super().__init__()
        hidden = max(1, nf // reduction)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(nf, hidden, 1), nn.ReLU(True),
                                  nn.Conv2d(hidden, nf, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class AttentionResidualBlock(nn.Module):
    """Three conv3x3 + GroupNorm layers (PReLU after the first two), channel attention, residual connection."""

    def __init__(self, nf: int = 64, groups: int = 8, reduction: int = 16):
        super().__init__()
        if nf % groups:
            raise ValueError(f"width {nf} is not divisible by {groups} GroupNorm groups")
        self.body = nn.Sequential(
            nn.Conv2d(nf, nf, 3, 1, 1), nn.GroupNorm(groups, nf), nn.PReLU(),
            nn.Conv2d(nf, nf, 3, 1, 1), nn.GroupNorm(groups, nf), nn.PReLU(),
            nn.Conv2d(nf, nf, 3, 1, 1), nn.GroupNorm(groups, nf),
            ChannelAttention(nf, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_model("attention_srgan")
def build_attention_srgan(nf: int = 64, nb: int = 5, scale: int = 4, groups: int = 8, reduction: int = 16) -> SRResNet:
    """Wu's generator: no BatchNorm, attention residual blocks, output (tanh + 1) / 2."""
    return SRResNet(3, 3, nf, nb, scale, block=lambda width: AttentionResidualBlock(width, groups, reduction),
                    tail_norm=False, tanh_output=True)

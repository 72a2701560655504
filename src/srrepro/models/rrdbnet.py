"""ESRGAN's RRDBNet generator (implementation-facts §2), also the trunk of Fs-SRGAN."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.models.registry import register_model


def scaled_kaiming_init(module: nn.Module, scale: float = 0.1) -> None:
    """Kaiming-normal (fan_in) init of every conv/linear weight, multiplied by ``scale``; biases zero."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, a=0, mode="fan_in")
            layer.weight.data.mul_(scale)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs (growth ``gc``); output·0.2 + input."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(nf + i * gc, gc, 3, 1, 1) for i in range(4))
        self.conv_out = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs x_1..x_5 of the five layers (x_5 before the residual scaling)."""
        features = [x]
        for conv in self.convs:
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2, inplace=True))
        return features[1:] + [self.conv_out(torch.cat(features, 1))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, self.layer_outputs(x)[-1], alpha=0.2)  # one fused kernel for x + 0.2·x_5


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, output·0.2 + input."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(nf, gc)
        self.rdb2 = ResidualDenseBlock(nf, gc)
        self.rdb3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, self.rdb3(self.rdb2(self.rdb1(x))), alpha=0.2)


class RRDBTrunk(nn.Module):
    """``nb`` RRDBs followed by a 3x3 conv, wrapped in a long skip connection."""

    def __init__(self, nf: int = 64, nb: int = 23, gc: int = 32):
        super().__init__()
        self.blocks = nn.Sequential(*(RRDB(nf, gc) for _ in range(nb)))
        self.conv = nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.blocks(x))


class RRDBNet(nn.Module):
    """conv → residual[nb×RRDB → conv] → log2(scale)×(nearest x2 → conv → LReLU) → conv → LReLU → conv.

    ``in_nc`` is 64 for the Fs-SRGAN generator trunk (its input is the shared features). Output is not clamped.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4,
                 init_scale: float = 0.1):
        super().__init__()
        if scale not in (1, 2, 4, 8):
            raise ValueError(f"RRDBNet scale must be 1, 2, 4 or 8, got {scale}")
        self.scale = scale
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1)
        self.trunk = RRDBTrunk(nf, nb, gc)
        self.upconvs = nn.ModuleList(nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(scale.bit_length() - 1))
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_nc, 3, 1, 1)
        scaled_kaiming_init(self, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.trunk(self.conv_first(x))
        for conv in self.upconvs:
            fea = F.leaky_relu(conv(F.interpolate(fea, scale_factor=2, mode="nearest")), 0.2, inplace=True)
        return self.conv_last(F.leaky_relu(self.conv_hr(fea), 0.2, inplace=True))


@register_model("rrdbnet")
def build_rrdbnet(in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4,
                  init_scale: float = 0.1) -> RRDBNet:
    """ESRGAN generator; defaults are the paper scale (16.70 M parameters)."""
    return RRDBNet(in_nc, out_nc, nf, nb, gc, scale, init_scale)

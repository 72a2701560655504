"""Fs-SRGAN and FA+Fs-SRGAN: a low-level extractor E shared by the generator trunk G and the discriminator D (facts §4).

The pairs are :class:`~srrepro.models.pairs.GANPair` with a :class:`SharedExtractor` as E.

Parameter count as the paper reports it ("17 RRDBs, 12.46 M"): E (conv 3→64, E RRDBs, conv) plus the generator
trunk G (RRDBNet with a 64→64 first conv, G RRDBs, trunk conv, upsampling and output convs), discriminator excluded:
758,144 + 11,697,155 = 12,455,299 for E1G16 — the same total for any split with E + G = 17.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from srrepro.models.discriminators import build_unet_fa, build_vgg192
from srrepro.models.pairs import GANPair
from srrepro.models.registry import register_model
from srrepro.models.rrdbnet import RRDBNet, RRDBTrunk, scaled_kaiming_init
from srrepro.models.srgan import SRGANDiscriminator, SRGANExtractor, SRResNet


class SharedExtractor(nn.Module):
    """conv3x3(in_nc→nf) → residual[nb × RRDB → conv3x3]; fully convolutional, size-preserving.

    Attribute names mirror RRDBNet (``conv_first``, ``trunk``) so the official key map applies to both.
    """

    def __init__(self, in_nc: int = 3, nf: int = 64, nb: int = 1, gc: int = 32):
        super().__init__()
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1)
        self.trunk = RRDBTrunk(nf, nb, gc)
        scaled_kaiming_init(self, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.conv_first(x))


def parse_split(split: str) -> tuple[int, int]:
    """'E1G16' → (1, 16): RRDBs in the shared extractor and in the generator trunk."""
    match = re.fullmatch(r"E(\d+)G(\d+)", split)
    if not match or int(match[1]) < 1:
        raise ValueError(f"split must look like 'E1G16' (E ≥ 1), got {split!r}")
    return int(match[1]), int(match[2])


@register_model("fs_extractor")
def build_fs_extractor(in_nc: int = 3, nf: int = 64, nb: int = 1, gc: int = 32) -> SharedExtractor:
    """Shared extractor E (matches the released FsSRGAN_E.pth at the defaults)."""
    return SharedExtractor(in_nc, nf, nb, gc)


@register_model("fs_generator_trunk")
def build_fs_generator_trunk(nf: int = 64, nb: int = 16, gc: int = 32, out_nc: int = 3, scale: int = 4) -> RRDBNet:
    """Generator trunk G: RRDBNet taking the nf-channel shared features."""
    return RRDBNet(nf, out_nc, nf, nb, gc, scale)


@register_model("fs_rrdbnet_vgg")
def build_fs_rrdbnet_vgg(split: str = "E1G16", nf: int = 64, gc: int = 32, scale: int = 4, d_nf: int = 64,
                   d_input_size: int = 192, d_stages: int = 6, shared: bool = True) -> GANPair:
    """Fs-SRGAN's networks: E + G and the six-stage VGG discriminator on nf-channel features (``d_stages`` < 6: demo patches).

    ``shared=False`` is Table IV's "Fs-SRGAN w/o Fs": D gets its own extractor E_D of E's architecture (fresh
    weights), so G and D share nothing; the networks are otherwise those of Fs-SRGAN."""
    n_shared, n_trunk = parse_split(split)
    return GANPair(build_fs_extractor(3, nf, n_shared, gc), build_fs_generator_trunk(nf, n_trunk, gc, 3, scale),
                   build_vgg192(nf, d_nf, d_input_size, d_stages),
                   None if shared else build_fs_extractor(3, nf, n_shared, gc))


@register_model("fs_rrdbnet_unet")
def build_fs_rrdbnet_unet(split: str = "E2G15", nf: int = 64, gc: int = 32, scale: int = 4, d_nf: int = 64,
                      d_input_size: int = 128, bn_eps_quirk: bool = False) -> GANPair:
    """FA+Fs-SRGAN's networks: E + G and the UNet discriminator on nf-channel features (3-channel map)."""
    n_shared, n_trunk = parse_split(split)
    return GANPair(build_fs_extractor(3, nf, n_shared, gc), build_fs_generator_trunk(nf, n_trunk, gc, 3, scale),
                             build_unet_fa(nf, d_nf, d_input_size, bn_eps_quirk=bn_eps_quirk))


@register_model("fs_srresnet")
def build_fs_srresnet(nf: int = 64, shared_blocks: int = 1, nb: int = 13, scale: int = 4, d_nf: int = 64,
                   d_input_size: int = 96) -> GANPair:
    """SRGAN_Fs's networks: a conv and one residual block shared; 13 blocks in G; SRGAN discriminator on nf-channel features."""
    return GANPair(SRGANExtractor(3, nf, shared_blocks), SRResNet(nf, 3, nf, nb, scale, head_kernel=3),
                             SRGANDiscriminator(nf, d_nf, d_input_size))


@register_model("fs_rrdb_generator")
def build_fs_rrdb_generator(split: str = "E1G16", nf: int = 64, gc: int = 32, scale: int = 4) -> GANPair:
    """E + G of Fs-SRGAN / FA+Fs-SRGAN without a discriminator (``nn.Identity``): SR = G(E(LR)). The form of the
    authors' released E+G pairs; its keys (``extractor.*``, ``generator_trunk.*``) initialise either pair."""
    n_shared, n_trunk = parse_split(split)
    return GANPair(build_fs_extractor(3, nf, n_shared, gc), build_fs_generator_trunk(nf, n_trunk, gc, 3, scale),
                   nn.Identity())

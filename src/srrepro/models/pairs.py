"""Generator/discriminator pairs trained together: :class:`GANPair` and the plain pairs of the FA papers.

A pair holds an extractor E, a generator trunk G and a discriminator D: SR = G(E(LR)), and D judges E(img).
With ``nn.Identity()`` as E nothing is shared (FASRGAN, SRGAN_FA); the feature-sharing pairs of Fs-SRGAN are in
:mod:`srrepro.models.feature_sharing`. A pair may instead give D its own extractor E_D of E's architecture
(``discriminator_extractor``): SR = G(E(LR)) and D judges E_D(img), sharing nothing (Fs-SRGAN w/o Fs). ``forward`` generates, so a pair can be passed wherever a generator is expected,
and a pair's model file holds its discriminator too.
"""

from __future__ import annotations

import torch
from torch import nn

from srrepro.models.discriminators import build_unet_fa
from srrepro.models.registry import register_model
from srrepro.models.rrdbnet import RRDBNet
from srrepro.models.srgan import SRResNet


DISCRIMINATOR_PREFIXES = ("discriminator.", "discriminator_extractor.")  # state-dict keys of D and its own E_D


class GANPair(nn.Module):
    """Extractor E, generator trunk G and discriminator D: SR = G(E(LR)), D(E(img)) — or D(E_D(img)) with a
    ``discriminator_extractor`` E_D of D's own."""

    def __init__(self, extractor: nn.Module, generator_trunk: nn.Module, discriminator: nn.Module,
                 discriminator_extractor: nn.Module | None = None):
        super().__init__()
        self.extractor = extractor
        self.generator_trunk = generator_trunk
        self.discriminator = discriminator
        if discriminator_extractor is not None:
            self.discriminator_extractor = discriminator_extractor

    @property
    def shared(self) -> bool:
        """Whether D sees the generator's extractor E (feature sharing, or no extractor at all)."""
        return "discriminator_extractor" not in self._modules

    @property
    def d_extractor(self) -> nn.Module:
        """The extractor in front of D: E when shared, else E_D."""
        return self.extractor if self.shared else self.discriminator_extractor

    def generate(self, lr: torch.Tensor) -> torch.Tensor:
        """Super-resolve ``lr``: G(E(lr))."""
        return self.generator_trunk(self.extractor(lr))

    def discriminate(self, img: torch.Tensor):
        """Discriminator output(s) on an HR-sized image: D(E(img)), or D(E_D(img)) when not shared."""
        return self.discriminator(self.d_extractor(img))

    def generator_parameters(self) -> list[nn.Parameter]:
        """Parameters of E and G (what the papers count as the generator)."""
        return [*self.extractor.parameters(), *self.generator_trunk.parameters()]

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.generate(lr)


def generator_parameter_count(model: nn.Module) -> int:
    """Parameters of a generator as the papers count them: E + G of a pair (discriminator excluded), else all."""
    params = model.generator_parameters() if isinstance(model, GANPair) else model.parameters()
    return sum(p.numel() for p in params)


@register_model("rrdbnet_unet")
def build_rrdbnet_unet(nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4, d_nf: int = 64,
                       d_input_size: int = 128, bn_eps_quirk: bool = False) -> GANPair:
    """FASRGAN's networks: RRDBNet generator and the UNet discriminator (global score + fine-grained map) on RGB."""
    return GANPair(nn.Identity(), RRDBNet(3, 3, nf, nb, gc, scale),
                   build_unet_fa(3, d_nf, d_input_size, bn_eps_quirk=bn_eps_quirk))


@register_model("srresnet_unet")
def build_srresnet_unet(nf: int = 64, nb: int = 16, scale: int = 4, d_nf: int = 64, d_input_size: int = 128) -> GANPair:
    """SRGAN_FA's networks: SRResNet generator and the FASRGAN UNet discriminator on RGB."""
    return GANPair(nn.Identity(), SRResNet(3, 3, nf, nb, scale), build_unet_fa(3, d_nf, d_input_size))

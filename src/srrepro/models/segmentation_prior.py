"""Segmentation priors of the SPSA layer: SFTGAN's OutdoorSceneSeg network and a cheap colour-based substitute.

Both map an RGB image in [0, 1] to (B, 8, H, W) class probabilities in OutdoorSceneSeg's class order:
0 background, 1 sky, 2 water, 3 grass, 4 mountain, 5 building, 6 plant, 7 animal.

A prior with pretrained weights names its asset (``asset``); :func:`attach_prior_weights` fetches and loads it into
the prior of a generator. Those weights are never trained and never stored in our model files: the generator keeps
its prior outside its parameters and state dict (see :class:`srrepro.models.spsagan.SPSAGenerator`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.data.assets import fetch_with_options
from srrepro.errors import CheckpointError
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

    asset = None  # no weights

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
    """OutdoorSceneSeg applied to an RGB [0, 1] image as SFTGAN's ``test_segmentation.py`` feeds it: BGR on 0..255
    minus the Caffe means, no clamping. Frozen and always in eval mode; output resized to the input when H or W is
    not a multiple of 8 (SFTGAN mod-crops to 8 instead).

    Its weights are the asset ``sftgan-seg`` (``segmentation_OST_bic.pth``), loaded by :meth:`load_weights`;
    running it before that raises, so a prior with random weights is never used by mistake.
    """

    MEAN_BGR = (103.939, 116.779, 123.68)
    asset = "sftgan-seg"

    def __init__(self):
        super().__init__()
        self.net = OutdoorSceneSeg()
        self.net.requires_grad_(False)
        self.register_buffer("mean_bgr", torch.tensor(self.MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.loaded_from: str | None = None
        self.eval()

    def train(self, mode: bool = True) -> OutdoorScenePrior:
        return super().train(False)

    def load_weights(self, path: str | os.PathLike) -> None:
        """Strictly load ``segmentation_OST_bic.pth`` (SFTGAN's key layout: ``feature.N…``, ``deconv.weight``)."""
        path = Path(path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types for corrupt or foreign files
            raise CheckpointError(f"'{path}' (asset '{self.asset}') is not a readable tensor-only torch file: "
                                  f"{type(err).__name__}: {str(err).strip()[:200]}") from err
        if not isinstance(state, dict):
            raise CheckpointError(f"'{path}' (asset '{self.asset}') holds a {type(state).__name__}, not a state dict")
        try:
            self.net.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise CheckpointError(f"'{path}' (asset '{self.asset}') does not match SFTGAN's OutdoorSceneSeg "
                                  f"key layout: {' '.join(str(err).split())[:300]}") from err
        self.loaded_from = str(path)

    def count_only(self) -> None:
        """Let the prior run with its random weights, for counting operations (the weights change no FLOP)."""
        self.loaded_from = "random weights: for counting operations only"

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        if self.loaded_from is None:
            raise RuntimeError(f"OutdoorScenePrior used before its weights (asset '{self.asset}') were loaded; "
                               "load them with srrepro.models.segmentation_prior.attach_prior_weights")
        probs = self.net(rgb.flip(1) * 255 - self.mean_bgr)
        if probs.shape[-2:] != rgb.shape[-2:]:
            probs = F.interpolate(probs, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        return probs


PRIORS = {"colour": ColourPrior, "ost": OutdoorScenePrior}


def attach_prior_weights(model: nn.Module, asset_options: dict | None = None) -> dict | None:
    """Load the asset weights of ``model``'s segmentation prior, if it has one that needs them; return their
    provenance (None when there is nothing to load).

    ``asset_options``: as for :func:`srrepro.data.assets.fetch_with_options` (``cache_dir``, ``local_paths``: asset
    name → file, config key ``assets.local.<name>``); without them the default asset cache (``$SRREPRO_ASSET_CACHE`` or
    ``.cache/assets``) is used. Raises :class:`~srrepro.errors.AssetUnavailable` naming the asset and its config key.
    """
    prior = getattr(model, "prior", None)
    if prior is None or prior.asset is None:
        return None
    path = Path(fetch_with_options(prior.asset, asset_options))
    prior.load_weights(path)
    sidecar = path.with_name(path.name + ".provenance.json")
    return json.loads(sidecar.read_text()) if sidecar.is_file() else {"name": prior.asset, "file": str(path)}


@register_model("outdoor_scene_seg")
def build_outdoor_scene_seg() -> OutdoorSceneSeg:
    """SFTGAN OutdoorSceneSeg (architecture only)."""
    return OutdoorSceneSeg()

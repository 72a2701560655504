"""ImageNet backbones written here with torchvision's state-dict key names, so torchvision weight files load strictly.

PyPI's torchvision is built against CUDA torch and does not import against the CPU torch without a workaround
(:mod:`srrepro.reference_libraries`), so the pipeline does not depend on it: the three networks it needs are
defined in plain torch, and ``tests/test_reference_libraries.py`` checks each against torchvision's own (same
keys and shapes, identical outputs for the same weights):

* :class:`AlexNetFeatures` — ``features.N`` of torchvision's AlexNet (conv at 0, 3, 6, 8, 10), LPIPS trunk;
* :class:`VGGFeatures` — ``features.N`` of VGG16 / VGG19 without batch norm (perceptual loss, LPIPS-vgg);
* :class:`ResNet50` — conv1, bn1, layer1..4 (bottlenecks, stride on the 3x3 conv, "v1.5"), fc: the layout of
  ``resnet50-0676ba61.pth`` (IMAGENET1K_V1).
"""

from __future__ import annotations

import os

import torch
from torch import nn

VGG_CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class AlexNetFeatures(nn.Module):
    """torchvision AlexNet ``features`` (13 modules); the ReLU outputs after each conv feed LPIPS."""

    RELU_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(3, 2),
        )

    def relu_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of relu1..relu5 (the LPIPS taps)."""
        outs = []
        for start, stop in self.RELU_SLICES:
            for layer in self.features[start:stop]:
                x = layer(x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class VGGFeatures(nn.Module):
    """torchvision VGG ``features`` for ``arch`` 'vgg16' or 'vgg19' (conv3x3 + ReLU, max-pool at 'M')."""

    def __init__(self, arch: str = "vgg19"):
        super().__init__()
        if arch not in VGG_CONFIGS:
            raise ValueError(f"unknown VGG '{arch}'; known: {', '.join(VGG_CONFIGS)}")
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG_CONFIGS[arch]:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class Bottleneck(nn.Module):
    """ResNet bottleneck: 1x1 → 3x3 (carries the stride) → 1x1 (x4 channels), BN after each, projection shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """ResNet-50 for ImageNet classification with torchvision's key names; returns logits (N, 1000)."""

    BLOCKS = (3, 4, 6, 3)

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        for index, (blocks, width) in enumerate(zip(self.BLOCKS, (64, 128, 256, 512)), start=1):
            stride = 1 if index == 1 else 2
            layers = []
            for block in range(blocks):
                layers.append(Bottleneck(channels, width, stride if block == 0 else 1))
                channels = width * Bottleneck.expansion
            setattr(self, f"layer{index}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def load_state_file(module: nn.Module, path: str | os.PathLike, keep_prefix: str | None = None) -> nn.Module:
    """Load a torch state-dict file into ``module`` strictly (weights only, CPU), return it in eval mode.

    ``keep_prefix`` (e.g. ``"features."``) drops other keys first, so a full torchvision checkpoint loads into a
    features-only module.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if keep_prefix is not None:
        state = {k: v for k, v in state.items() if k.startswith(keep_prefix)}
    module.load_state_dict(state, strict=True)
    return module.eval()


def alexnet_features(path: str | os.PathLike) -> AlexNetFeatures:
    """AlexNet features loaded from a state-dict file (``features.*`` keys; other keys are ignored)."""
    return load_state_file(AlexNetFeatures(), path, "features.")


def vgg_features(arch: str, path: str | os.PathLike) -> VGGFeatures:
    """VGG16/VGG19 features loaded from a state-dict file (``features.*`` keys; other keys are ignored)."""
    return load_state_file(VGGFeatures(arch), path, "features.")


def resnet50(path: str | os.PathLike) -> ResNet50:
    """ResNet-50 loaded strictly from a torchvision checkpoint such as ``resnet50-0676ba61.pth``."""
    return load_state_file(ResNet50(), path)

"""LPIPS (Zhang et al. 2018) with the AlexNet trunk, computed exactly as the ``lpips`` package does.

* input: whole RGB image mapped to [-1, 1] (``x / 127.5 - 1``), no crop;
* version 0.1 applies the ScalingLayer ``(x - shift) / scale`` with shift (-0.030, -0.088, -0.188) and
  scale (0.458, 0.448, 0.450); version 0.0 does not (the original release's bug, kept by the package);
* AlexNet relu1..relu5 features, each unit-normalised over channels (``f / (||f|| + 1e-10)``);
* squared difference, linear 1x1 head without bias (v0.0 or v0.1 weights), spatial mean, sum over the 5 layers.

The paper's protocol is version 0.0 (implementation facts §1). Weights come from :mod:`srrepro.data.assets`
(``alexnet-features``, ``lpips-alex-v0.0`` / ``lpips-alex-v0.1``); one network per version and weight files is
built per process.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from srrepro.data.assets import fetch_with_options
from srrepro.models.backbones import alexnet_features
from srrepro.errors import AssetUnavailable, MetricUnavailable
from srrepro.metrics.registry import register_metric

VERSIONS = ("0.0", "0.1")
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10


class LPIPSAlex(nn.Module):
    """LPIPS distance network; ``forward(x0, x1)`` takes (N, 3, H, W) tensors in [-1, 1] and returns (N,)."""

    def __init__(self, trunk: nn.Module, heads: list[torch.Tensor], version: str):
        super().__init__()
        if version not in VERSIONS:
            raise ValueError(f"LPIPS version must be one of {VERSIONS}, got {version!r}")
        self.trunk = trunk
        self.version = version
        for index, weight in enumerate(heads):
            self.register_buffer(f"head{index}", weight.reshape(1, -1, 1, 1).float())
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x0, x1], dim=0)
        if self.version == "0.1":
            x = (x - self.shift) / self.scale
        total = torch.zeros(x0.shape[0], dtype=x.dtype, device=x.device)
        for index, feats in enumerate(self.trunk.relu_outputs(x)):
            feats = feats / (feats.pow(2).sum(dim=1, keepdim=True).sqrt() + _EPS)
            f0, f1 = feats.split(x0.shape[0], dim=0)
            total = total + ((f0 - f1) ** 2 * getattr(self, f"head{index}")).sum(dim=1).mean(dim=(1, 2))
        return total


_NETWORKS: dict[tuple, LPIPSAlex] = {}


def build_lpips(version: str = "0.0", asset_options: dict | None = None) -> LPIPSAlex:
    """The LPIPS network for ``version``, built once per process and weight files; raises AssetUnavailable."""
    if version not in VERSIONS:
        raise ValueError(f"LPIPS version must be one of {VERSIONS}, got {version!r}")
    trunk_path = fetch_with_options("alexnet-features", asset_options)
    heads_path = fetch_with_options(f"lpips-alex-v{version}", asset_options)
    key = (version, str(trunk_path.resolve()), str(heads_path.resolve()))
    if key not in _NETWORKS:
        state = torch.load(heads_path, map_location="cpu", weights_only=True)
        heads = [state[f"lin{i}.model.1.weight"] for i in range(5)]
        _NETWORKS[key] = LPIPSAlex(alexnet_features(trunk_path), heads, version).eval()
    return _NETWORKS[key]


def to_lpips_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 RGB (H, W, 3) or (N, H, W, 3) → float32 (N, 3, H, W) in [-1, 1], as ``lpips.im2tensor``."""
    array = np.asarray(images)
    if array.dtype != np.uint8 or array.shape[-1] != 3 or array.ndim not in (3, 4):
        raise ValueError(f"LPIPS expects uint8 RGB images (H, W, 3) or (N, H, W, 3), got {array.dtype} {array.shape}")
    tensor = torch.tensor(array if array.ndim == 4 else array[None])  # a copy: decoded images are often read-only
    return tensor.permute(0, 3, 1, 2).float() / 127.5 - 1.0


@torch.inference_mode()
def lpips_batch(network: LPIPSAlex, sr: list[np.ndarray], hr: list[np.ndarray], max_batch: int = 8) -> list[float]:
    """LPIPS of each (sr, hr) pair; pairs of equal size go through the network together, ``max_batch`` at a time."""
    if len(sr) != len(hr):
        raise ValueError(f"{len(sr)} SR images but {len(hr)} HR images")
    values: list[float] = [0.0] * len(sr)
    groups: dict[tuple, list[int]] = {}
    for index, (a, b) in enumerate(zip(sr, hr)):
        if a.shape != b.shape:
            raise ValueError(f"pair {index}: SR shape {a.shape} differs from HR shape {b.shape}")
        groups.setdefault(a.shape, []).append(index)
    chunks = [group[i : i + max_batch] for group in groups.values() for i in range(0, len(group), max_batch)]
    for indices in chunks:
        d = network(to_lpips_tensor(np.stack([sr[i] for i in indices])), to_lpips_tensor(np.stack([hr[i] for i in indices])))
        for i, value in zip(indices, d.tolist()):
            values[i] = float(value)
    return values


class LPIPSMetric:
    """Registry metric: ``metric(sr, hr)`` on uint8 RGB arrays; ``metric.batch(srs, hrs)`` for many pairs."""

    name = "lpips"
    needs_reference = True
    lower_is_better = True

    def __init__(self, network: LPIPSAlex):
        self.network = network
        self.version = network.version

    def __call__(self, sr: np.ndarray, hr: np.ndarray) -> float:
        return lpips_batch(self.network, [np.asarray(sr)], [np.asarray(hr)])[0]

    def batch(self, sr: list[np.ndarray], hr: list[np.ndarray]) -> list[float]:
        return lpips_batch(self.network, sr, hr)


@register_metric("lpips", needs_reference=True, lower_is_better=True, needs_assets=True,
                 description="LPIPS, AlexNet, version 0.0 heads (0.1 selectable), whole RGB image in [-1, 1]")
def make_lpips(version: str = "0.0", asset_options: dict | None = None, scale: int | None = None):
    """LPIPS metric; raises MetricUnavailable when its weights cannot be obtained. ``scale`` is unused."""
    del scale
    try:
        return LPIPSMetric(build_lpips(str(version), asset_options))
    except AssetUnavailable as err:
        raise MetricUnavailable("lpips", err.reason) from err

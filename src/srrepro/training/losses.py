"""Loss terms of the three papers (implementation-facts §5, §10) and the generator totals (Eq. 9, Eq. 11).

Every GAN term works on raw logits with BCE-with-logits and mean reduction, except Wu's, which takes probabilities. ``c_*`` are global scores,
``m_*`` are fine-grained map logits (same shape as the image). Weights (λ) are applied by the totals, never inside a term.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.data import assets
from srrepro.models import backbones
from srrepro.training.distributed import batch_mean

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


CRITERIA = {"l1": F.l1_loss, "mse": F.mse_loss}  # mean reduction
# How the pixel and perceptual terms are computed: the keys of a variant's ``losses`` that are not weights, with
# their defaults (``perceptual_scale`` multiplies the features of SR and HR before the criterion).
LOSS_OPTIONS = {"pixel_criterion": "l1", "perceptual_criterion": "l1", "perceptual_scale": 1.0}


def pixel_loss(sr: torch.Tensor, hr: torch.Tensor, criterion: str = "l1") -> torch.Tensor:
    """Eq. 3: mean absolute error (``criterion='l1'``) or mean squared error (``'mse'``, SRGAN-MSE)."""
    return CRITERIA[criterion](sr, hr)


class PerceptualLoss(nn.Module):
    """Eq. 4: L1 (``criterion='l1'``) or MSE (``'mse'``, SRGAN, leftthomas/SRGAN) between frozen features of SR and
    HR, both multiplied by ``scale`` first (Ledig et al. rescale VGG features by 1/12.75); inputs are RGB in [0, 1],
    normalised with ImageNet mean/std unless ``imagenet_normalise`` is False (leftthomas/SRGAN feeds [0, 1] RGB as is).

    ``features`` is the truncated extractor, e.g. VGG19 ``features[:35]`` (conv5_4 before ReLU), ``features[:36]``
    (after its ReLU, SRGAN's φ5,4) or VGG16 ``features[:29]`` (conv5_3 before ReLU). Its parameters are frozen;
    gradients still reach SR.
    """

    def __init__(self, features: nn.Module, criterion: str = "l1", imagenet_normalise: bool = True,
                 scale: float = 1.0):
        super().__init__()
        if criterion not in CRITERIA:
            raise ValueError(f"unknown perceptual criterion {criterion!r}; known: {', '.join(CRITERIA)}")
        self.criterion, self.imagenet_normalise, self.scale = criterion, imagenet_normalise, float(scale)
        self.features = features.eval()
        for param in self.features.parameters():
            param.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> "PerceptualLoss":
        """The extractor stays in eval mode."""
        return self

    def store_frozen_as(self, dtype: torch.dtype) -> "PerceptualLoss":
        """Keep the frozen extractor's weights in ``dtype``. Under an autocast to ``dtype`` the convolutions then
        compute the same values as with float32 weights, without casting every weight at every call. The module
        passed in as ``features`` is left as it was (a copy is cast)."""
        self.features = copy.deepcopy(self.features).to(dtype)
        return self

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std if self.imagenet_normalise else x

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        fake = self.features(self._prepare(sr))
        with torch.no_grad():
            real = self.features(self._prepare(hr))
        if self.scale != 1.0:
            fake, real = fake * self.scale, real * self.scale
        return CRITERIA[self.criterion](fake, real)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation as leftthomas/SRGAN's ``TVLoss`` (weight 1): 2·(Σ Δ_h² / count_h + Σ Δ_w² / count_w) / B,
    count_h = C·(H−1)·W, count_w = C·H·(W−1)."""
    b, c, h, w = x.shape
    h_tv = (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).sum()
    w_tv = (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).sum()
    return 2 * (h_tv / (c * (h - 1) * w) + w_tv / (c * h * (w - 1))) / b


def ragan_g(c_real: torch.Tensor, c_fake: torch.Tensor) -> torch.Tensor:
    """Relativistic average loss of G (Eq. 7): the real prediction is detached. The averages E[C] are over the
    global batch in data-parallel runs (:func:`~srrepro.training.distributed.batch_mean`)."""
    c_real = c_real.detach()
    return (_bce(c_real - batch_mean(c_fake), 0.0) + _bce(c_fake - batch_mean(c_real), 1.0)) / 2


def ragan_d(c_real: torch.Tensor, c_fake: torch.Tensor) -> torch.Tensor:
    """Relativistic average loss of D (Eq. 1), averages over the global batch as in :func:`ragan_g`."""
    return (_bce(c_real - batch_mean(c_fake), 1.0) + _bce(c_fake - batch_mean(c_real), 0.0)) / 2


def map_d(m_real: torch.Tensor, m_fake: torch.Tensor) -> torch.Tensor:
    """Fine-grained map loss of D (Eq. 2), per pixel and channel: [BCE(M_r, 1) + BCE(M_f, 0)] / 2."""
    return (_bce(m_real, 1.0) + _bce(m_fake, 0.0)) / 2


def map_g(m_fake: torch.Tensor) -> torch.Tensor:
    """Fine-grained map loss of G (Eq. 6) without its constant real half: BCE(M_f, 1) / 2."""
    return _bce(m_fake, 1.0) / 2


def attention_loss(sr: torch.Tensor, hr: torch.Tensor, m_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 8: mean(|SR − HR| · (1 − σ(M_f))), the weight detached (it steers G, it does not train D)."""
    weight = 1 - torch.sigmoid(m_fake.detach())
    return ((sr - hr).abs() * weight).mean()


def bce_g(c_fake: torch.Tensor) -> torch.Tensor:
    """Standard (SRGAN) adversarial loss of G: BCE(D(SR), 1)."""
    return _bce(c_fake, 1.0)


def bce_d(c_real: torch.Tensor, c_fake: torch.Tensor) -> torch.Tensor:
    """Standard (SRGAN) adversarial loss of D: BCE(D(HR), 1) + BCE(D(SR), 0)."""
    return _bce(c_real, 1.0) + _bce(c_fake, 0.0)


def wu_g(p_fake: torch.Tensor) -> torch.Tensor:
    """Wu's adversarial term of G: mean(1 − D(G(z))); D outputs probabilities (the leftthomas D ends in a sigmoid)."""
    return (1 - p_fake).mean()


def wu_d(p_real: torch.Tensor, p_fake: torch.Tensor) -> torch.Tensor:
    """Wu's (leftthomas SRGAN) loss of D on probabilities: 1 − mean D(HR) + mean D(SR)."""
    return 1 - p_real.mean() + p_fake.mean()


def weighted_total(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Generator total Σ λ_name · term_name over the terms present.

    FASRGAN, Eq. 9: L_percep + λ1 (L_entire + L_fine) + λ2 L_attention + λ3 L_1 with terms ``perceptual``, ``gan``
    (L_entire), ``map`` (L_fine, its own weight w_map as in §5), ``attention`` (λ2) and ``pixel`` (λ3).
    Fs-SRGAN, Eq. 11: L_percep + λ1 L_adv + λ2 L_1 with terms ``perceptual``, ``gan`` and ``pixel``.
    """
    return sum(weights[name] * value for name, value in terms.items())


@dataclass(frozen=True)
class PerceptualLayer:
    """A feature layer of the perceptual loss: VGG arch, weights asset, number of ``features`` modules kept, whether
    the loss normalises its [0, 1] RGB input with ImageNet mean/std, and who uses it."""

    arch: str
    asset: str
    stop: int
    imagenet_normalise: bool = True
    doc: str = ""


PERCEPTUAL_LAYERS = {
    "vgg19_conv5_4": PerceptualLayer("vgg19", "vgg19", 35, doc="conv5_4 before its ReLU (ESRGAN, FASRGAN, Fs-SRGAN; "
                                                               "the authors' code for every GAN)"),
    "vgg19_relu5_4": PerceptualLayer("vgg19", "vgg19", 36, doc="conv5_4 after its ReLU: φ5,4 of SRGAN (Ledig et al.)"),
    "vgg16_conv5_3": PerceptualLayer("vgg16", "vgg16-features", 29,
                                     doc="conv5_3 before its ReLU (the demo's stand-in for vgg19_conv5_4)"),
    "vgg16_relu5_3": PerceptualLayer("vgg16", "vgg16-features", 30,
                                     doc="conv5_3 after its ReLU (the demo's stand-in for vgg19_relu5_4)"),
    "vgg16_pool5": PerceptualLayer("vgg16", "vgg16-features", 31, imagenet_normalise=False,
                                   doc="through pool5, on un-normalised [0, 1] RGB (leftthomas/SRGAN, Wu's base)"),
}


def perceptual_features(layer: str, asset_options: dict) -> tuple[nn.Module, dict | str]:
    """(truncated VGG ``features``, provenance) for ``layer``, fetched with ``cache_dir`` / ``local_paths``.

    ``asset_options['perceptual_features']`` (an nn.Module) replaces the VGG extractor. Raises
    :class:`~srrepro.errors.AssetUnavailable` when the weights cannot be obtained (VGG19 needs a network or a local file).
    """
    injected = asset_options.get("perceptual_features")
    if injected is not None:
        return injected, "perceptual_features module injected by the caller"
    spec = PERCEPTUAL_LAYERS[layer]
    path = Path(assets.fetch_with_options(spec.asset, asset_options))
    sidecar = path.with_name(path.name + ".provenance.json")
    provenance = json.loads(sidecar.read_text()) if sidecar.is_file() else {"file": str(path)}
    return backbones.vgg_features(spec.arch, path).features[:spec.stop], {"layer": layer, **provenance}


def perceptual_loss(cfg: dict, features: nn.Module) -> PerceptualLoss:
    """The perceptual criterion of the resolved variant ``cfg`` on ``features`` (its layer's input, the criterion
    and the feature scale)."""
    return PerceptualLoss(features, cfg["losses"]["perceptual_criterion"],
                          PERCEPTUAL_LAYERS[cfg["perceptual_layer"]].imagenet_normalise,
                          cfg["losses"]["perceptual_scale"])

"""SPSAGAN generator (Zhang, Zheng, Hu; facts §9): RRSB trunk, SPSA layer, segmentation prior.

Choices the paper leaves open, fixed here:
- Eq. 8 compares maps of different widths (x_1..x_4 have gc channels, x_5 has nf); every map is reduced to its mean
  over channels first, DS is computed per sample and averaged over samples and batches. x_0 (the block input) is
  never pruned (Eq. 8 ranges over i ≥ 1).
- The 5 % rule is relative: the two 2-means class means (m_lo, m_hi) are kept together when (m_hi − m_lo) / m_hi < 5 %.
- The SPSA output is added to its input as in SAGAN, x + γ·o with γ initialised to 0; f/g project to C/8 channels.
- α is set on the first forward pass (Eq. 3 rule: mean |x| / mean |Conv(m_seg)|) and a buffer records that it was.
- The segmentation prior sees the LR image upsampled by PyTorch bicubic interpolation (not MATLAB's).
The full N×N attention is global, so tiled inference does not reproduce whole-image SPSAGAN output exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.models.registry import register_model
from srrepro.models.rrdbnet import ResidualDenseBlock, scaled_kaiming_init

N_LAYERS = 5  # convs per dense block
N_CLASSES = 8  # OutdoorSceneSeg classes: background, sky, water, grass, mountain, building, plant, animal


def dense_mask() -> torch.Tensor:
    """Connectivity of an unpruned dense block: mask[l-1, i-1] is True when x_i feeds layer l (i < l)."""
    return torch.ones(N_LAYERS, N_LAYERS - 1).tril(-1).bool()


class SparseDenseBlock(nn.Module):
    """Dense block whose layer l sees x_0 and the x_i (1 ≤ i < l) kept by the ``mask`` buffer; output·0.2 + x_0.

    The mask is saved in the state dict; loading a state dict with another mask rebuilds the convs to match it.
    """

    def __init__(self, nf: int = 64, gc: int = 32, mask: torch.Tensor | None = None):
        super().__init__()
        self.nf, self.gc = nf, gc
        self.register_buffer("mask", dense_mask())
        self.set_mask(dense_mask() if mask is None else mask)

    def set_mask(self, mask: torch.Tensor) -> None:
        """Adopt ``mask`` and rebuild (re-initialise) the convs for it."""
        mask = mask.bool().cpu() & dense_mask()
        device = self.mask.device
        self.mask = mask.to(device)
        widths = [self.gc] * (N_LAYERS - 1) + [self.nf]
        self.convs = nn.ModuleList(nn.Conv2d(self.nf + self.gc * int(mask[l].sum()), widths[l], 3, 1, 1)
                                   for l in range(N_LAYERS)).to(device)
        scaled_kaiming_init(self.convs, 0.1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        saved = state_dict.get(prefix + "mask")
        if saved is not None and saved.shape == self.mask.shape and not torch.equal(saved.bool().cpu(), self.mask.cpu()):
            self.set_mask(saved)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs x_1..x_5 (x_5 before the residual scaling)."""
        outs: list[torch.Tensor] = []
        for l, conv in enumerate(self.convs):
            kept = [outs[i] for i in range(l) if self.mask[l, i]]
            y = conv(torch.cat([x, *kept], 1))
            outs.append(F.leaky_relu(y, 0.2) if l < N_LAYERS - 1 else y)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_outputs(x)[-1] * 0.2 + x


class RRSB(nn.Module):
    """Residual-in-residual sparse block: three sparse dense blocks, output·0.2 + input."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.blocks = nn.Sequential(*(SparseDenseBlock(nf, gc) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x) * 0.2 + x


@torch.no_grad()
def measure_dissimilarity(model: nn.Module, batches: Iterable[torch.Tensor]) -> torch.Tensor:
    """Average Eq. 8 dissimilarities DS[b, l-1, i-1] for every dense block b of ``model`` (in module order).

    ``model`` is an RRDB network (RRDBNet, or an unpruned SPSAGAN generator); ``batches`` are its inputs.
    Entries with i ≥ l are 0.
    """
    blocks = [m for m in model.modules() if isinstance(m, (ResidualDenseBlock, SparseDenseBlock))]
    total = torch.zeros(len(blocks), N_LAYERS, N_LAYERS - 1, dtype=torch.float64)
    count = 0

    def record(index):
        def hook(module, args):
            maps = [y.mean(1).flatten(1) for y in module.layer_outputs(args[0])]  # (B, H·W) each
            for l in range(1, N_LAYERS):
                dist = torch.stack([(maps[i] - maps[l]).norm(dim=1) for i in range(l)], 1)  # (B, l)
                ds = dist / dist.sum(1, keepdim=True).clamp_min(1e-12)
                total[index, l, :l] += ds.sum(0).double().cpu()
        return hook

    handles = [block.register_forward_pre_hook(record(b)) for b, block in enumerate(blocks)]
    try:
        was_training = model.training
        model.eval()
        for batch in batches:
            model(batch)
            count += batch.shape[0]
        model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    if count == 0:
        raise ValueError("measure_dissimilarity needs at least one batch")
    return (total / count).float()


def two_means_1d(values: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """Exact 2-means of 1-D ``values``: (mask of the low class, low mean, high mean)."""
    order = values.argsort()
    ordered = values[order]
    best = None
    for split in range(1, len(ordered)):
        low, high = ordered[:split], ordered[split:]
        cost = ((low - low.mean()) ** 2).sum() + ((high - high.mean()) ** 2).sum()
        if best is None or cost < best[0]:
            best = (cost, split, float(low.mean()), float(high.mean()))
    _, split, m_lo, m_hi = best
    low_mask = torch.zeros_like(values, dtype=torch.bool)
    low_mask[order[:split]] = True
    return low_mask, m_lo, m_hi


def prune_masks(ds: torch.Tensor, rel_threshold: float = 0.05) -> torch.Tensor:
    """Masks (same leading shape as ``ds``) from Eq. 8 dissimilarities: per layer, 2-means on its DS values and
    drop the low class, unless the class means differ by less than ``rel_threshold`` (relative) or l < 3."""
    masks = dense_mask().expand(*ds.shape[:-2], N_LAYERS, N_LAYERS - 1).clone()
    flat_ds, flat_masks = ds.reshape(-1, N_LAYERS, N_LAYERS - 1), masks.view(-1, N_LAYERS, N_LAYERS - 1)
    for b in range(flat_ds.shape[0]):
        for l in range(2, N_LAYERS):
            low, m_lo, m_hi = two_means_1d(flat_ds[b, l, :l])
            if m_hi > 0 and (m_hi - m_lo) / m_hi >= rel_threshold:
                flat_masks[b, l, :l] = ~low
    return masks


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


class SPSALayer(nn.Module):
    """Segmentation-prior self-attention (Eqs. 1–7) on features x (B, C, h, w) and an HR prior (B, K, s·h, s·w)."""

    def __init__(self, nf: int = 64, n_classes: int = N_CLASSES, scale: int = 4):
        super().__init__()
        qk = max(1, nf // 8)
        self.f_fea, self.g_fea = nn.Conv2d(nf, qk, 1), nn.Conv2d(nf, qk, 1)
        self.f_seg, self.g_seg = nn.Conv2d(nf, qk, 1), nn.Conv2d(nf, qk, 1)
        self.h = nn.Conv2d(nf, nf, 1)
        self.transform = nn.Conv2d(n_classes, nf, scale, scale)
        self.alpha = nn.Parameter(torch.ones(()))
        self.gamma = nn.Parameter(torch.zeros(()))
        self.register_buffer("alpha_initialized", torch.tensor(False))

    @staticmethod
    def _softmax_attention(f: nn.Module, g: nn.Module, x: torch.Tensor) -> torch.Tensor:
        # beta[b, j, i] = softmax_i(f(x_i)^T g(x_j)): row j sums to 1 over i.
        return torch.softmax(g(x).flatten(2).transpose(1, 2) @ f(x).flatten(2), -1)

    def attention(self, x: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Combined, row-normalised attention β (B, N, N) and the segmentation weight w_seg (B, N, N)."""
        conv_seg = self.transform(seg)
        if conv_seg.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"prior of size {tuple(seg.shape[-2:])} does not map onto features of size "
                             f"{tuple(x.shape[-2:])}; the prior must be {self.transform.stride[0]}x the LR size")
        if not self.alpha_initialized:
            with torch.no_grad():
                self.alpha.fill_(x.abs().mean() / conv_seg.abs().mean().clamp_min(1e-12))
                self.alpha_initialized.fill_(True)
        z = self.alpha * conv_seg
        beta_fea = self._softmax_attention(self.f_fea, self.g_fea, x)
        beta_seg = self._softmax_attention(self.f_seg, self.g_seg, z)
        w_seg = (beta_seg - beta_fea).abs() / (beta_seg + beta_fea).clamp_min(1e-30)
        beta = w_seg * beta_seg + (1 - w_seg) * beta_fea
        return beta / beta.sum(-1, keepdim=True), w_seg

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        beta, _ = self.attention(x, seg)
        out = self.h(x).flatten(2) @ beta.transpose(1, 2)  # o_j = sum_i beta[j, i] h(x_i)
        return x + self.gamma * out.view_as(x)


class SPSAGenerator(nn.Module):
    """conv → residual[nb × RRSB → conv] → SPSA(prior) → upsampling as RRDBNet → conv → LReLU → conv.

    ``forward(lr, seg=None)``: without ``seg`` the prior network (``prior`` name in ``PRIORS``) is applied to the
    bicubic-upsampled LR image. Unpruned RRSBs equal RRDBs; use :func:`measure_dissimilarity`, :func:`prune_masks`
    and :meth:`apply_pruning` to turn an RRDB run into RRSBs.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4,
                 prior: str = "colour"):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"SPSAGenerator scale must be 2, 4 or 8, got {scale}")
        if prior not in PRIORS:
            raise ValueError(f"unknown segmentation prior {prior!r}; known: {', '.join(PRIORS)}")
        self.scale = scale
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1)
        self.blocks = nn.Sequential(*(RRSB(nf, gc) for _ in range(nb)))
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.spsa = SPSALayer(nf, N_CLASSES, scale)
        self.upconvs = nn.ModuleList(nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(scale.bit_length() - 1))
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_nc, 3, 1, 1)
        scaled_kaiming_init(self, 0.1)
        self.prior = PRIORS[prior]()

    def sparse_blocks(self) -> list[SparseDenseBlock]:
        return [m for m in self.blocks.modules() if isinstance(m, SparseDenseBlock)]

    def apply_pruning(self, masks: torch.Tensor) -> None:
        """Set the masks (nb·3, 5, 4) of all dense blocks, re-initialising their convs (train from scratch after)."""
        blocks = self.sparse_blocks()
        masks = masks.reshape(-1, N_LAYERS, N_LAYERS - 1)
        if len(masks) != len(blocks):
            raise ValueError(f"got {len(masks)} masks for {len(blocks)} dense blocks")
        for block, mask in zip(blocks, masks):
            block.set_mask(mask)

    def forward(self, lr: torch.Tensor, seg: torch.Tensor | None = None) -> torch.Tensor:
        if seg is None:
            up = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False).clamp(0, 1)
            seg = self.prior(up)
        fea = self.conv_first(lr)
        fea = self.spsa(fea + self.trunk_conv(self.blocks(fea)), seg)
        for conv in self.upconvs:
            fea = F.leaky_relu(conv(F.interpolate(fea, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(fea), 0.2))


@register_model("spsagan")
def build_spsagan(nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4, prior: str = "colour") -> SPSAGenerator:
    """SPSAGAN generator; pruning masks travel in the state dict. Pair it with ``vgg128``."""
    return SPSAGenerator(3, 3, nf, nb, gc, scale, prior)


@register_model("outdoor_scene_seg")
def build_outdoor_scene_seg() -> OutdoorSceneSeg:
    """SFTGAN OutdoorSceneSeg (architecture only)."""
    return OutdoorSceneSeg()

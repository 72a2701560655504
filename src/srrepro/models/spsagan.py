"""SPSAGAN generator (Zhang, Zheng, Hu; facts §9): RRSB trunk, SPSA layer, segmentation prior.

Choices the paper leaves open, fixed here:
- Eq. 8 compares maps of different widths (x_1..x_4 have gc channels, x_5 has nf); every map is reduced to its mean
  over channels first, DS is computed per sample and averaged over samples and batches. x_0 (the block input) is
  never pruned (Eq. 8 ranges over i ≥ 1).
- The 5 % rule is relative: the two 2-means class means (m_lo, m_hi) are kept together when (m_hi − m_lo) / m_hi < 5 %.
- The SPSA output is added to its input as in SAGAN, x + γ·o with γ initialised to 0; f/g project to C/8 channels.
- α is set on the first forward pass (Eq. 3 rule: mean |x| / mean |Conv(m_seg)|) and a buffer records that it was.
- The segmentation prior sees the LR image upsampled by PyTorch bicubic interpolation (not MATLAB's).
- Ablation rungs (Fig. 11), ``attention``: 'none' = ESRGAN generator on the RRSB trunk (unpruned it computes exactly
  what RRDBNet computes with the same weights, see :func:`rrdbnet_to_spsagan`), 'self' = plain SAGAN self-attention
  (Eqs. 1, 2, 7 with γ) at the SPSA position, no prior; 'spsa' = the full SPSA layer. The attention module is always
  the ``spsa`` attribute, so ``lr_g_overrides: {spsa: ...}`` addresses either attention rung.
- RRSB from an RRDB run (:func:`prune_generator`): Eq. 8 measured on batches, :func:`prune_masks`, then either the
  surviving weights are copied from the dense model (:meth:`SPSAGenerator.transfer_state`) or the pruned convs keep a
  fresh init (the paper retrains from scratch). Pruning may leave a layer whose output no later layer reads (e.g. x_2
  dropped by layers 3–5); its conv stays in the state dict but is skipped in forward.
The full N×N attention is global, so tiled inference does not reproduce whole-image SPSAGAN output exactly.
"""

from __future__ import annotations

import re
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
        # layers whose output no later layer reads (possible after pruning) are skipped in forward
        self.live = [l == N_LAYERS - 1 or bool(mask[l + 1:, l].any()) for l in range(N_LAYERS)]
        self.keep = mask.tolist()  # host copy of the mask for forward (no device sync per connection)
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
            kept = [outs[i] for i in range(l) if self.keep[l][i]]
            y = conv(torch.cat([x, *kept], 1))
            outs.append(F.leaky_relu(y, 0.2) if l < N_LAYERS - 1 else y)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: list[torch.Tensor | None] = []
        for l, conv in enumerate(self.convs):
            if not self.live[l]:
                outs.append(None)  # read by no later layer: its conv is not run (and never trained)
                continue
            y = conv(torch.cat([x, *(outs[i] for i in range(l) if self.keep[l][i])], 1))
            outs.append(F.leaky_relu(y, 0.2) if l < N_LAYERS - 1 else y)
        return torch.add(x, outs[-1], alpha=0.2)


class RRSB(nn.Module):
    """Residual-in-residual sparse block: three sparse dense blocks, output·0.2 + input."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.blocks = nn.Sequential(*(SparseDenseBlock(nf, gc) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, self.blocks(x), alpha=0.2)


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
ATTENTIONS = ("spsa", "self", "none")


def _softmax_attention(f: nn.Module, g: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # beta[b, j, i] = softmax_i(f(x_i)^T g(x_j)): row j sums to 1 over i.
    return torch.softmax(g(x).flatten(2).transpose(1, 2) @ f(x).flatten(2), -1)


class SelfAttentionLayer(nn.Module):
    """SAGAN self-attention on features only (the "+ feature attention" rung): x + γ·o, o_j = Σ_i β^fea_{j,i} h(x_i).

    Parameter names are those of the feature branch of :class:`SPSALayer`; ``seg`` is accepted and ignored.
    """

    def __init__(self, nf: int = 64):
        super().__init__()
        qk = max(1, nf // 8)
        self.f_fea, self.g_fea = nn.Conv2d(nf, qk, 1), nn.Conv2d(nf, qk, 1)
        self.h = nn.Conv2d(nf, nf, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Row-normalised attention β^fea (B, N, N)."""
        return _softmax_attention(self.f_fea, self.g_fea, x)

    def forward(self, x: torch.Tensor, seg: torch.Tensor | None = None) -> torch.Tensor:
        out = self.h(x).flatten(2) @ self.attention(x).transpose(1, 2)
        return x + self.gamma * out.view_as(x)


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

    _softmax_attention = staticmethod(_softmax_attention)

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
    """conv → residual[nb × RRSB → conv] → attention → upsampling as RRDBNet → conv → LReLU → conv.

    ``attention``: 'spsa' (default; SPSA layer with the segmentation prior ``prior`` from ``PRIORS``, default
    'colour'), 'self' (SAGAN self-attention, no prior) or 'none' (no attention: ESRGAN on the RRSB trunk).
    ``forward(lr, seg=None)``: for 'spsa' without ``seg`` the prior network is applied to the bicubic-upsampled LR
    image; the other rungs ignore ``seg``. Unpruned RRSBs equal RRDBs; use :func:`prune_generator` (or
    :func:`measure_dissimilarity`, :func:`prune_masks` and :meth:`apply_pruning`) to turn an RRDB run into RRSBs.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4,
                 prior: str | None = None, attention: str = "spsa"):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"SPSAGenerator scale must be 2, 4 or 8, got {scale}")
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; known: {', '.join(ATTENTIONS)}")
        if attention != "spsa" and prior is not None:
            raise ValueError(f"a segmentation prior ({prior!r}) only applies to attention 'spsa', not {attention!r}")
        prior = "colour" if prior is None and attention == "spsa" else prior
        if attention == "spsa" and prior not in PRIORS:
            raise ValueError(f"unknown segmentation prior {prior!r}; known: {', '.join(PRIORS)}")
        self.scale, self.nf, self.gc, self.attention = scale, nf, gc, attention
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1)
        self.blocks = nn.Sequential(*(RRSB(nf, gc) for _ in range(nb)))
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        if attention == "spsa":
            self.spsa = SPSALayer(nf, N_CLASSES, scale)
        elif attention == "self":
            self.spsa = SelfAttentionLayer(nf)
        self.upconvs = nn.ModuleList(nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(scale.bit_length() - 1))
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_nc, 3, 1, 1)
        scaled_kaiming_init(self, 0.1)
        self.prior = PRIORS[prior]() if attention == "spsa" else None

    def sparse_blocks(self) -> list[SparseDenseBlock]:
        return [m for m in self.blocks.modules() if isinstance(m, SparseDenseBlock)]

    def masks(self) -> torch.Tensor:
        """Masks (nb·3, 5, 4) of all dense blocks, on the CPU."""
        return torch.stack([block.mask.cpu() for block in self.sparse_blocks()])

    def apply_pruning(self, masks: torch.Tensor) -> None:
        """Set the masks (nb·3, 5, 4) of all dense blocks, re-initialising their convs (train from scratch after)."""
        blocks = self.sparse_blocks()
        masks = masks.reshape(-1, N_LAYERS, N_LAYERS - 1)
        if len(masks) != len(blocks):
            raise ValueError(f"got {len(masks)} masks for {len(blocks)} dense blocks")
        for block, mask in zip(blocks, masks):
            block.set_mask(mask)

    def transfer_state(self, source: dict[str, torch.Tensor]) -> None:
        """Load a state dict of the same architecture whose masks contain this model's (e.g. the dense model before
        :meth:`apply_pruning`), keeping in each trunk conv only the input channels of x_0 and the surviving x_i."""
        target = self.state_dict()
        missing = sorted(set(target) - set(source))
        if missing:
            raise KeyError(f"transfer_state: source lacks {missing[:3]}")
        out = {k: source[k] for k in target}
        for name, block in self.blocks.named_modules():
            if not isinstance(block, SparseDenseBlock):
                continue
            prefix = f"blocks.{name}."
            src_mask, dst_mask = source[prefix + "mask"].bool().cpu(), block.mask.cpu()
            if (dst_mask & ~src_mask).any():
                raise ValueError(f"transfer_state: {prefix}mask keeps connections the source has pruned")
            for l in range(N_LAYERS):
                offsets, start = {}, self.nf
                for i in range(l):
                    if src_mask[l, i]:
                        offsets[i], start = start, start + self.gc
                index = list(range(self.nf))
                for i in range(l):
                    if dst_mask[l, i]:
                        index += range(offsets[i], offsets[i] + self.gc)
                weight = source[f"{prefix}convs.{l}.weight"]
                out[f"{prefix}convs.{l}.weight"] = weight.index_select(1, torch.tensor(index, device=weight.device))
            out[prefix + "mask"] = dst_mask
        self.load_state_dict(out, strict=True)

    def forward(self, lr: torch.Tensor, seg: torch.Tensor | None = None) -> torch.Tensor:
        fea = self.conv_first(lr)
        fea = fea + self.trunk_conv(self.blocks(fea))
        if self.attention == "spsa":
            if seg is None:
                up = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False).clamp(0, 1)
                seg = self.prior(up)
            fea = self.spsa(fea, seg)
        elif self.attention == "self":
            fea = self.spsa(fea)
        for conv in self.upconvs:
            fea = F.leaky_relu(conv(F.interpolate(fea, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(fea), 0.2))


_RRDB_CONV = re.compile(r"trunk\.blocks\.(\d+)\.rdb([123])\.(?:convs\.(\d)|conv_out)\.(weight|bias)")


def rrdbnet_to_spsagan(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an RRDBNet state dict to the SPSAGenerator layout (dense masks added; no attention or prior keys).

    trunk.blocks.{i}.rdb{k}.convs.{j} → blocks.{i}.blocks.{k-1}.convs.{j}, conv_out → convs.4, trunk.conv →
    trunk_conv; conv_first, upconvs, conv_hr, conv_last unchanged.
    """
    out, blocks = {}, set()
    for key, value in state_dict.items():
        if m := _RRDB_CONV.fullmatch(key):
            prefix = f"blocks.{m[1]}.blocks.{int(m[2]) - 1}."
            out[f"{prefix}convs.{4 if m[3] is None else int(m[3])}.{m[4]}"] = value
            blocks.add(prefix)
        elif key.startswith("trunk.conv."):
            out["trunk_conv." + key.removeprefix("trunk.conv.")] = value
        elif key.startswith("trunk."):
            raise ValueError(f"key '{key}' is not part of the RRDBNet layout")
        else:
            out[key] = value
    for prefix in blocks:
        out[prefix + "mask"] = dense_mask()
    return out


def _generator_parameters(model: nn.Module) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("prior."))


def _mask_code(mask: torch.Tensor) -> str:
    """'1|11|101|0111': row l lists which of x_1..x_l feed layer l+1 (x_0 always does)."""
    return "|".join("".join("1" if mask[l, i] else "0" for i in range(l)) for l in range(1, N_LAYERS))


def pruning_stats(model: SPSAGenerator) -> dict:
    """Connectivity summary: kept x_i → x_l connections (i ≥ 1, at most 10) per dense block, fraction pruned, masks."""
    masks = model.masks()
    kept = [int(m.sum()) for m in masks]
    prunable = int(dense_mask().sum())
    unused = sum(not live for block in model.sparse_blocks() for live in block.live)
    return {"dense_blocks": len(kept), "prunable_per_block": prunable, "kept_per_block": kept,
            "fraction_pruned": 1 - sum(kept) / (prunable * len(kept)), "masks": [_mask_code(m) for m in masks],
            "unused_layers": unused, "generator_parameters": _generator_parameters(model)}


def prune_generator(model: SPSAGenerator, batches: Iterable[torch.Tensor], rel_threshold: float = 0.05,
                    keep_weights: bool = True) -> dict:
    """Turn ``model`` (trained, unpruned or pruned) into RRSBs in place: Eq. 8 on ``batches``, the 2-means rule
    (masks only ever lose connections), then copy the surviving weights (``keep_weights``) or keep the fresh init
    of the rebuilt convs. Returns :func:`pruning_stats` plus the dense parameter count and the dissimilarities."""
    before = _generator_parameters(model)
    ds = measure_dissimilarity(model, batches)
    masks = prune_masks(ds, rel_threshold) & model.masks()
    source = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.apply_pruning(masks)
    if keep_weights:
        model.transfer_state(source)
    ds_rows = [[[round(float(v), 6) for v in d[l, :l]] for l in range(1, N_LAYERS)] for d in ds]
    return {**pruning_stats(model), "generator_parameters_before": before, "rel_threshold": rel_threshold,
            "dissimilarity": ds_rows}


@register_model("spsagan")
def build_spsagan(nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4, prior: str | None = None,
                  attention: str = "spsa") -> SPSAGenerator:
    """SPSAGAN generator (``attention`` 'spsa' | 'self' | 'none'; ``prior`` only with 'spsa', default 'colour');
    pruning masks travel in the state dict. Pair it with ``vgg128``."""
    return SPSAGenerator(3, 3, nf, nb, gc, scale, prior, attention)


@register_model("outdoor_scene_seg")
def build_outdoor_scene_seg() -> OutdoorSceneSeg:
    """SFTGAN OutdoorSceneSeg (architecture only)."""
    return OutdoorSceneSeg()

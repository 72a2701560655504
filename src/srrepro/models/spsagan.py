"""SPSAGAN generator (Zhang, Zheng, Hu; facts §9): RRSB trunk, SPSA layer, segmentation prior.

The pruning that turns RRDBs into RRSBs is :mod:`srrepro.models.rrsb_pruning`; the priors are
:mod:`srrepro.models.segmentation_prior`. Choices the paper leaves open, fixed here:
- The SPSA output is added to its input as in SAGAN, x + γ·o with γ initialised to 0; f/g project to C/8 channels.
- α is set on the first forward pass (Eq. 3 rule: mean |x| / mean |Conv(m_seg)|) and a buffer records that it was.
- The segmentation prior sees the LR image upsampled x``scale`` to the HR size as SFTGAN's segmentation script feeds
  OutdoorSceneSeg: MATLAB bicubic (``prior_upsampling='matlab'``, the default), unclamped. ``'pytorch'`` selects
  PyTorch's bicubic interpolation clamped to [0, 1] (this code's earlier behaviour).
- The prior is an input pipeline, not part of the generator: it is kept outside the parameters and the state dict
  (frozen, eval mode, in no optimiser, not in model files or checkpoints); ``.to()`` moves it along. A prior with
  pretrained weights (``ost``) gets them from its asset via
  :func:`srrepro.models.segmentation_prior.attach_prior_weights`.
- Ablation rungs (Fig. 11), ``attention``: 'none' = ESRGAN generator on the RRSB trunk (unpruned it computes exactly
  what RRDBNet computes with the same weights, see :func:`rrdbnet_to_spsagan`), 'self' = plain SAGAN self-attention
  (Eqs. 1, 2, 7 with γ) at the SPSA position, no prior; 'spsa' = the full SPSA layer. The attention module is always
  the ``spsa`` attribute, so ``lr_g_overrides: {spsa: ...}`` addresses either attention rung.
- Pruning may leave a layer whose output no later layer reads (e.g. x_2 dropped by layers 3–5); its conv stays in
  the state dict but is skipped in forward.
The full N×N attention is global, so tiled inference does not reproduce whole-image SPSAGAN output exactly.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F

from srrepro.imaging.matlab import imresize_torch
from srrepro.models.registry import register_model
from srrepro.models.rrdbnet import scaled_kaiming_init
from srrepro.models.segmentation_prior import N_CLASSES, PRIORS

N_LAYERS = 5  # convs per dense block
PRIOR_UPSAMPLINGS = ("matlab", "pytorch")


def dense_mask() -> torch.Tensor:
    """Connectivity of an unpruned dense block, on the CPU: mask[l-1, i-1] is True when x_i feeds layer l (i < l)."""
    return torch.arange(N_LAYERS, device="cpu")[:, None] > torch.arange(N_LAYERS - 1, device="cpu")


class SparseDenseBlock(nn.Module):
    """Dense block whose layer l sees x_0 and the x_i (1 ≤ i < l) kept by the ``mask`` buffer; output·0.2 + x_0.

    The mask is saved in the state dict; loading a state dict with another mask rebuilds the convs to match it.
    """

    def __init__(self, nf: int = 64, gc: int = 32, mask: torch.Tensor | None = None):
        super().__init__()
        self.nf, self.gc = nf, gc
        self.register_buffer("mask", torch.zeros(N_LAYERS, N_LAYERS - 1, dtype=torch.bool))  # on the default device
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

    #: Rows of β computed at a time without autograd (inference): every row is normalised on its own, so the result
    #: is that of the whole (N, N) matrix (N = 16,384 for a 128x128 LR image: 1 GiB per matrix), with each chunk in
    #: cache: 5x faster on one CPU thread (bench/bench_models.py measures it).
    ROWS_PER_CHUNK = 64

    def _queries_keys(self, x: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(g_fea, f_fea, g_seg, f_seg) as (B, N, qk), (B, qk, N), (B, N, qk), (B, qk, N); fixes α on first use."""
        conv_seg = self.transform(seg)
        if conv_seg.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"prior of size {tuple(seg.shape[-2:])} does not map onto features of size "
                             f"{tuple(x.shape[-2:])}; the prior must be {self.transform.stride[0]}x the LR size")
        if not self.alpha_initialized:
            with torch.no_grad():
                self.alpha.fill_(x.abs().mean() / conv_seg.abs().mean().clamp_min(1e-12))
                self.alpha_initialized.fill_(True)
        z = self.alpha * conv_seg
        return (self.g_fea(x).flatten(2).transpose(1, 2), self.f_fea(x).flatten(2),
                self.g_seg(z).flatten(2).transpose(1, 2), self.f_seg(z).flatten(2))

    @staticmethod
    def _rows(q_fea, k_fea, q_seg, k_seg) -> tuple[torch.Tensor, torch.Tensor]:
        """β and w_seg for the rows (positions j) of the given queries."""
        beta_fea = torch.softmax(q_fea @ k_fea, -1)
        beta_seg = torch.softmax(q_seg @ k_seg, -1)
        w_seg = (beta_seg - beta_fea).abs() / (beta_seg + beta_fea).clamp_min(1e-30)
        beta = w_seg * beta_seg + (1 - w_seg) * beta_fea
        return beta / beta.sum(-1, keepdim=True), w_seg

    def attention(self, x: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Combined, row-normalised attention β (B, N, N) and the segmentation weight w_seg (B, N, N)."""
        return self._rows(*self._queries_keys(x, seg))

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        q_fea, k_fea, q_seg, k_seg = self._queries_keys(x, seg)
        values = self.h(x).flatten(2)
        if torch.is_grad_enabled():
            beta, _ = self._rows(q_fea, k_fea, q_seg, k_seg)
            out = values @ beta.transpose(1, 2)  # o_j = sum_i beta[j, i] h(x_i)
        else:
            out = torch.cat([values @ self._rows(q_fea[:, j:j + self.ROWS_PER_CHUNK], k_fea,
                                                 q_seg[:, j:j + self.ROWS_PER_CHUNK], k_seg)[0].transpose(1, 2)
                             for j in range(0, q_fea.shape[1], self.ROWS_PER_CHUNK)], dim=2)
        return x + self.gamma * out.view_as(x)


class SPSAGenerator(nn.Module):
    """conv → residual[nb × RRSB → conv] → attention → upsampling as RRDBNet → conv → LReLU → conv.

    ``attention``: 'spsa' (default; SPSA layer with the segmentation prior ``prior`` from ``PRIORS``, default
    'colour'), 'self' (SAGAN self-attention, no prior) or 'none' (no attention: ESRGAN on the RRSB trunk).
    ``forward(lr, seg=None)``: for 'spsa' without ``seg`` the prior network is applied to the LR image upsampled
    to the HR size (``prior_upsampling``); the other rungs ignore ``seg``. Unpruned RRSBs equal RRDBs;
    :mod:`srrepro.models.rrsb_pruning` turns an RRDB run into RRSBs. ``prior`` (the attribute) is held outside the
    module tree: not in ``parameters()`` nor ``state_dict()``.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4,
                 prior: str | None = None, attention: str = "spsa", prior_upsampling: str = "matlab"):
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
        if prior_upsampling not in PRIOR_UPSAMPLINGS:
            raise ValueError(f"unknown prior_upsampling {prior_upsampling!r}; known: {', '.join(PRIOR_UPSAMPLINGS)}")
        self.scale, self.nf, self.gc, self.attention = scale, nf, gc, attention
        self.prior_upsampling = prior_upsampling
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
        # outside the module tree: no parameters, no state-dict keys, untouched by train()/requires_grad_()
        object.__setattr__(self, "prior", PRIORS[prior]().eval() if attention == "spsa" else None)

    def _apply(self, fn, recurse=True):
        """``.to()``, ``.cuda()``, ``.float()``… also move the prior."""
        super()._apply(fn, recurse)
        if self.prior is not None:
            self.prior._apply(fn)
        return self

    def upsample_for_prior(self, lr: torch.Tensor) -> torch.Tensor:
        """The LR image at the HR size, as the prior sees it (``prior_upsampling``)."""
        if self.prior_upsampling == "matlab":
            return imresize_torch(lr, self.scale)
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False).clamp(0, 1)

    def sparse_blocks(self) -> list[SparseDenseBlock]:
        return [m for m in self.blocks.modules() if isinstance(m, SparseDenseBlock)]

    def masks(self) -> torch.Tensor:
        """Masks (nb·3, 5, 4) of all dense blocks, on the CPU."""
        return torch.stack([block.mask.cpu() for block in self.sparse_blocks()])

    def apply_pruning(self, masks: torch.Tensor) -> None:
        """Set the masks (nb·3, 5, 4) of all dense blocks, re-initialising their convs."""
        blocks = self.sparse_blocks()
        masks = masks.reshape(-1, N_LAYERS, N_LAYERS - 1)
        if len(masks) != len(blocks):
            raise ValueError(f"got {len(masks)} masks for {len(blocks)} dense blocks")
        for block, mask in zip(blocks, masks):
            block.set_mask(mask)

    def forward(self, lr: torch.Tensor, seg: torch.Tensor | None = None) -> torch.Tensor:
        fea = self.conv_first(lr)
        fea = fea + self.trunk_conv(self.blocks(fea))
        if self.attention == "spsa":
            if seg is None:
                with torch.no_grad():
                    seg = self.prior(self.upsample_for_prior(lr))
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


@register_model("spsagan")
def build_spsagan(nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4, prior: str | None = None,
                  attention: str = "spsa", prior_upsampling: str = "matlab") -> SPSAGenerator:
    """SPSAGAN generator (``attention`` 'spsa' | 'self' | 'none'; ``prior`` only with 'spsa', default 'colour';
    ``prior_upsampling`` 'matlab' | 'pytorch'); pruning masks travel in the state dict. Pair it with ``vgg128``.
    The 'ost' prior's weights are loaded by :func:`srrepro.models.segmentation_prior.attach_prior_weights`."""
    return SPSAGenerator(3, 3, nf, nb, gc, scale, prior, attention, prior_upsampling)

"""RRSB pruning of SPSAGAN (Eq. 8): turn the RRDBs of a trained generator into residual-in-residual sparse blocks.

Choices the paper leaves open, fixed here:
- Eq. 8 compares maps of different widths (x_1..x_4 have gc channels, x_5 has nf); every map is reduced to its mean
  over channels first, DS is computed per sample and averaged over samples and batches. x_0 (the block input) is
  never pruned (Eq. 8 ranges over i ≥ 1).
- The 5 % rule is relative: the two 2-means class means (m_lo, m_hi) are kept together when (m_hi − m_lo) / m_hi < 5 %.
- From an RRDB run (:func:`prune_generator`): Eq. 8 measured on batches, :func:`prune_masks`, then either the
  surviving weights are copied from the dense model (:func:`transfer_surviving_weights`) or the pruned convs keep a
  fresh init (the paper retrains from scratch).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from srrepro.models.rrdbnet import ResidualDenseBlock
from srrepro.models.spsagan import N_LAYERS, SparseDenseBlock, SPSAGenerator, dense_mask


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


def transfer_surviving_weights(model: SPSAGenerator, source: dict[str, torch.Tensor]) -> None:
    """Load a state dict of the same architecture whose masks contain this model's (e.g. the dense model before
    :meth:`apply_pruning`), keeping in each trunk conv only the input channels of x_0 and the surviving x_i."""
    target = model.state_dict()
    missing = sorted(set(target) - set(source))
    if missing:
        raise KeyError(f"transfer_state: source lacks {missing[:3]}")
    out = {k: source[k] for k in target}
    for name, block in model.blocks.named_modules():
        if not isinstance(block, SparseDenseBlock):
            continue
        prefix = f"blocks.{name}."
        src_mask, dst_mask = source[prefix + "mask"].bool().cpu(), block.mask.cpu()
        if (dst_mask & ~src_mask).any():
            raise ValueError(f"transfer_state: {prefix}mask keeps connections the source has pruned")
        for l in range(N_LAYERS):
            offsets, start = {}, model.nf
            for i in range(l):
                if src_mask[l, i]:
                    offsets[i], start = start, start + model.gc
            index = list(range(model.nf))
            for i in range(l):
                if dst_mask[l, i]:
                    index += range(offsets[i], offsets[i] + model.gc)
            weight = source[f"{prefix}convs.{l}.weight"]
            out[f"{prefix}convs.{l}.weight"] = weight.index_select(1, torch.tensor(index, device=weight.device))
        out[prefix + "mask"] = dst_mask
    model.load_state_dict(out, strict=True)


def _generator_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # the segmentation prior is not among them


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
        transfer_surviving_weights(model, source)
    ds_rows = [[[round(float(v), 6) for v in d[l, :l]] for l in range(1, N_LAYERS)] for d in ds]
    return {**pruning_stats(model), "generator_parameters_before": before, "rel_threshold": rel_threshold,
            "dissimilarity": ds_rows}

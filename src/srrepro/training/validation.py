"""Periodic validation during training: metrics of the generator on a prepared validation folder (Fig. 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from srrepro.data.prepared import read_prepared
from srrepro.errors import MetricUnavailable
from srrepro.metrics import get_metric
from srrepro.training.patches import to_tensor


class Validator:
    """Metrics of the generator on a prepared validation folder; unavailable or failing metrics give None and a reason."""

    def __init__(self, val_dir: Path, scale: int, metrics, device: torch.device, asset_options: dict):
        self.pairs = [(name, to_tensor(lr), to_tensor(hr)) for name, hr, lr in read_prepared(val_dir, scale)]
        self.device = device
        specs = metrics if isinstance(metrics, dict) else {name: {} for name in metrics}
        self.metrics, self.reasons = {}, {}
        for name, options in specs.items():
            try:
                self.metrics[name] = get_metric(name, asset_options, **{"scale": scale, **options})
            except (MetricUnavailable, KeyError) as err:
                self.metrics[name] = None
                self.reasons[name] = err.reason if isinstance(err, MetricUnavailable) else err.args[0]

    @torch.no_grad()
    def __call__(self, model: nn.Module, iteration: int) -> dict:
        model.eval()
        outputs = []
        for _, lr, hr in self.pairs:
            sr = model(lr[None].to(self.device, torch.float32) / 255).clamp(0, 1)
            sr = (sr[0] * 255).round().byte().permute(1, 2, 0).cpu().numpy()
            outputs.append((sr, hr.permute(1, 2, 0).numpy()))
        model.train()
        row, reasons = {"iteration": iteration}, dict(self.reasons)
        for name, metric in self.metrics.items():
            row[name] = None
            if metric is None:
                continue
            try:
                row[name] = float(np.mean([metric(sr, hr) for sr, hr in outputs]))
            except MetricUnavailable as err:
                reasons[name] = err.reason
            except (ValueError, ArithmeticError) as err:  # e.g. NIQE's SVD on a flat early-training output
                reasons[name] = f"failed: {type(err).__name__}: {err}"
        row["unavailable"] = "; ".join(f"{k}: {v}" for k, v in reasons.items())
        return row

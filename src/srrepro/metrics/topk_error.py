"""Top-k classification error, the dataset-level metric of the recognition test (Table III)."""

from __future__ import annotations

import torch

from srrepro.metrics.registry import register_dataset_metric

register_dataset_metric("top1_error", lower_is_better=True, description="ResNet-50 top-1 error on SR ImageNet images")
register_dataset_metric("top5_error", lower_is_better=True, description="ResNet-50 top-5 error on SR ImageNet images")


def topk_errors(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[int, float]:
    """Fraction of samples whose label is not among the ``k`` highest logits, for each ``k``."""
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels).long()
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"logits must be (N, classes) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}")
    top = logits.topk(max(ks), dim=1).indices
    hits = top == labels[:, None]
    return {k: 1.0 - hits[:, :k].any(dim=1).float().mean().item() for k in ks}

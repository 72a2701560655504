"""Table III: ImageNet recognition of super-resolved images with an ImageNet ResNet-50.

Each validation image is bicubic-downsampled x1/4 (MATLAB ``imresize``), super-resolved by a callable, and
classified by ResNet-50 after torchvision's standard evaluation transform on PIL images: resize the shorter side
to 256 (PIL bilinear, which antialiases when shrinking; the longer side is truncated to an integer), centre crop
224 (offsets rounded), scale to [0, 1], normalise with the ImageNet mean and std. The HR baseline row classifies
the original images. Errors are top-1 / top-5 error rates over the first ``limit`` images of the labels file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image

from srrepro.atomic import atomic_path
from srrepro.data.assets import fetch_with_options
from srrepro.errors import AssetUnavailable
from srrepro.imaging.images import read_image
from srrepro.imaging.matlab import imresize
from srrepro.metrics.registry import RECOGNITION_DATASET
from srrepro.metrics.topk_error import topk_errors
from srrepro.models.backbones import ResNet50, resnet50

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE, CROP = 256, 224
METRICS = ("top1_error", "top5_error")


def read_labels(folder: str | os.PathLike) -> list[tuple[Path, int]]:
    """``(image path, class index)`` for each line ``file class`` (or ``file, class``) of ``folder/labels.txt``."""
    folder = Path(folder)
    pairs = []
    for number, line in enumerate((folder / "labels.txt").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{folder / 'labels.txt'} line {number}: expected 'file class_index', got {line!r}")
        image = folder / "images" / parts[0]
        pairs.append((image if image.exists() else folder / parts[0], int(parts[1])))
    return pairs


def resize_shorter(img: np.ndarray, size: int = RESIZE) -> np.ndarray:
    """torchvision ``Resize(size)`` on a PIL image: shorter side to ``size``, PIL bilinear."""
    height, width = img.shape[:2]
    if height <= width:
        new = (int(size * width / height), size)
    else:
        new = (size, int(size * height / width))
    return np.asarray(Image.fromarray(img).resize(new, Image.BILINEAR))


def center_crop(img: np.ndarray, size: int = CROP) -> np.ndarray:
    """torchvision ``CenterCrop(size)``: top = round((H - size) / 2), left = round((W - size) / 2)."""
    height, width = img.shape[:2]
    if height < size or width < size:
        raise ValueError(f"image {img.shape} is smaller than the {size}x{size} crop")
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return img[top : top + size, left : left + size]


def imagenet_transform(img: np.ndarray) -> torch.Tensor:
    """uint8 RGB (H, W, 3) → normalised float32 tensor (3, 224, 224), torchvision's ImageNet evaluation transform."""
    crop = center_crop(resize_shorter(np.asarray(img, dtype=np.uint8)))
    tensor = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (tensor - mean) / std


def load_classifier(asset_options: dict | None = None) -> ResNet50:
    """ImageNet ResNet-50 (asset ``resnet50``, torchvision IMAGENET1K_V1) in eval mode; raises AssetUnavailable."""
    return resnet50(fetch_with_options("resnet50", asset_options))


def degrade(img: np.ndarray, scale: int = 4) -> np.ndarray:
    """MATLAB bicubic x1/scale of a uint8 RGB image (the LR input of the SR model)."""
    return imresize(img, 1.0 / scale)


@torch.inference_mode()
def recognition_errors(
    folder: str | os.PathLike,
    classifier: torch.nn.Module,
    super_resolve: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    limit: int = 1000,
    scale: int = 4,
    batch_size: int = 16,
) -> dict[str, float]:
    """Top-1 / top-5 error of ``classifier`` on the first ``limit`` labelled images of ``folder``.

    With ``super_resolve`` the images are degraded x1/``scale`` and super-resolved first; without it they are
    classified as they are (the HR baseline row).
    """
    pairs = read_labels(folder)[:limit]
    logits, labels = [], []
    for start in range(0, len(pairs), batch_size):
        tensors = []
        for path, label in pairs[start : start + batch_size]:
            img = read_image(path)
            if super_resolve is not None:
                img = super_resolve(degrade(img, scale))
            tensors.append(imagenet_transform(img))
            labels.append(label)
        logits.append(classifier(torch.stack(tensors)))
    errors = topk_errors(torch.cat(logits), torch.tensor(labels))
    return {"images": len(pairs), "top1_error": errors[1], "top5_error": errors[5]}


def recognition_rows(models: dict[str, str], imagenet: str | None, *, limit: int, scale: int,
                     asset_options: dict | None = None) -> list[dict]:
    """Tidy rows (model, dataset, image, metric, value, note) of Table III for each ``name → spec`` of ``models``
    (spec 'hr', 'bicubic' or a model spec). ResNet-50 is loaded once. Without ImageNet images or ResNet-50 weights
    every value is n/a with the reason."""
    note, classifier = "", None
    if not imagenet:
        note = "ImageNet validation images not configured (data.imagenet)"
    else:
        try:
            classifier = load_classifier(asset_options)
        except AssetUnavailable as err:
            note = err.reason
    rows = []
    for name, spec in models.items():
        values = {metric: float("nan") for metric in METRICS}
        if classifier is not None:
            from srrepro.inference import load_upscaler

            upscaler = None if spec == "hr" else load_upscaler(spec, scale=scale, asset_options=asset_options)
            result = recognition_errors(imagenet, classifier, upscaler, limit=limit, scale=scale)
            values = {metric: result[metric] for metric in METRICS}
        rows += [{"model": name, "dataset": RECOGNITION_DATASET, "image": "all", "metric": metric, "value": value,
                  "note": note} for metric, value in values.items()]
    return rows


def write_recognition(models: dict[str, str], imagenet: str | None, out: str | Path, *, limit: int, scale: int,
                      asset_options: dict | None = None) -> str:
    """:func:`recognition_rows` written atomically as a tidy CSV to ``out``; returns them as printable text."""
    frame = pd.DataFrame(recognition_rows(models, imagenet, limit=limit, scale=scale, asset_options=asset_options))
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame.to_string(index=False)

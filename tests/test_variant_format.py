"""docs/variant-format.md is the code's own account: its reference section is what the code generates, and its worked
example is paper.yaml's FASRGAN, valid as written."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from srrepro.training.variant import reference_markdown, resolve_variant

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "variant-format.md").read_text()


def test_the_reference_section_is_the_generated_reference():
    embedded = DOC.split("<!-- reference:start -->\n", 1)[1].split("<!-- reference:end -->", 1)[0]
    assert embedded == reference_markdown(), "regenerate the section with srrepro.training.variant.reference_markdown()"


def test_the_worked_example_is_paper_fasrgan_and_resolves():
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", DOC, re.S).group(1))["variants"]["fasrgan"]
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())["variants"]["fasrgan"]
    for key, value in example.items():
        if key == "train":
            assert value == {k: paper["train"][k] for k in value}, "the example's train settings differ from paper.yaml"
        else:
            assert value == paper[key], f"the example's '{key}' differs from paper.yaml"
    resolved = resolve_variant({k: v for k, v in example.items() if k not in ("label", "init_from")}, "fasrgan")
    assert resolved["losses"]["attention"] == 0.01 and resolved["losses"]["map"] == 5.0e-3


def test_every_perceptual_layer_the_document_names_is_one_the_schema_accepts_and_vice_versa():
    from srrepro.training.losses import PERCEPTUAL_LAYERS
    from srrepro.training.variant import variant_schema

    named = set(re.findall(r"`(vgg\d+_[a-z0-9_]+)`", DOC))
    listed = set(re.findall(r"^\| `(vgg\d+_[a-z0-9_]+)` \|", DOC, re.M))
    accepted = set(variant_schema()["properties"]["perceptual_layer"]["enum"])
    assert named == listed == accepted == set(PERCEPTUAL_LAYERS)
    for layer in sorted(named):
        variant = {"procedure": "bce", "generator": {"arch": "srresnet", "nf": 8, "nb": 1},
                   "discriminator": {"arch": "srgan_d", "nf": 8, "input_size": 32},
                   "perceptual_layer": layer, "train": {"hr_patch": 32}}
        assert resolve_variant(variant)["perceptual_layer"] == layer

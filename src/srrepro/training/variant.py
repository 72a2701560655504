"""The variant specification: what one trained model is, with its defaults, schema and checks in one place.

A variant is a mapping (see ``docs/variant-format.md`` for the format and a worked example):
``procedure`` (the training objective, :data:`srrepro.training.procedures.PROCEDURES`), ``generator`` and optionally
``discriminator`` (``{arch, **build options}`` of :func:`srrepro.models.build_model`), ``losses`` (weights of the
procedure's terms), ``perceptual_layer``, ``scale`` and ``train`` (:data:`TRAIN_SETTINGS`). :func:`variant_schema`
turns these tables into the JSON schema that both :func:`resolve_variant` and the workflow's configuration use,
so enums and ranges are stated once, here and in the registries.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

import jsonschema
from torch import nn

from srrepro.errors import ConfigError
from srrepro.metrics import image_metrics
from srrepro.models import available_models, build_model
from srrepro.models.pairs import GANPair
from srrepro.models.registry import model_builder
from srrepro.training.losses import PERCEPTUAL_LAYERS
from srrepro.training.procedures import PROCEDURES, Networks


@dataclass(frozen=True)
class Setting:
    """One key of a variant's ``train`` mapping: its default, its JSON schema and what it means."""

    default: Any
    schema: dict
    doc: str


_POSITIVE_INT = {"type": "integer", "minimum": 1}
_RATE = {"type": "number", "minimum": 0}

TRAIN_SETTINGS: dict[str, Setting] = {
    "iterations": Setting(500000, _POSITIVE_INT, "total iterations (one G step and one D step each)"),
    "batch_size": Setting(16, _POSITIVE_INT, "patches per batch"),
    "hr_patch": Setting(128, {"type": "integer", "minimum": 8},
                        "HR crop side (LR crop = hr_patch / scale); must equal the discriminator's input size"),
    "augment": Setting(True, {"type": "boolean"}, "random dihedral (flip / transpose) augmentation"),
    "lr_g": Setting(1e-4, _RATE, "Adam learning rate of the generator (and a shared extractor)"),
    "lr_d": Setting(1e-4, _RATE, "Adam learning rate of the discriminator"),
    "lr_g_overrides": Setting({}, {"type": "object", "additionalProperties": _RATE},
                              "{parameter-name prefix: lr}, e.g. {spsa: 5e-4} for SPSAGAN's attention layer"),
    "betas": Setting([0.9, 0.999], {"type": "array", "minItems": 2, "maxItems": 2,
                                    "items": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}}, "Adam betas"),
    "weight_decay": Setting(0.0, _RATE, "Adam weight decay"),
    "lr_schedule": Setting("multistep", {"enum": ["multistep", "halve_every"]},
                           "multistep (milestones, gamma; the released configurations) or halve_every (step_size, "
                           "gamma; the FASRGAN paper text)"),
    "milestones": Setting([50000, 100000, 200000, 300000], {"type": "array", "items": _POSITIVE_INT},
                          "multistep: iterations at which the learning rates are multiplied by gamma"),
    "gamma": Setting(0.5, {"type": "number", "exclusiveMinimum": 0}, "learning-rate factor at each step"),
    "step_size": Setting(20000, _POSITIVE_INT, "halve_every: iterations between two steps"),
    "checkpoint_every": Setting(5000, _POSITIVE_INT, "checkpoint interval (also at the last iteration)"),
    "keep_checkpoints": Setting(2, {"type": "integer", "minimum": 0},
                                "newest checkpoints kept; 0: the newest until the final model is written, then none "
                                "(smoke runs: saves disk; a rerun then starts over)"),
    "validate_every": Setting(5000, {"type": "integer", "minimum": 0},
                              "validation interval (also at the last iteration); 0 disables; needs a validation set"),
    "val_metrics": Setting(["psnr", "lpips", "niqe", "pi"], {}, "validation metrics: a list, or {name: options}"),
    "log_every": Setting(100, _POSITIVE_INT, "train_log.jsonl record interval (also at the last iteration)"),
    "amp": Setting("fp32", {"enum": ["fp32", "bf16"]}, "bf16: autocast of the training steps"),
    "channels_last": Setting(False, {"type": "boolean"}, "channels_last memory format"),
}
PRUNE_SETTINGS: dict[str, Setting] = {
    "prune_batches": Setting(8, _POSITIVE_INT, "batches (of batch_size LR crops) on which Eq. 8 is measured"),
    "prune_threshold": Setting(0.05, {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                               "keep all of a layer's connections when the two 2-means class means differ by less "
                               "than this (relative to the higher mean)"),
    "prune_weights": Setting("init", {"enum": ["init", "scratch"]},
                             "init: copy the surviving weights of the unpruned run; scratch: keep only the masks"),
}
GENERATOR_TRAINING_KEYS = ("prune",)  # generator keys that direct training and are not build options
WORKFLOW_KEYS = ("label", "init_from")  # belong to the workflow; accepted and ignored by training
DEFAULT_PERCEPTUAL_LAYER = "vgg19_conv5_4"


def variant_schema() -> dict:
    """The JSON schema of a variant; enums come from the registries (procedures, architectures, metrics, layers)."""
    metrics = {"enum": image_metrics()}
    train = {name: dict(setting.schema) for name, setting in {**TRAIN_SETTINGS, **PRUNE_SETTINGS}.items()}
    train["val_metrics"] = {"type": ["array", "object"], "items": metrics, "propertyNames": metrics,
                            "additionalProperties": {"type": "object"}}
    network = {"type": "object", "required": ["arch"], "properties": {"arch": {"enum": available_models()}}}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["procedure", "generator"],
        "properties": {
            "label": {"type": "string", "description": "display name in tables and figures"},
            "init_from": {"type": "string", "description": "variant whose final weights initialise this one"},
            "procedure": {"enum": list(PROCEDURES)},
            "scale": {"type": "integer", "minimum": 2},
            "generator": {**network, "properties": {**network["properties"], "prune": {"type": "boolean"}}},
            "discriminator": network,
            "perceptual_layer": {"enum": list(PERCEPTUAL_LAYERS)},
            "losses": {"type": "object", "properties": {"pixel_criterion": {"enum": ["l1", "mse"]}},
                       "additionalProperties": {"type": "number", "minimum": 0}},
            "train": {"type": "object", "additionalProperties": False, "properties": train},
        },
    }


def schema_error_lines(errors, prefix: str = "", noun: str = "config key") -> list[str]:
    """One line per schema violation, each naming its key as a dotted path after ``prefix``."""
    lines = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = (prefix + ".".join(str(part) for part in error.absolute_path)).rstrip(".")
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
            extra = sorted(k for k in set(error.instance) - set(allowed) if not any(p.search(k) for p in patterns))
            where = f" in '{path}'" if path else ""
            lines += [f"unknown {noun} '{path + '.' if path else ''}{k}'; allowed keys{where}: {', '.join(allowed)}"
                      for k in extra]
        elif error.validator == "enum":
            lines.append(f"{noun} '{path}': {error.instance!r} is not one of "
                         f"{', '.join(map(str, error.validator_value))}")
        else:
            lines.append(f"{noun} '{path or '<top level>'}': {error.message}")
    return lines


def check_build_options(network: dict, key: str, noun: str = "config key") -> None:
    """Refuse build options the architecture's builder does not take, naming the key and the allowed options."""
    builder = model_builder(network["arch"])
    accepted = [p for p in inspect.signature(builder).parameters]
    unknown = sorted(set(network) - {"arch", *GENERATOR_TRAINING_KEYS} - set(accepted))
    if unknown:
        raise ConfigError(f"{noun} '{key}.{unknown[0]}': architecture '{network['arch']}' takes no option "
                          f"'{unknown[0]}'; its options: {', '.join(accepted)}")


def resolve_variant(variant: dict, key: str = "") -> dict:
    """Validate ``variant`` and fill every default. Errors raise :class:`ConfigError` naming the offending key,
    as ``<key>.<path>`` (``key`` is where the variant sits in the workflow configuration, e.g. ``variants.fasrgan``)."""
    noun = "config key" if key else "variant key"
    errors = list(jsonschema.Draft202012Validator(variant_schema()).iter_errors(variant))
    if errors:
        lines = schema_error_lines(errors, f"{key}." if key else "", noun)
        raise ConfigError("invalid variant:\n  " + "\n  ".join(lines))
    key = f"{key}." if key else ""
    procedure = PROCEDURES[variant["procedure"]]
    losses = {**procedure.loss_defaults, "pixel_criterion": "l1", **variant.get("losses", {})}
    unknown = sorted(set(losses) - {*procedure.loss_defaults, "pixel_criterion"})
    if unknown:
        raise ConfigError(f"{noun} '{key}losses.{unknown[0]}': procedure '{variant['procedure']}' has no loss "
                          f"term '{unknown[0]}'; its terms: {', '.join(procedure.loss_defaults)}")
    train = {**{name: s.default for name, s in TRAIN_SETTINGS.items()}, **variant.get("train", {})}
    prune = variant["generator"].get("prune", False)
    if prune:
        if variant["generator"]["arch"] != "spsagan":
            raise ConfigError(f"{noun} '{key}generator.prune': applies to arch 'spsagan' only, "
                              f"not {variant['generator']['arch']!r}")
        train = {**{name: s.default for name, s in PRUNE_SETTINGS.items()}, **train}
    elif stray := sorted(set(PRUNE_SETTINGS) & set(train)):
        raise ConfigError(f"{noun} '{key}train.{stray[0]}': needs 'generator.prune: true'")
    check_build_options(variant["generator"], f"{key}generator", noun)
    resolved = {"procedure": variant["procedure"], "scale": variant.get("scale", 4),
                "generator": dict(variant["generator"]), "losses": losses,
                "perceptual_layer": variant.get("perceptual_layer", DEFAULT_PERCEPTUAL_LAYER), "train": train}
    if "discriminator" in variant:
        check_build_options(variant["discriminator"], f"{key}discriminator", noun)
        resolved["discriminator"] = dict(variant["discriminator"])
    return resolved


def generator_options(cfg: dict) -> dict:
    """Build options of the generator (the ``generator`` mapping without ``arch`` and the training keys)."""
    return {k: v for k, v in cfg["generator"].items() if k != "arch" and k not in GENERATOR_TRAINING_KEYS}


def build_networks(cfg: dict) -> Networks:
    """Build the networks of a resolved variant; check the discriminator fits the HR patch."""
    options = generator_options(cfg)
    model = build_model(cfg["generator"]["arch"], **options)
    gan = PROCEDURES[cfg["procedure"]].objective is not None
    if isinstance(model, GANPair):
        if "discriminator" in cfg:
            raise ConfigError(f"config key 'discriminator' must be absent: generator arch "
                              f"'{cfg['generator']['arch']}' already includes its discriminator")
        nets = Networks(model, model.extractor, model.generator_trunk, model.discriminator if gan else None)
    else:
        discriminator = None
        if gan:
            if "discriminator" not in cfg:
                raise ConfigError(f"config key 'discriminator' is required by procedure '{cfg['procedure']}'")
            d_options = {k: v for k, v in cfg["discriminator"].items() if k != "arch"}
            discriminator = build_model(cfg["discriminator"]["arch"], **d_options)
        nets = Networks(model, nn.Identity(), model, discriminator)
    size = getattr(nets.discriminator, "input_size", None)
    if size is not None and size != cfg["train"]["hr_patch"]:
        raise ConfigError(f"config key 'train.hr_patch' ({cfg['train']['hr_patch']}) does not fit the discriminator, "
                          f"whose input size is {size}")
    return nets


def generator_options(cfg: dict) -> dict:
    """Build options of the generator (the ``generator`` mapping without ``arch`` and the training keys)."""
    return {k: v for k, v in cfg["generator"].items() if k != "arch" and k not in GENERATOR_TRAINING_KEYS}

"""The variant specification: what one trained model is, with its defaults, schema and checks in one place.

A variant is a mapping (see ``docs/variant-format.md`` for the format and a worked example):
``procedure`` (the training objective, :data:`srrepro.training.procedures.PROCEDURES`), ``generator`` and optionally
``discriminator`` (``{arch, **build options}`` of :func:`srrepro.models.build_model`), ``losses`` (weights of the
procedure's terms and :data:`~srrepro.training.losses.LOSS_OPTIONS`), ``perceptual_layer``, ``scale`` and ``train``
(:data:`TRAIN_SETTINGS`). The workflow's keys ``label``, ``init_from`` and ``train_data`` (the training datasets:
one name, a list = one pool of their images, or ``{name: ratio}`` = a mixture drawn by ratio) are accepted and left
to the workflow. :func:`variant_schema` turns these tables into the JSON schema that both :func:`resolve_variant`
and the workflow's configuration use, so enums and ranges are stated once, here and in the registries.

:func:`resolve_variant` also builds the variant's networks on the ``meta`` device (no memory, no weights) and checks
that they fit the procedure (:func:`check_networks`), so a wrong pairing stops a run before any job starts.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jsonschema
import torch
from torch import nn

from srrepro.data.datasets import list_dataset_names
from srrepro.errors import ConfigError
from srrepro.metrics import image_metrics
from srrepro.models import available_models, build_model
from srrepro.models.pairs import GANPair
from srrepro.models.registry import model_builder
from srrepro.training.losses import CRITERIA, LOSS_OPTIONS, PERCEPTUAL_LAYERS
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
    "batch_size": Setting(16, _POSITIVE_INT, "patches per batch; with several GPUs the global batch, split evenly "
                                             "over the training processes"),
    "hr_patch": Setting(128, {"type": "integer", "minimum": 8},
                        "HR crop side (LR crop = hr_patch / scale); must equal the discriminator's input size"),
    "augment": Setting(True, {"type": "boolean"}, "random dihedral (flip / transpose) augmentation"),
    "small_images": Setting("refuse", {"enum": ["refuse", "skip"]},
                            "training images whose LR side is smaller than the LR patch: refuse (stop, naming the "
                            "image) or skip (leave them out, counted and named in the run's log and in manifest.json's "
                            "skipped_images; training stops if none is left)"),
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
    "amp": Setting("fp32", {"enum": ["fp32", "bf16", "auto"]},
                   "bf16: autocast of the training steps; auto: bf16 with channels_last where the device computes bf16 "
                   "natively, else fp32 (srrepro.training.precision)"),
    "channels_last": Setting(False, {"type": "boolean"}, "channels_last memory format"),
    "shared_bn_statistics": Setting("all_passes", {"enum": ["all_passes", "generator_pass"]},
                                    "BatchNorm running statistics of an extractor G and D share (SRGAN_Fs): "
                                    "all_passes records E(LR), E(SR) and E(HR), as the authors' Fs loop does (E in "
                                    "train mode throughout); generator_pass records only E(LR), the input of "
                                    "inference"),
}
PRUNE_SETTINGS: dict[str, Setting] = {
    "prune_batches": Setting(8, _POSITIVE_INT, "batches (of batch_size LR crops) of the pruned run's training data on which Eq. 8 is measured"),
    "prune_threshold": Setting(0.05, {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                               "keep all of a layer's connections when the two 2-means class means differ by less "
                               "than this (relative to the higher mean)"),
    "prune_weights": Setting("init", {"enum": ["init", "scratch"]},
                             "init: copy the surviving weights of the unpruned run; scratch: keep only the masks"),
}
GENERATOR_TRAINING_KEYS = ("prune",)  # generator keys that direct training and are not build options
WORKFLOW_KEYS = ("label", "init_from", "train_data")  # belong to the workflow; accepted and ignored by training
DEFAULT_PERCEPTUAL_LAYER = "vgg19_conv5_4"
LOSS_OPTION_DOCS = {
    "pixel_criterion": f"criterion of the pixel term ({', '.join(CRITERIA)})",
    "perceptual_criterion": f"criterion between the SR and HR features ({', '.join(CRITERIA)})",
    "perceptual_scale": "factor on the SR and HR features before the criterion (SRGAN: 1/12.75)",
}


def variant_schema() -> dict:
    """The JSON schema of a variant; enums come from the registries (procedures, architectures, metrics, layers)."""
    metrics = {"enum": image_metrics()}
    train = {name: dict(setting.schema) for name, setting in {**TRAIN_SETTINGS, **PRUNE_SETTINGS}.items()}
    train["val_metrics"] = {"type": ["array", "object"], "items": metrics, "propertyNames": metrics,
                            "additionalProperties": {"type": "object"}}
    network = {"type": "object", "required": ["arch"], "properties": {"arch": {"enum": available_models()}}}
    dataset = {"enum": list_dataset_names()}
    criterion = {"enum": list(CRITERIA)}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["procedure", "generator"],
        "properties": {
            "label": {"type": "string", "description": "display name in tables and figures"},
            "init_from": {"type": "string", "description": "variant whose final weights initialise this one"},
            "train_data": {
                "description": "training data: a dataset, a list (one pool: every image equally likely) or "
                               "{dataset: ratio} (the dataset drawn by ratio, then an image); default data.train",
                "anyOf": [dataset, {"type": "array", "minItems": 1, "uniqueItems": True, "items": dataset},
                          {"type": "object", "minProperties": 1, "propertyNames": dataset,
                           "additionalProperties": {"type": "number", "exclusiveMinimum": 0}}]},
            "procedure": {"enum": list(PROCEDURES)},
            "scale": {"type": "integer", "minimum": 2},
            "generator": {**network, "properties": {**network["properties"], "prune": {"type": "boolean"}}},
            "discriminator": network,
            "perceptual_layer": {"enum": list(PERCEPTUAL_LAYERS)},
            "losses": {"type": "object", "properties": {"pixel_criterion": criterion,
                                                        "perceptual_criterion": criterion,
                                                        "perceptual_scale": {"type": "number", "exclusiveMinimum": 0}},
                       "additionalProperties": {"type": "number", "minimum": 0}},
            "train": {"type": "object", "additionalProperties": False, "properties": train},
        },
    }


def _branch_errors(error) -> list:
    """The sub-errors of the ``anyOf`` branch that fits the instance's JSON type (else the untyped branches)."""
    branches: dict[int, list] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0], []).append(sub)
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER
    typed = [i for i in branches if "type" in error.validator_value[i]
             and checker.is_type(error.instance, error.validator_value[i]["type"])]
    chosen = typed or [i for i in branches if "type" not in error.validator_value[i]] or list(branches)
    return branches[chosen[0]]


def schema_error_lines(errors, prefix: str = "", noun: str = "config key") -> list[str]:
    """One line per schema violation, each naming its key as a dotted path after ``prefix``."""
    lines = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = (prefix + ".".join(str(part) for part in error.absolute_path)).rstrip(".")
        if error.validator == "anyOf" and error.context:
            lines += schema_error_lines(_branch_errors(error), prefix, noun)
        elif error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
            extra = sorted(k for k in set(error.instance) - set(allowed) if not any(p.search(k) for p in patterns))
            where = f" in '{path}'" if path else ""
            lines += [f"unknown {noun} '{path + '.' if path else ''}{k}'; allowed keys{where}: {', '.join(allowed)}"
                      for k in extra]
        elif "propertyNames" in error.schema_path and "description" in error.schema:  # a refused key
            lines.append(f"{noun} '{path + '.' if path else ''}{error.instance}': {error.schema['description']}")
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
    for name, parameter in inspect.signature(builder).parameters.items():
        if name in network and not _fits(network[name], parameter.annotation):
            raise ConfigError(f"{noun} '{key}.{name}': {network[name]!r} is not of type {parameter.annotation} "
                              f"(architecture '{network['arch']}', default {parameter.default!r})")


_OPTION_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "None": (type(None),)}


def _fits(value, annotation: str) -> bool:
    """Whether a build option's value has the type its builder declares (annotations such as 'int', 'str | None';
    an undeclared one accepts anything). YAML's true/false are not numbers here."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    names = [part.strip() for part in text.split("|")]
    if not all(name in _OPTION_TYPES for name in names):
        return True
    types = tuple(t for name in names for t in _OPTION_TYPES[name])
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def resolve_variant(variant: dict, key: str = "") -> dict:
    """Validate ``variant`` and fill every default. Errors raise :class:`ConfigError` naming the offending key,
    as ``<key>.<path>`` (``key`` is where the variant sits in the workflow configuration, e.g. ``variants.fasrgan``).
    The networks are built on the meta device and checked against the procedure (:func:`check_networks`)."""
    noun = "config key" if key else "variant key"
    errors = list(jsonschema.Draft202012Validator(variant_schema()).iter_errors(variant))
    if errors:
        lines = schema_error_lines(errors, f"{key}." if key else "", noun)
        raise ConfigError(lines[0] if len(lines) == 1 else "invalid variant:\n  " + "\n  ".join(lines))
    where = key
    key = f"{key}." if key else ""
    procedure = PROCEDURES[variant["procedure"]]
    given = variant.get("losses", {})
    losses = {**procedure.loss_defaults, **LOSS_OPTIONS, **given}
    unknown = sorted(set(losses) - {*procedure.loss_defaults, *LOSS_OPTIONS})
    if unknown:
        raise ConfigError(f"{noun} '{key}losses.{unknown[0]}': procedure '{variant['procedure']}' has no loss "
                          f"term '{unknown[0]}'; its terms: {', '.join([*procedure.loss_defaults, *LOSS_OPTIONS])}")
    losses.update({term: losses[source] for term, source in procedure.tied.items() if term not in given})
    train = {**{name: s.default for name, s in TRAIN_SETTINGS.items()}, **variant.get("train", {})}
    prune = variant["generator"].get("prune", False)
    if prune:
        if variant["generator"]["arch"] != "spsagan":
            raise ConfigError(f"{noun} '{key}generator.prune': applies to arch 'spsagan' only, "
                              f"not {variant['generator']['arch']!r}")
        train = {**{name: s.default for name, s in PRUNE_SETTINGS.items()}, **train}
    elif stray := sorted(set(PRUNE_SETTINGS) & set(train)):
        raise ConfigError(f"{noun} '{key}train.{stray[0]}': needs 'generator.prune: true'")
    scale = variant.get("scale", 4)
    if train["hr_patch"] % scale:
        raise ConfigError(f"{noun} '{key}train.hr_patch': {train['hr_patch']} is not a multiple of the scale "
                          f"({scale})")
    check_build_options(variant["generator"], f"{key}generator", noun)
    resolved = {"procedure": variant["procedure"], "scale": scale,
                "generator": dict(variant["generator"]), "losses": losses,
                "perceptual_layer": variant.get("perceptual_layer", DEFAULT_PERCEPTUAL_LAYER), "train": train}
    if "discriminator" in variant:
        check_build_options(variant["discriminator"], f"{key}discriminator", noun)
        resolved["discriminator"] = dict(variant["discriminator"])
    check_networks(resolved, where, noun)
    return resolved


def generator_options(cfg: dict) -> dict:
    """Build options of the generator (the ``generator`` mapping without ``arch`` and the training keys)."""
    return {k: v for k, v in cfg["generator"].items() if k != "arch" and k not in GENERATOR_TRAINING_KEYS}


def _build(network: dict, options: dict, key: str, noun: str) -> nn.Module:
    try:
        return build_model(network["arch"], **options)
    except (ValueError, TypeError) as err:  # an option value the builder refuses
        raise ConfigError(f"{noun} '{key}': architecture '{network['arch']}' refuses its options: {err}") from err


def build_networks(cfg: dict, key: str = "", noun: str = "config key") -> Networks:
    """Build the networks of a resolved variant; check the procedure gets the discriminator it needs and that
    the discriminator fits the HR patch. ``key``: where the variant sits in the configuration (for messages)."""
    at = f"{key}." if key else ""
    model = _build(cfg["generator"], generator_options(cfg), f"{at}generator", noun)
    gan = PROCEDURES[cfg["procedure"]].objective is not None
    if isinstance(model, GANPair):
        if "discriminator" in cfg:
            raise ConfigError(f"{noun} '{at}discriminator' must be absent: generator arch "
                              f"'{cfg['generator']['arch']}' already includes its discriminator")
        nets = Networks(model, model.extractor, model.generator_trunk, model.discriminator if gan else None,
                        None if model.shared else model.discriminator_extractor,
                        d_passes_keep_bn_statistics=cfg["train"]["shared_bn_statistics"] == "generator_pass")
    else:
        discriminator = None
        if gan:
            if "discriminator" not in cfg:
                raise ConfigError(f"{noun} '{at}discriminator' is required by procedure '{cfg['procedure']}' "
                                  f"(generator arch '{cfg['generator']['arch']}' has none of its own)")
            d_options = {k: v for k, v in cfg["discriminator"].items() if k != "arch"}
            discriminator = _build(cfg["discriminator"], d_options, f"{at}discriminator", noun)
        elif "discriminator" in cfg:
            raise ConfigError(f"{noun} '{at}discriminator': procedure '{cfg['procedure']}' trains no "
                              f"discriminator; remove the key")
        nets = Networks(model, nn.Identity(), model, discriminator)
    size = getattr(nets.discriminator, "input_size", None)
    if size is not None and size != cfg["train"]["hr_patch"]:
        raise ConfigError(f"{noun} '{at}train.hr_patch' ({cfg['train']['hr_patch']}) does not fit the "
                          f"discriminator, whose input size is {size}")
    return nets


@contextmanager
def on_meta_device() -> Iterator[None]:
    """Build modules on the meta device (shapes only, no memory), skipping ``torch.nn.init``'s in-place
    initialisers: meaningless there, and slow (each is decomposed in Python on meta tensors)."""
    names = [n for n in vars(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(nn.init, n) for n in names}
    try:
        for name in names:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        with torch.device("meta"):
            yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


_CHECKED: dict[str, list[str]] = {}  # network specification → assets its generator needs (checked ones only)


def _network_spec(cfg: dict) -> str:
    return json.dumps([cfg["procedure"], cfg["scale"], cfg["generator"], cfg.get("discriminator"),
                       cfg["train"]["hr_patch"]], sort_keys=True)


def check_networks(cfg: dict, key: str = "", noun: str = "config key") -> None:
    """Build the networks of a resolved variant on the meta device (no memory, no weights) and run the
    discriminator on an HR patch: refuses a GAN procedure without a discriminator, a fine-grained objective whose
    discriminator has no map output, an HR patch the discriminator cannot take and a generator whose scale is not
    the variant's. Specifications already checked in this process are not built again."""
    spec = _network_spec(cfg)
    if spec in _CHECKED:
        return
    at = f"{key}." if key else ""
    objective = PROCEDURES[cfg["procedure"]].objective
    out = None
    with on_meta_device():
        nets = build_networks(cfg, key, noun)
        if objective is not None:
            patch = cfg["train"]["hr_patch"]
            try:
                out = nets.discriminate(torch.empty(2, 3, patch, patch))
            except (ValueError, RuntimeError) as err:
                raise ConfigError(f"{noun} '{at}train.hr_patch' ({patch}) does not fit the discriminator: "
                                  f"{' '.join(str(err).split())}") from err
    scale = getattr(nets.trunk, "scale", cfg["scale"])
    if scale != cfg["scale"]:
        raise ConfigError(f"{noun} '{at}generator.scale': the generator upscales x{scale}, the data x{cfg['scale']} "
                          f"(the configuration's scale); set generator.scale: {cfg['scale']}")
    if objective is not None and objective.fine_grained and not isinstance(out, tuple):
        arch = cfg.get("discriminator", cfg["generator"])["arch"]
        where = "discriminator.arch" if "discriminator" in cfg else "generator.arch"
        raise ConfigError(f"{noun} '{at}{where}': procedure '{cfg['procedure']}' needs a discriminator with a "
                          f"fine-grained map output, which '{arch}' lacks (use 'unet_fa', or a pair such as "
                          f"'rrdbnet_unet', 'srresnet_unet', 'fs_rrdbnet_unet')")
    prior = getattr(nets.model, "prior", None)
    _CHECKED[spec] = [prior.asset] if prior is not None and prior.asset else []


def required_assets(cfg: dict) -> list[str]:
    """Assets the generator of a resolved variant needs (its segmentation prior's weights)."""
    check_networks(cfg)
    return list(_CHECKED[_network_spec(cfg)])


def reference_markdown() -> str:
    """The Markdown reference of the procedures (their loss terms and defaults) and of the ``train`` settings (default
    and meaning), generated from the tables above; ``docs/variant-format.md`` embeds it (a test keeps them equal)."""
    lines = ["| procedure | GAN objective | loss terms and default weights |", "|---|---|---|"]
    for name, procedure in PROCEDURES.items():
        objective = "none (no discriminator)" if procedure.objective is None else procedure.objective.name
        weights = ", ".join(f"{term} = {procedure.tied[term]}" if term in procedure.tied else f"{term} {value:g}"
                            for term, value in procedure.loss_defaults.items())
        lines.append(f"| `{name}` | {objective} | {weights} |")
    lines += ["", "| `perceptual_layer` | network | `features` modules kept | meaning |", "|---|---|---|---|"]
    for name, layer in PERCEPTUAL_LAYERS.items():
        lines.append(f"| `{name}` | {layer.arch.upper()} | {layer.stop} | {layer.doc} |")
    lines += ["", "| `losses` option | default | meaning |", "|---|---|---|"]
    for name, default in LOSS_OPTIONS.items():
        lines.append(f"| `{name}` | `{json.dumps(default)}` | {LOSS_OPTION_DOCS[name]} |")
    lines += ["", "| train setting | default | meaning |", "|---|---|---|"]
    for name, setting in {**TRAIN_SETTINGS, **PRUNE_SETTINGS}.items():
        prune = " (with `generator.prune: true` only)" if name in PRUNE_SETTINGS else ""
        lines.append(f"| `{name}` | `{json.dumps(setting.default)}` | {setting.doc}{prune} |")
    return "\n".join(lines) + "\n"

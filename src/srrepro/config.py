"""Validating the workflow configuration before any job runs.

The structure is ``workflow/schemas/config.schema.yaml``; its enums and the variant format are filled in here from
the registries (metrics, procedures, architectures, training settings of :mod:`srrepro.training.variant`), so no
list of allowed values is written twice. Every variant is then resolved as training would resolve it (loss terms of
its procedure, build options against the architecture's signature). Error messages name the offending key as a
dotted path (e.g. ``variants.fasrgan.train.lr_g``) and the allowed values.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from srrepro.errors import ConfigError


def workflow_schema(schema_path: str | Path) -> dict:
    """The configuration schema with the registries' enums and the variant format filled in."""
    from srrepro.metrics import image_metrics
    from srrepro.models.released import RELEASED_MODELS
    from srrepro.training.variant import variant_schema

    schema = yaml.safe_load(Path(schema_path).read_text())
    schema["properties"]["evaluation"]["properties"]["metrics"]["items"] = {"enum": image_metrics()}
    released = schema["properties"]["released"]["properties"]
    released["models"]["items"] = {"enum": list(RELEASED_MODELS)}
    released["unverified_files"]["propertyNames"] = {"enum": list(RELEASED_MODELS)}
    variant = variant_schema()
    variant["required"] = ["label", "procedure", "generator", "train"]
    variant["properties"]["train"]["required"] = ["iterations", "batch_size", "hr_patch"]
    schema.setdefault("$defs", {})["variant"] = variant
    return schema


def validate_config(config: dict, schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every problem of ``config``, each naming its key."""
    from srrepro.training.variant import resolve_variant, schema_error_lines

    validator = jsonschema.Draft202012Validator(workflow_schema(schema_path))
    lines = schema_error_lines(validator.iter_errors(config))
    if lines:
        raise ConfigError(f"invalid configuration ({len(lines)} problem(s)):\n  " + "\n  ".join(lines))
    _check_references(config)
    for name, variant in config["variants"].items():
        resolve_variant(variant, key=f"variants.{name}")


def _check_references(config: dict) -> None:
    """Names that must refer to something else in the configuration."""
    variants = config["variants"]
    problems = []
    for name, variant in variants.items():
        source = variant.get("init_from")
        if source is not None and source not in variants:
            problems.append(f"config key 'variants.{name}.init_from': '{source}' is not a variant")
    reports = config.get("reports", {})
    for section in ("splits", "curves"):
        for label, variant in reports.get(section, {}).items():
            if variant not in variants:
                problems.append(f"config key 'reports.{section}.{label}': '{variant}' is not a variant")
    tested = set(config["data"]["test"])
    for paper_name, ours in reports.get("datasets", {}).items():
        if ours is not None and ours not in tested:
            problems.append(f"config key 'reports.datasets.{paper_name}': '{ours}' is not in data.test")
    for key in ("tradeoff_dataset", "split_dataset", "timing_dataset"):
        if key in reports and reports[key] not in tested:
            problems.append(f"config key 'reports.{key}': '{reports[key]}' is not in data.test")
    if reports.get("qualitative", {}).get("dataset", next(iter(tested))) not in tested:
        problems.append("config key 'reports.qualitative.dataset': not in data.test")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))

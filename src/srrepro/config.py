"""Loading and validating the workflow configuration against its JSON schema.

Error messages name the offending key as a dotted path (e.g. ``variants.fasrgan.train.lr_g``).
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import yaml

from srrepro.errors import ConfigError


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = sorted(k for k in set(error.instance) - set(allowed) if not any(p.search(k) for p in patterns))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"config key '{_key_path(error)}': unknown key(s) {', '.join(repr(k) for k in extra)}{hint}"
    return f"config key '{_key_path(error)}': {error.message}"


def validate_config(config: dict, schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every schema violation of ``config``, each naming its key."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  ".join(_describe(e) for e in errors)
        raise ConfigError(f"invalid configuration ({len(errors)} problem(s)):\n  {lines}")
    _check_references(config)


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


def load_config(path: str | Path, schema_path: str | Path) -> dict:
    """Read a YAML configuration file and validate it."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read configuration file {path}: {err}") from err
    if not isinstance(config, dict):
        raise ConfigError(f"configuration file {path} does not contain a mapping")
    validate_config(config, schema_path)
    return config

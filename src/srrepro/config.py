"""Validating the workflow configuration before any job runs.

The structure is ``workflow/schemas/config.schema.yaml``; its enums and the variant format are filled in here from
the registries (metrics, procedures, architectures, training settings of :mod:`srrepro.training.variant`), so no
list of allowed values is written twice. Every variant is then resolved as training would resolve it (loss terms of
its procedure, build options against the architecture's signature). Error messages name the offending key as a
dotted path (e.g. ``variants.fasrgan.train.lr_g``) and the allowed values.

``smoke: true`` turns any configuration into a smoke run (:func:`smoke_overrides`): the same grid, every variant
with its architecture, loss terms and discriminator input size, but trained for a couple of iterations, on one
seed, on a few small images, with random stand-ins for the weights that can only be downloaded.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from srrepro.errors import ConfigError


def workflow_schema(schema_path: str | Path) -> dict:
    """The configuration schema with the registries' enums and the variant format filled in."""
    from srrepro.metrics import image_metrics
    from srrepro.training.variant import variant_schema

    schema = yaml.safe_load(Path(schema_path).read_text())
    schema["properties"]["evaluation"]["properties"]["metrics"]["items"] = {"enum": image_metrics()}
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


# ---------------------------------------------------------------------------------------------- smoke runs

SMOKE_ITERATIONS = 2  # two G and D steps each, then a checkpoint, a validation and the final model
SMOKE_BATCH_SIZE = 1
SMOKE_TEST_LR_CROP = 96  # test / validation images: central crop of at most 96x96 LR pixels
SMOKE_IMAGES = 2  # images kept per prepared dataset (training sets are not cropped: hr_patch must fit)
SMOKE_RECOGNITION_IMAGES = 2  # Table III: ImageNet images per model
SMOKE_PRUNE_BATCHES = 2  # SPSAGAN: batches on which the RRSB pruning is measured
SMOKE_SUFFIX = "-smoke"  # appended to paths.data / results / reports, so a smoke run never meets a real run's files


def smoke_statement() -> str:
    """The sentence that opens every report of a smoke run."""
    from srrepro.data.stand_ins import STAND_IN_ASSETS

    return (f"SMOKE RUN (smoke: true), NOT RESULTS: the weights {', '.join(STAND_IN_ASSETS)} are seeded random "
            f"stand-ins; every variant was trained {SMOKE_ITERATIONS} iterations at batch {SMOKE_BATCH_SIZE} on one "
            f"seed; at most {SMOKE_IMAGES} images per set, test images centre-cropped to at most "
            f"{SMOKE_TEST_LR_CROP}x{SMOKE_TEST_LR_CROP} LR pixels. Every number below is meaningless; the run only "
            f"shows that the grid runs end to end.")


def smoke_overrides(config: dict) -> dict:
    """The configuration of the smoke run of ``config`` (a new dict; ``config`` is unchanged).

    Kept: every variant's architecture, loss terms, ``hr_patch`` (= the discriminator's input size), learning rates
    and schedule; the datasets, metrics and reports. Changed: one seed (the first); per variant ``iterations`` and
    ``batch_size`` (:data:`SMOKE_ITERATIONS`, :data:`SMOKE_BATCH_SIZE`), checkpoint / validation / log intervals that
    fit, ``keep_checkpoints`` 0 (a paper-scale FASRGAN checkpoint is 1 GB) and SPSAGAN's ``prune_batches``; Table
    III's image count; ``threads_per_job`` 1; the output paths (suffixed :data:`SMOKE_SUFFIX`); the scale note, which
    starts with :func:`smoke_statement`. The dataset crops are prepare options (:func:`smoke_prepare_options`).
    """
    smoke = copy.deepcopy(config)
    smoke["seeds"] = config["seeds"][:1]
    smoke["threads_per_job"] = 1  # smoke jobs are mostly single-threaded start-up: more jobs side by side pay off
    for key in ("data", "results", "reports"):
        path = Path(config["paths"][key])
        smoke["paths"][key] = str(path.with_name(path.name + SMOKE_SUFFIX))
    for variant in smoke["variants"].values():
        train = variant["train"]
        train.update(iterations=SMOKE_ITERATIONS, batch_size=SMOKE_BATCH_SIZE, checkpoint_every=SMOKE_ITERATIONS,
                     log_every=1, keep_checkpoints=0)  # the checkpoint is written (and so tested), then removed
        if train.get("validate_every", 1):  # 0 (no validation) stays off
            train["validate_every"] = SMOKE_ITERATIONS
        if variant["generator"].get("prune"):
            train["prune_batches"] = min(train.get("prune_batches", SMOKE_PRUNE_BATCHES), SMOKE_PRUNE_BATCHES)
    evaluation = smoke["evaluation"]
    evaluation["recognition_limit"] = min(evaluation.get("recognition_limit", SMOKE_RECOGNITION_IMAGES),
                                          SMOKE_RECOGNITION_IMAGES)
    smoke["reports"]["scale_note"] = f"{smoke_statement()} {config['reports']['scale_note']}"
    return smoke


def smoke_prepare_options(config: dict, dataset: str) -> dict:
    """``prepare_dataset`` options of ``dataset`` in a smoke run: the first images only, and for the sets that are
    evaluated (test and validation sets) their central crops."""
    data = config["data"]
    evaluated = dataset in data["test"] or dataset == data.get("validation")
    return {"max_images": SMOKE_IMAGES, **({"centre_crop_lr": SMOKE_TEST_LR_CROP} if evaluated else {})}

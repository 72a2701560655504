"""Validating the workflow configuration before any job runs.

The structure is ``workflow/schemas/config.schema.yaml``; its enums and the variant format are filled in here from
the registries (metrics, datasets, procedures, architectures, training settings of :mod:`srrepro.training.variant`),
so no list of allowed values is written twice; the schema also restricts variant names to what a folder name and a
Snakemake wildcard can be, and reserves the built-in models' names (:data:`BUILT_IN_MODELS`, ``released_*``). NaN
and infinite numbers are refused anywhere, and so are ``init_from`` cycles. Every variant is then resolved as
training would resolve it (loss terms of its procedure, build options and their types against the architecture's
signature, its networks built on the meta device and checked against the procedure), and the assets its networks
need without a download source (SFTGAN's segmentation weights) must be at hand. The configuration files themselves
are re-read to refuse YAML syntax errors (file, line, column) and duplicate keys, which YAML loaders (Snakemake's
included) silently resolve to the last one. ``srrepro plan`` validates the same way, the assets apart.

Error messages name the offending key as a dotted path (e.g. ``variants.fasrgan.train.lr_g``) and the allowed
values; a single problem is one line.

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
import math
import os
import re
from pathlib import Path

import jsonschema
import yaml

from srrepro.errors import ConfigError

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Models the workflow evaluates besides the variants, under these names (and the released ones as released_<name>):
# a variant may not take one of them.
BUILT_IN_MODELS = ("bicubic", "hr")
# The workflow's schema (the structure of a configuration), read by srrepro.config.validate_config.
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def check_duplicate_keys(path: str | os.PathLike) -> None:
    """Refuse a YAML file in which one mapping repeats a key (merge keys ``<<`` may be overridden, as YAML means)."""
    path = Path(path)
    try:
        root = yaml.compose(path.read_text(), Loader=yaml.SafeLoader)
    except OSError as err:
        raise ConfigError(f"config file {path}: cannot be read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(yaml_problem(path, err)) from None
    seen_nodes, stack = set(), [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if key.tag != _MERGE_TAG and isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in first:
                        raise ConfigError(f"config file {path}, line {line}: duplicate key '{key.value}' (first at "
                                          f"line {first[key.value]}); YAML would silently keep the last one, "
                                          f"remove one of them")
                    first[key.value] = line
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def yaml_problem(path: str | os.PathLike, err: yaml.YAMLError) -> str:
    """One line for a YAML syntax error of file ``path``: where (line, column), what, and the construct it was in."""
    mark = getattr(err, "problem_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or " ".join(str(err).split())
    context, context_mark = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        context += f" started at line {context_mark.line + 1}, column {context_mark.column + 1}"
    hint = "; indent with spaces, not tabs" if "'\\t'" in problem else ""
    return f"config file {path}{where}: not valid YAML: {problem}{f' ({context})' if context else ''}{hint}"


def workflow_schema(schema_path: str | Path) -> dict:
    """The configuration schema with the registries' enums and the variant format filled in."""
    from srrepro.data.datasets import list_dataset_names
    from srrepro.metrics import image_metrics
    from srrepro.models.released import MODEL_PREFIX, RELEASED_MODELS
    from srrepro.training.variant import variant_schema

    schema = yaml.safe_load(Path(schema_path).read_text())
    reserved = [*BUILT_IN_MODELS, f"{MODEL_PREFIX}<name>"]
    schema["properties"]["variants"]["propertyNames"]["allOf"].append({
        "not": {"anyOf": [{"enum": list(BUILT_IN_MODELS)}, {"pattern": f"^{MODEL_PREFIX}"}]},
        "description": f"the names {', '.join(reserved)} are reserved for the built-in models (the bicubic "
                       f"baseline, the HR images, the authors' released weights), whose results would be mixed "
                       f"with the variant's; rename the variant"})
    schema["properties"]["evaluation"]["properties"]["metrics"]["items"] = {"enum": image_metrics()}
    released = schema["properties"]["released"]["properties"]
    released["models"]["items"] = {"enum": list(RELEASED_MODELS)}
    released["unverified_files"]["propertyNames"] = {"enum": list(RELEASED_MODELS)}
    data = schema["properties"]["data"]["properties"]
    dataset = {"enum": list_dataset_names()}
    data["train"] = {**data["train"], "anyOf": [dataset, {"type": "array", "minItems": 1, "uniqueItems": True,
                                                          "items": dataset}]}
    data["validation"] = {"anyOf": [{"type": "null"}, dataset]}
    data["test"]["items"] = dataset
    variant = variant_schema()
    variant["required"] = ["label", "procedure", "generator", "train"]
    variant["properties"]["train"]["required"] = ["iterations", "batch_size", "hr_patch"]
    schema.setdefault("$defs", {})["variant"] = variant
    return schema


_VARIANT_KEY = re.compile(r"config key 'variants\.([^.']+)\.([^']*)'(.*)", re.S)


def _merge_shared(problems: list[str]) -> list[str]:
    """One line for one mistake made in several variants at once (a YAML anchor they share): the first variant's
    key, then "(also in <other variants>)"."""
    groups: dict[tuple[str, str], list[str]] = {}
    lines: list[str | tuple[str, str]] = []
    for problem in problems:
        match = _VARIANT_KEY.fullmatch(problem)
        if not match:
            lines.append(problem)
            continue
        key = (match[2], match[3])
        if key not in groups:
            groups[key] = []
            lines.append(key)
        groups[key].append(match[1])
    merged = []
    for line in lines:
        if isinstance(line, str):
            merged.append(line)
            continue
        first, *others = groups[line]
        also = f" (also in {', '.join(others)})" if others else ""
        merged.append(f"config key 'variants.{first}.{line[0]}'{also}{line[1]}")
    return merged


def _raise(problems: list[str]) -> None:
    problems = _merge_shared(problems)
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"invalid configuration ({len(problems)} problems):\n  " + "\n  ".join(problems))


def validate_config(config: dict, schema_path: str | Path = SCHEMA_FILE, *, assets: bool = True) -> None:
    """Raise :class:`ConfigError` listing every problem of ``config``, each naming its key. ``assets`` False skips
    the check that the assets the variants need are at hand (``srrepro plan`` needs none of them)."""
    from srrepro.training.variant import required_assets, resolve_variant, schema_error_lines

    if not Path(schema_path).is_file():
        raise ConfigError(f"the configuration schema {schema_path} is missing; run from a checkout of the project")
    _raise(_nonfinite_problems({k: v for k, v in config.items() if not str(k).startswith("_")}))
    validator = jsonschema.Draft202012Validator(workflow_schema(schema_path))
    _raise(schema_error_lines(validator.iter_errors(config)))
    _raise(_reference_problems(config) + _init_from_cycles(config["variants"]))
    problems, needs = [], {}
    for name, variant in config["variants"].items():
        try:
            resolved = resolve_variant({"scale": config["scale"], **variant}, key=f"variants.{name}")
        except ConfigError as err:
            problems += str(err).removeprefix("invalid variant:\n  ").split("\n  ")
            continue
        for asset in required_assets(resolved):
            needs.setdefault(asset, []).append(name)
    _raise(problems)
    if not assets:
        return
    from srrepro.data.assets import ASSETS

    _raise([f"config key 'assets.local.{name}': {path} does not exist"
            for name, path in config.get("assets", {}).get("local", {}).items() if not Path(path).expanduser().exists()])
    if config.get("smoke"):  # a smoke run writes seeded random stand-ins for the download-only weights
        from srrepro.stand_in_weights import STAND_IN_ASSETS

        needs = {asset: users for asset, users in needs.items() if asset not in STAND_IN_ASSETS}
    _raise([_asset_problem(config, asset, users) for asset, users in needs.items()
            if not ASSETS[asset].sources and asset_file(config, asset) is None])


def _reference_problems(config: dict) -> list[str]:
    """Names that must refer to something else in the configuration (or to the authors' released models)."""
    from srrepro.data.dataset_sources import SUBSETS
    from srrepro.models.released import RELEASED_MODELS, SPEC_PREFIX

    variants = config["variants"]
    problems = []
    for name, variant in variants.items():
        source = variant.get("init_from")
        if variant.get("generator", {}).get("prune") and source not in variants:
            problems.append(f"config key 'variants.{name}.init_from': {source!r} is no variant of this "
                            f"configuration; a pruning variant (generator.prune) starts from a trained variant, on "
                            f"whose training data the pruning is measured")
            continue
        if source is None or source in variants:
            continue
        if source.startswith(SPEC_PREFIX):
            if source[len(SPEC_PREFIX):] not in RELEASED_MODELS:
                problems.append(f"config key 'variants.{name}.init_from': '{source}' is not a released model; released "
                                f"models: {', '.join(SPEC_PREFIX + r for r in RELEASED_MODELS)}")
        else:
            problems.append(f"config key 'variants.{name}.init_from': '{source}' is not a variant (nor "
                            f"'{SPEC_PREFIX}<name>' of the authors' released weights)")
    reports = config.get("reports", {})
    for section in ("splits", "curves"):
        for label, variant in reports.get(section, {}).items():
            if variant not in variants:
                problems.append(f"config key 'reports.{section}.{label}': '{variant}' is not a variant")
    tested = set(config["data"]["test"])
    for paper_name, ours in reports.get("datasets", {}).items():
        if ours in SUBSETS and SUBSETS[ours].parent not in tested:
            problems.append(f"config key 'reports.datasets.{paper_name}': '{ours}' is images of "
                            f"{SUBSETS[ours].parent}, which is not in data.test; add it there")
        elif ours is not None and ours not in tested and ours not in SUBSETS:
            problems.append(f"config key 'reports.datasets.{paper_name}': '{ours}' is not in data.test (nor a "
                            f"subset: {', '.join(SUBSETS)})")
    for key in ("tradeoff_dataset", "split_dataset", "timing_dataset"):
        if key in reports and reports[key] not in tested:
            problems.append(f"config key 'reports.{key}': '{reports[key]}' is not in data.test")
    if "images" in reports.get("qualitative", {}):
        problems += [f"config key 'reports.qualitative.images[{index}]': dataset '{item['dataset']}' of image "
                     f"'{item['image']}' is not in data.test; add it there"
                     for index, item in enumerate(qualitative_images(config)) if item["dataset"] not in tested]
    elif missing := list(dict.fromkeys(i["dataset"] for i in qualitative_images(config) if i["dataset"] not in tested)):
        problems.append(f"config key 'reports.qualitative.images' is not set, so the figure shows the paper's images "
                        f"(FASRGAN Figs. 6-8), but their datasets {', '.join(missing)} are not in data.test; add them "
                        f"there or name the images to show")
    return problems


def _init_from_cycles(variants: dict) -> list[str]:
    """One line per ``init_from`` cycle among the variants (a variant starting from itself included), naming the
    cycle from its first variant in configuration order, and its keys: none of its variants could ever start."""
    order = {name: index for index, name in enumerate(variants)}
    seen, problems = set(), []
    for name in variants:
        chain = [name]
        while (source := variants[chain[-1]].get("init_from")) in variants and source not in chain:
            chain.append(source)
        if source not in chain:
            continue
        cycle = chain[chain.index(source):]
        first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
        cycle = cycle[first:] + cycle[:first]
        if frozenset(cycle) in seen:
            continue
        seen.add(frozenset(cycle))
        keys = ", ".join(f"'variants.{v}.init_from'" for v in cycle)
        why, fix = (("each waits for another's model", "start one of them") if len(cycle) > 1 else
                    ("a variant cannot start from its own model", "start it"))
        problems.append(f"config key{'s' if len(cycle) > 1 else ''} {keys}: init_from cycle "
                        f"{' -> '.join([*cycle, cycle[0]])} ({why}); {fix} from scratch (remove init_from), from "
                        f"another variant or from released:<name>")
    return problems


def _nonfinite_problems(node, path: str = "") -> list[str]:
    """Every NaN or infinite number (YAML's .nan, .inf), which no setting accepts (a NaN learning rate would stop
    training after the old run was moved aside)."""
    if isinstance(node, float) and not math.isfinite(node):
        return [f"config key '{path}': {node} is not a finite number; give a finite value"]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    return [line for key, value in items for line in _nonfinite_problems(value, f"{path}.{key}" if path else str(key))]


def qualitative_images(config: dict) -> list[dict]:
    """The images of the qualitative figure: ``reports.qualitative.images``, else the paper's (FASRGAN Figs. 6-8,
    :data:`srrepro.reporting.table_specs.PAPER_CROPS`), each {figure?, dataset, image, at?}."""
    from srrepro.reporting.table_specs import PAPER_CROPS

    images = config.get("reports", {}).get("qualitative", {}).get("images")
    if images is not None:
        return images
    return [{"figure": figure, "dataset": dataset, "image": image} for figure, dataset, image in PAPER_CROPS]


def asset_file(config: dict, name: str) -> Path | None:
    """Where the workflow finds asset ``name`` without downloading: the config key ``assets.local.<name>``, the
    data mirror (``<data.mirror>/<file>`` or one folder below it) or the asset cache (``paths.assets``, which keeps
    a verified copy of every asset used once). None when in none of them."""
    from srrepro.data.assets import ASSETS

    given = workflow_asset_files(config).get(name)
    if given is not None:
        return given
    filename = ASSETS[name].filename
    cached = Path(config["paths"]["assets"]) / filename
    return cached if cached.is_file() and cached.with_name(filename + ".provenance.json").is_file() else None


def workflow_asset_files(config: dict) -> dict[str, Path]:
    """Asset name → local file for the training jobs: ``assets.local``, plus every asset without a download source
    that the data mirror holds (see :func:`asset_file`)."""
    from srrepro.data.assets import ASSETS

    files = {name: Path(path).expanduser() for name, path in config.get("assets", {}).get("local", {}).items()}
    mirror = config["data"].get("mirror")
    if mirror and Path(mirror).is_dir():
        for name, asset in ASSETS.items():
            found = sorted([*Path(mirror).glob(asset.filename), *Path(mirror).glob(f"*/{asset.filename}")])
            if name not in files and not asset.sources and found:
                files[name] = found[0]
    return files


def _asset_problem(config: dict, name: str, users: list[str]) -> str:
    from srrepro.data.assets import ASSETS

    asset = ASSETS[name]
    where = [f"config key '{asset.config_key}' (not set)", f"the asset cache {config['paths']['assets']}"]
    if config["data"].get("mirror"):
        where.append(f"the data mirror {config['data']['mirror']}")
    return (f"asset '{name}' ({asset.filename}: {asset.description}) needed by variant(s) {', '.join(users)} is "
            f"in none of: {'; '.join(where)}; supply the file with the config key '{asset.config_key}'")


def training_datasets(config: dict, variant: str | None = None) -> dict[str, float | None]:
    """Dataset name → sampling ratio (None: one pool) of a variant's training data: its ``train_data`` (a name,
    a list = one pool of their images, or {name: ratio}), else ``data.train`` (a name or a list = one pool), which
    ``variant`` None gives."""
    spec = config["data"]["train"] if variant is None else config["variants"][variant].get(
        "train_data", config["data"]["train"])
    if isinstance(spec, str):
        return {spec: None}
    if isinstance(spec, list):
        return dict.fromkeys(spec)
    return dict(spec)


def workflow_datasets(config: dict) -> list[str]:
    """Every dataset the workflow prepares: the training data of every variant, the validation and test sets."""
    names = {*training_datasets(config), *config["data"]["test"]}
    if config["data"].get("validation"):
        names.add(config["data"]["validation"])
    for variant in config["variants"]:
        names.update(training_datasets(config, variant))
    return sorted(names)


def pruning_datasets(config: dict, variant: str) -> dict[str, float | None]:
    """The training data (as :func:`training_datasets`) on which a pruning variant (``generator.prune``) measures
    Eq. 8: that of the run it prunes, its ``init_from``, whose last iterations the paper measures on; {} for the
    other variants."""
    spec = config["variants"][variant]
    if not spec.get("generator", {}).get("prune"):
        return {}
    return training_datasets(config, spec["init_from"])


def _data_arguments(datasets: dict[str, float | None], root: str, option: str) -> str:
    arguments = " ".join(f"--{option} {root}/{name}" for name in datasets)
    ratios = list(datasets.values())
    return arguments + (f" --{option}-ratio {':'.join(f'{r:g}' for r in ratios)}" if ratios[0] is not None else "")


def training_data_arguments(config: dict, variant: str, root: str) -> str:
    """``srrepro train`` arguments for a variant's training data prepared under ``root``: ``--data`` per dataset,
    and ``--data-ratio`` for a mixture (e.g. SPSAGAN's OST_train:DIV2K_train = 10:1); for a pruning variant also
    ``--prune-data`` (and ``--prune-data-ratio``), the pruned run's (:func:`pruning_datasets`)."""
    arguments = _data_arguments(training_datasets(config, variant), root, "data")
    pruning = pruning_datasets(config, variant)
    return arguments + (" " + _data_arguments(pruning, root, "prune-data") if pruning else "")
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
    from srrepro.models.released import RELEASED_MODELS
    from srrepro.stand_in_weights import STAND_IN_ASSETS

    released = [a for spec in RELEASED_MODELS.values() for a in spec.assets if a in STAND_IN_ASSETS]
    others = [a for a in STAND_IN_ASSETS if a not in released]
    return (f"SMOKE RUN (smoke: true), NOT RESULTS: the weights {', '.join(others)} and the authors' released "
            f"generators ({', '.join(released)}) are seeded random "
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

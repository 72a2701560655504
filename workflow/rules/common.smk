# Names, target lists and option strings shared by the rules, derived from the configuration and the library
# (which holds the paper tables' specifications).

from srrepro.config import (qualitative_images, smoke_overrides, smoke_prepare_options, training_datasets,
                            workflow_asset_files)
from srrepro.models.released import RELEASED_MODELS, SPEC_PREFIX, model_id
from srrepro.reporting.table_specs import (FIGURE_CAPTIONS, FIGURES, PAPER_TABLES, analysed_variants, protocol_metrics,
                                          recognition_models)

# smoke: true runs the same grid as a smoke run (srrepro.config.smoke_overrides): the configuration below is the
# adjusted one (one seed, 2 iterations at batch 1, '-smoke' paths, the scale note opening with the smoke statement).
SMOKE = config.get("smoke", False)
if SMOKE:
    config.update(smoke_overrides(config))

def interpreter():
    """The Python that runs Snakemake, named stably: `python -m snakemake` and the `snakemake` script of the same
    environment run `python` and `python3`, and a different string in a rule's params would rerun the job."""
    stable = os.path.join(sys.prefix, "bin", "python")
    return stable if os.path.exists(stable) and os.path.samefile(stable, sys.executable) else sys.executable


PYTHON = interpreter()
SRREPRO = f"{PYTHON} -m srrepro.cli"
# `srrepro.cli` of a job with `resources.gpu` GPUs: under torchrun with one process per GPU (data-parallel training)
# when there are several, else one process. Chosen by the shell, not in params: a changed GPU count (a profile's
# `gpu:`) does not rerun finished jobs, and the run folder continues with the new count.
LAUNCH_CLI = (
    "$(if [ {resources.gpu} -gt 1 ]; then echo {params.python} -m torch.distributed.run --standalone"
    " --nproc_per_node={resources.gpu}; else echo {params.python}; fi) -m srrepro.cli"
)
DATA = config["paths"]["data"]
RESULTS = config["paths"]["results"]
REPORTS = config["paths"]["reports"]
ASSETS = config["paths"]["assets"]
SCALE = config["scale"]
SEEDS = config["seeds"]
VARIANTS = config["variants"]
TEST_SETS = config["data"]["test"]
REPORT = config["reports"]
SCALE_NOTE = REPORT["scale_note"]
TIMING_SET = REPORT.get("timing_dataset", TEST_SETS[0])
RELEASED = config.get("released", {})


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    variant=r"[a-z0-9_]+",
    seed=r"\d+",
    model=r"hr|bicubic|released_[a-z0-9_]+|[a-z0-9_]+-s\d+",


def trained_models():
    """``<variant>-s<seed>`` of every trained model."""
    return [m for v in VARIANTS for m in seed_models(v)]


def released_models():
    """The authors' released models evaluated here: ``released_<name>`` -> name (config key released.models)."""
    return {model_id(name): name for name in RELEASED.get("models", [])}


def evaluated_models():
    """Every model whose SR images are evaluated: bicubic, the trained models and the released ones."""
    return ["bicubic"] + trained_models() + list(released_models())


def evaluated_metrics():
    """evaluation.metrics, plus the metrics a paper table's protocol needs (Wu's Table 1: psnr_rgb, ssim_rgb)."""
    return list(dict.fromkeys([*config["evaluation"]["metrics"], *protocol_metrics()]))


def evaluate_options():
    """The options of `srrepro evaluate-model` after the models: test sets, metrics, scale, tiles, arithmetic."""
    evaluation = config["evaluation"]
    return " ".join([
        *(f"--dataset {d}={DATA}/{d}" for d in TEST_SETS),
        f"--metrics {','.join(evaluated_metrics())} --scale {SCALE}",
        f"--tile {evaluation['tile']}" if evaluation.get("tile") else "",
        f"--amp {evaluation.get('amp', 'fp32')}",
        asset_options(),
    ])


def seed_models(variant):
    """The trained models of ``variant``: ``<variant>-s<seed>`` for every seed."""
    return [f"{variant}-s{s}" for s in SEEDS]


def model_spec(model):
    """What `srrepro evaluate-model --model` runs for an untrained model: 'bicubic', or a released model (the pinned
    download, or the file(s) of released.unverified_files)."""
    if model == "bicubic":
        return "bicubic"
    name = released_models()[model]
    return RELEASED.get("unverified_files", {}).get(name, f"{SPEC_PREFIX}{name}")


def paper_tables():
    return list(PAPER_TABLES)


def figures():
    return list(FIGURES)


def recognition_targets():
    """Models of Table III: 'hr', 'bicubic' and the configured variants of its rows, per seed."""
    return recognition_models(VARIANTS, SEEDS)


def analysed():
    """Sec. IV-E: method -> configured variant."""
    return analysed_variants(VARIANTS)



def mirror_option():
    """Where datasets come from: the mirror first, then (data.download) a checksummed download into the cache."""
    mirror = config["data"].get("mirror")
    options = [f"--mirror {mirror}"] if mirror else []
    if config["data"].get("download", False):
        options += [f"--cache {ASSETS}", "--download"]
    return " ".join(options)


def asset_options():
    """Where jobs find external weights: the cache, assets.local plus the assets without a download source found in
    the data mirror (SFTGAN's segmentation weights), and the asset mirror."""
    options = [f"--asset-cache {ASSETS}"] + [f"--asset {name}={path}" for name, path in workflow_asset_files(config).items()]
    if config.get("assets", {}).get("mirror"):
        options.append(f"--asset-mirror {config['assets']['mirror']}")
    if SMOKE:
        options.append(f"--asset-stand-ins {RESULTS}/stand-ins")
    return " ".join(options)


def prepare_options(dataset):
    """Smoke runs: the first images only, test and validation sets centre-cropped (prepare's own flags)."""
    if not SMOKE:
        return ""
    options = smoke_prepare_options(config, dataset)
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in options.items())


def threads_per_job():
    return config.get("threads_per_job", 1)


def init_checkpoint(wildcards):
    """The model file a variant starts from: another variant's of the same seed, or the authors' released weights
    (init_from: released:<name>) as one of our model files."""
    source = VARIANTS[wildcards.variant].get("init_from")
    if source is None:
        return []
    if source.startswith(SPEC_PREFIX):
        return [f"{RESULTS}/released/{source[len(SPEC_PREFIX):]}.pt"]
    return [f"{RESULTS}/models/{source}/seed{wildcards.seed}/model.pt"]


def validation_data(wildcards):
    name = config["data"].get("validation")
    return [f"{DATA}/{name}"] if name else []


def training_spec(variant):
    """The variant as the trainer takes it: workflow-only keys removed, the scale added, as JSON."""
    spec = {k: v for k, v in VARIANTS[variant].items() if k not in ("label", "init_from")}
    return json.dumps({"scale": SCALE, **spec}, sort_keys=True)


def trained_model_file(model):
    """``results/models/<variant>/seed<N>/model.pt`` of ``<variant>-s<N>``."""
    variant, seed = model.rsplit("-s", 1)
    return f"{RESULTS}/models/{variant}/seed{seed}/model.pt"


def manifest_file(model):
    """``results/train/<variant>/seed<N>/manifest.json`` of ``<variant>-s<N>`` (how the run trained)."""
    variant, seed = model.rsplit("-s", 1)
    return f"{RESULTS}/train/{variant}/seed{seed}/manifest.json"


def recognition_specs():
    """Table III's models: name → 'hr', 'bicubic' or a model file."""
    return {m: m if m in ("hr", "bicubic") else trained_model_file(m) for m in recognition_targets()}


def recognition_model_files():
    return [spec for spec in recognition_specs().values() if spec not in ("hr", "bicubic")]


def model_analysis_spec():
    spec = {
        method: {
            "variant": variant,
            "files": [f"{RESULTS}/models/{variant}/seed{s}/model.pt" for s in SEEDS],
            "sr_dirs": [f"{RESULTS}/sr/{variant}-s{s}/{TIMING_SET}" for s in SEEDS],
        }
        for method, variant in analysed().items()
    }
    return json.dumps(spec)


def labels():
    """Display label of every model: bicubic, the variants (config labels) and the released models."""
    released = {model: RELEASED_MODELS[name].label for model, name in released_models().items()}
    return {"bicubic": "Bicubic", **{v: VARIANTS[v]["label"] for v in VARIANTS}, **released}


def _curve_logs():
    return {
        label: [f"{RESULTS}/train/{v}/seed{s}/val_log.csv" for s in SEEDS]
        for label, v in REPORT.get("curves", {}).items()
        if v in VARIANTS
    }


def figure_inputs(wildcards):
    if wildcards.figure in ("fig5", "fig13"):
        return [f"{RESULTS}/summary.csv"]
    if wildcards.figure == "fig9":
        variants = [v for v in REPORT.get("curves", {}).values() if v in VARIANTS]
        return [f"{RESULTS}/models/{v}/seed{s}/model.pt" for v in variants for s in SEEDS]
    datasets = dict.fromkeys(item["dataset"] for item in qualitative_images(config))
    return [f"{DATA}/{dataset}" for dataset in datasets] + [f"{RESULTS}/sr/{m}" for m in ["bicubic"] + trained_models()]


def figure_spec(figure):
    if figure == "fig5":
        spec = {"summary": f"{RESULTS}/summary.csv", "dataset": REPORT["tradeoff_dataset"], "labels": labels()}
    elif figure == "fig13":
        splits = {k: v for k, v in REPORT.get("splits", {}).items() if v in VARIANTS}
        spec = {"summary": f"{RESULTS}/summary.csv", "dataset": REPORT["split_dataset"], "splits": splits}
    elif figure == "fig9":
        spec = {"val_logs": _curve_logs()}
    else:
        names = labels()
        shown = {
            m: names[m] if m == "bicubic" else f"{names[m.rsplit('-s', 1)[0]]} (seed {m.rsplit('-s', 1)[1]})"
            for m in ["bicubic"] + trained_models()
            if m == "bicubic" or m.endswith(f"-s{SEEDS[0]}")
        }
        images = [{**item, "hr_dir": f"{DATA}/{item['dataset']}/HR",
                   "sr_dirs": {label: f"{RESULTS}/sr/{m}/{item['dataset']}" for m, label in shown.items()}}
                  for item in qualitative_images(config)]
        spec = {"images": images, "crop": REPORT["qualitative"]["crop"]}
    return json.dumps(spec)


def index_spec():
    """What the index page shows: the data, the substitutions, every table's page and every figure."""
    datasets = config["data"]
    notes = [
        f"training set: {' + '.join(training_datasets(config))}; validation: {datasets.get('validation')}; test sets: {', '.join(TEST_SETS)}",
        f"benchmark mirror: {datasets.get('mirror') or 'none (embedded demo photographs only)'}",
        f"ImageNet validation images (Table III): {datasets.get('imagenet') or 'not configured: Table III is n/a'}",
        f"seeds: {', '.join(map(str, SEEDS))}; variants trained: {len(VARIANTS)}",
    ]
    subs = [f"{paper} → {ours}" for paper, ours in REPORT["datasets"].items() if ours and ours != paper]
    subs += [f"{paper}: not available here" for paper, ours in REPORT["datasets"].items() if not ours]
    subs += [
        f"{name}: perceptual loss on {v['perceptual_layer']}"
        for name, v in VARIANTS.items()
        if v.get("perceptual_layer", "vgg19_conv5_4") != "vgg19_conv5_4"
    ]
    subs += [
        f"{name}: the discriminator's passes leave the shared extractor's BatchNorm statistics to E(LR) "
        f"(train.shared_bn_statistics: generator_pass; the authors' Fs loop: all_passes)"
        for name, v in VARIANTS.items()
        if v.get("train", {}).get("shared_bn_statistics") == "generator_pass"
    ]
    tables = [f"{REPORTS}/tables/{t}.html" for t in paper_tables() + ["training_effects", "overview", "model_analysis"]]
    return {
        "data_notes": notes,
        "substitutions": subs,
        "paper_tables": [f"{REPORTS}/tables/{t}.csv" for t in paper_tables()],
        "tables": tables,
        "figures": [[f, f"{REPORTS}/figures/{f}.png", FIGURE_CAPTIONS[f]] for f in figures()],
    }

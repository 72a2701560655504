# Names, target lists and option strings shared by the rules, derived from the configuration and the library
# (which holds the paper tables' specifications).

from srrepro.config import smoke_overrides, smoke_prepare_options
from srrepro.reporting.table_specs import FIGURES, PAPER_TABLES, analysed_variants, recognition_models

# smoke: true runs the same grid as a smoke run (srrepro.config.smoke_overrides): the configuration below is the
# adjusted one (one seed, 2 iterations at batch 1, '-smoke' paths, the scale note opening with the smoke statement).
SMOKE = config.get("smoke", False)
if SMOKE:
    config.update(smoke_overrides(config))

PY = sys.executable
SRREPRO = f"{PY} -m srrepro.cli"
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


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    variant=r"[a-z0-9_]+",
    seed=r"\d+",
    model=r"hr|bicubic|[a-z0-9_]+-s\d+",


def trained_models():
    """``<variant>-s<seed>`` of every trained model."""
    return [f"{v}-s{s}" for v in VARIANTS for s in SEEDS]


def evaluated_models():
    """Every model whose SR images are evaluated: bicubic and the trained models."""
    return ["bicubic"] + trained_models()


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
    local = config.get("assets", {}).get("local", {})
    pairs = " ".join(f"--asset {name}={path}" for name, path in local.items())
    stand_ins = f"--asset-stand-ins {RESULTS}/stand-ins" if SMOKE else ""
    return f"--asset-cache {ASSETS} {pairs} {stand_ins}".strip()


def prepare_options(dataset):
    """Smoke runs: the first images only, test and validation sets centre-cropped (prepare's own flags)."""
    if not SMOKE:
        return ""
    options = smoke_prepare_options(config, dataset)
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in options.items())


def threads_per_job():
    return config.get("threads_per_job", 1)


def init_checkpoint(wildcards):
    source = VARIANTS[wildcards.variant].get("init_from")
    return [f"{RESULTS}/models/{source}/seed{wildcards.seed}/model.pt"] if source else []


def validation_data(wildcards):
    name = config["data"].get("validation")
    return [f"{DATA}/{name}"] if name else []


def model_file(wildcards):
    return [] if wildcards.model == "bicubic" else [trained_model_file(wildcards.model)]


def training_spec(variant):
    """The variant as the trainer takes it: workflow-only keys removed, the scale added, as JSON."""
    spec = {k: v for k, v in VARIANTS[variant].items() if k not in ("label", "init_from")}
    return json.dumps({"scale": SCALE, **spec}, sort_keys=True)


def trained_model_file(model):
    """``results/models/<variant>/seed<N>/model.pt`` of ``<variant>-s<N>``."""
    variant, seed = model.rsplit("-s", 1)
    return f"{RESULTS}/models/{variant}/seed{seed}/model.pt"


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


def _labels():
    return {"bicubic": "Bicubic", **{v: VARIANTS[v]["label"] for v in VARIANTS}}


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
    dataset = REPORT["qualitative"]["dataset"]
    return [f"{DATA}/{dataset}"] + [f"{RESULTS}/sr/{m}" for m in evaluated_models()]


def figure_spec(figure):
    if figure == "fig5":
        spec = {"summary": f"{RESULTS}/summary.csv", "dataset": REPORT["tradeoff_dataset"], "labels": _labels()}
    elif figure == "fig13":
        splits = {k: v for k, v in REPORT.get("splits", {}).items() if v in VARIANTS}
        spec = {"summary": f"{RESULTS}/summary.csv", "dataset": REPORT["split_dataset"], "splits": splits}
    elif figure == "fig9":
        spec = {"val_logs": _curve_logs()}
    else:
        dataset = REPORT["qualitative"]["dataset"]
        labels = _labels()
        sr_dirs = {
            (labels[m] if m == "bicubic" else f"{labels[m.rsplit('-s', 1)[0]]} (seed {m.rsplit('-s', 1)[1]})"): f"{RESULTS}/sr/{m}/{dataset}"
            for m in evaluated_models()
            if m == "bicubic" or m.endswith(f"-s{SEEDS[0]}")
        }
        spec = {"hr_dir": f"{DATA}/{dataset}/HR", "sr_dirs": sr_dirs, "crop": REPORT["qualitative"]["crop"]}
    return json.dumps(spec)


def index_spec():
    datasets = config["data"]
    notes = [
        f"training set: {datasets['train']}; validation: {datasets.get('validation')}; test sets: {', '.join(TEST_SETS)}",
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
    artefacts = [(t, f"tables/{t}.md", "table") for t in paper_tables()]
    artefacts += [("overview", "tables/overview.md", "table"), ("model_analysis", "tables/model_analysis.md", "table")]
    artefacts += [(f, f"figures/{f}.png", "figure") for f in figures()]
    return json.dumps({"data_notes": notes, "substitutions": subs, "artefacts": artefacts})

"""Train one variant: PSNR pre-training or a GAN phase, with checkpoints, resume, logs and validation.

Variant dictionary (every key but ``procedure`` and ``generator`` optional; unknown keys are refused, the workflow's
``label`` and ``init_from`` are accepted and ignored)::

    procedure          str   one of PROCEDURES: psnr, esrgan, fasrgan, fs_srgan, fa_fs_srgan, srgan, srgan_fa,
                             srgan_fs, wu, spsagan (objective and step order; see srrepro.training.procedures)
    scale              int   4        upscaling factor; data is read from <data_dir>/LR_x{scale}
    generator          dict  {arch, **options} for srrepro.models.build_model. Either a generator (rrdbnet, srresnet,
                             attention_srgan, spsagan, ...) or a generator/discriminator pair returning a
                             FeatureSharingGAN (fasrgan, fs_srgan, fa_fs_srgan, srgan_fa, srgan_fs); a pair is saved
                             whole (its forward generates).
        prune          bool  false    (arch spsagan only; not a build option, not saved in model.pt's options) turn
                             the RRDB trunk into RRSBs before training: needs ``init_checkpoint`` (an spsagan or
                             rrdbnet model of the same nf/nb/gc); with its weights, Eq. 8 is measured on
                             ``train.prune_batches`` LR batches (the first batches of the seeded patch sampler, whose
                             state is then rewound), masks by the 2-means / ``train.prune_threshold`` rule, then
                             ``train.prune_weights``. Only when starting at iteration 0; a resumed run rebuilds the
                             pruned convs from the checkpoint's masks. model.pt carries the masks (load_model).
                             SPSAGAN ablation rungs (Fig. 11) via spsagan's ``attention``: "none" (ESRGAN, RRSB trunk),
                             "self" (+ feature attention), "spsa" (+ segmentation attention; ``prior`` "colour"|"ost"),
                             and ``prune: true`` (+ RRSB).
    discriminator      dict  {arch, **options}; required for GAN procedures when ``generator`` is a plain generator
                             (vgg128, vgg192, unet_fa, srgan_d, srgan_leftthomas_d); refused with a pair
    losses             dict  weights λ (≥ 0) of the generator terms; the procedure fixes which are allowed and their
                             defaults (the papers' values; 0 skips a term):
        pixel          float L1 (or MSE) weight: psnr 1; esrgan/fasrgan/fs/fa_fs/spsagan 1e-2 (λ3 of Eq. 9, λ2 of
                             Eq. 11); srgan* 0; wu 1
        pixel_criterion str  "l1" | "mse"   ("l1")
        perceptual     float VGG feature L1 weight: 1 (not psnr, not wu)
        gan            float adversarial weight λ1: 5e-3 (RaGAN variants), 1e-3 (srgan*, wu)
        map            float fine-grained map weight w_map (FA variants only): 5e-3 (RaGAN), 1e-3 (srgan_fa)
        attention      float attention weight λ2 (FA variants only): fasrgan 5e-2 (config; paper text 1e-2),
                             fa_fs_srgan 1e-2, srgan_fa 5e-2
    perceptual_layer   str   "vgg19_conv5_4" (paper) | "vgg16_conv5_3" (demo; offline weights); both before ReLU
    train              dict
        iterations       int    500000   total iterations (one G step + one D step each)
        batch_size       int    16
        hr_patch         int    128      HR crop side (LR crop = hr_patch / scale); must equal the D input size
        augment          bool   true     random dihedral (flip/transpose) augmentation
        lr_g, lr_d       float  1e-4     Adam learning rates (≥ 0)
        lr_g_overrides   dict   {}       {parameter-name prefix: lr}, e.g. {"spsa": 5e-4} for SPSAGAN's attention
        betas            [float, float]  [0.9, 0.999]
        weight_decay     float  0
        lr_schedule      str    "multistep" (milestones, gamma) | "halve_every" (step_size, gamma; paper text)
        milestones       [int]  [50000, 100000, 200000, 300000]
        gamma            float  0.5
        step_size        int    20000
        checkpoint_every int    5000     also at the last iteration
        keep_checkpoints int    2        newest checkpoints kept
        validate_every   int    5000     0 disables; also at the last iteration; needs val_dir
        val_metrics      [str] or {name: options}   ["psnr", "lpips", "niqe", "pi"]; built with scale=scale
        log_every        int    100      train_log.jsonl record interval (also at the last iteration)
        amp              str    "fp32" | "bf16" (CUDA autocast)
        channels_last    bool   false    channels_last memory format (CUDA)
        prune_batches    int    8        only with generator.prune: batches (of batch_size LR crops) for Eq. 8
        prune_threshold  float  0.05     only with generator.prune: keep all of a layer's connections when the two
                                         2-means class means differ by less than this (relative to the higher mean)
        prune_weights    str    "init"   only with generator.prune: "init" copies the surviving weights of
                                         init_checkpoint and fine-tunes; "scratch" keeps only the masks (fresh
                                         seeded init of every layer; the paper retrains the RRSB net from scratch)

``init_checkpoint`` (argument): initial generator weights (our model.pt or an official ESRGAN-style file; an rrdbnet
model initialises an spsagan generator through the key map of ``rrdbnet_to_spsagan``, its attention layer keeping the
fresh init; a pruned spsagan model brings its masks). Loaded before the optimisers are built.

Outputs in ``out_dir``: ``checkpoints/iter_*.pt``, ``train_log.jsonl``, ``val_log.csv`` (iteration, one column per
metric, empty when unavailable, ``unavailable`` with the reasons), ``manifest.json`` and the final ``model.pt``.
For an spsagan generator with pruned blocks, ``manifest.json`` has ``pruning`` (else null): ``source``
("measured" | "init_checkpoint"), ``dense_blocks`` (3·nb), ``prunable_per_block`` (10: x_i → x_l with i ≥ 1; x_0
always feeds every layer), ``kept_per_block`` [int], ``fraction_pruned``, ``masks`` (per block "1|11|101|0111": row
l+1's kept x_1..x_l), ``unused_layers`` (convs whose output no later layer reads after pruning: skipped in forward,
never trained, still counted), ``generator_parameters`` (without the prior network) and, when measured,
``generator_parameters_before``, ``rel_threshold``, ``batches``, ``batch_size``, ``weights`` and ``dissimilarity``
(per block, per layer 2..5, the Eq. 8 values of x_1..x_{l-1}); ``train_log.jsonl`` then starts with a record
{"iteration": 0, "event": "pruning", kept_per_block, fraction_pruned, generator_parameters(_before)}.
A run restarted on a folder with a checkpoint continues from it; the result is bit-identical on CPU.

Determinism: the seed drives weight init (torch), numpy/python RNGs and the patch sampler's own generator.
On CPU with the same thread count runs are bit-identical. On CUDA cuDNN is set to deterministic algorithms without
benchmarking and ``torch.use_deterministic_algorithms(True, warn_only=True)`` is on, yet some kernels have no
deterministic version and only warn: the bilinear upsampling backward of the UNet discriminator (atomicAdd),
adaptive average pooling backward, and index/scatter-based ops; bf16 autocast changes results too.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import srrepro
from srrepro.atomic import write_text
from srrepro.errors import CheckpointError, ConfigError, MetricUnavailable, TrainingDiverged
from srrepro.metrics import get_metric
from srrepro.models import build_model
from srrepro.models.checkpoints import load_model, load_official, save_model
from srrepro.models.feature_sharing import FeatureSharingGAN
from srrepro.models.spsagan import SPSAGenerator, dense_mask, prune_generator, pruning_stats, rrdbnet_to_spsagan
from srrepro.training import run_state
from srrepro.training.data import PatchSampler, load_pairs
from srrepro.training.losses import PerceptualLoss, perceptual_features
from srrepro.training.procedures import PROCEDURES, Networks, StepContext

FINAL_MODEL = "model.pt"
MANIFEST = "manifest.json"
ASSET_METRICS = ("lpips", "niqe", "ma", "pi")  # metric factories taking cache_dir / local_paths

TRAIN_DEFAULTS = {
    "iterations": 500000, "batch_size": 16, "hr_patch": 128, "augment": True, "lr_g": 1e-4, "lr_d": 1e-4,
    "lr_g_overrides": {}, "betas": [0.9, 0.999], "weight_decay": 0.0, "lr_schedule": "multistep",
    "milestones": [50000, 100000, 200000, 300000], "gamma": 0.5, "step_size": 20000, "checkpoint_every": 5000,
    "keep_checkpoints": 2, "validate_every": 5000, "val_metrics": ["psnr", "lpips", "niqe", "pi"],
    "log_every": 100, "amp": "fp32", "channels_last": False,
}
PRUNE_DEFAULTS = {"prune_batches": 8, "prune_threshold": 0.05, "prune_weights": "init"}
GENERATOR_TRAINING_KEYS = ("prune",)  # generator keys that direct training and are not build options
VARIANT_KEYS = {"procedure", "scale", "generator", "discriminator", "losses", "perceptual_layer", "train"}
WORKFLOW_KEYS = {"label", "init_from"}  # accepted and ignored: they belong to the workflow, not to training
CHOICES = {"train.lr_schedule": ("multistep", "halve_every"), "train.amp": ("fp32", "bf16"),
           "losses.pixel_criterion": ("l1", "mse"), "perceptual_layer": ("vgg19_conv5_4", "vgg16_conv5_3"),
           "train.prune_weights": ("init", "scratch")}


def _check_known(section: dict, allowed, where: str) -> None:
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ConfigError(f"variant key '{where}{unknown[0]}' is unknown; allowed: {', '.join(sorted(allowed))}")


def _check_choice(key: str, value) -> None:
    if value not in CHOICES[key]:
        raise ConfigError(f"variant key '{key}' must be one of {', '.join(CHOICES[key])}, got {value!r}")


def resolve_variant(variant: dict) -> dict:
    """Fill defaults and validate; raise ConfigError naming the offending key."""
    _check_known(variant, VARIANT_KEYS | WORKFLOW_KEYS, "")
    if variant.get("procedure") not in PROCEDURES:
        raise ConfigError(f"variant key 'procedure' must be one of {', '.join(PROCEDURES)}, "
                          f"got {variant.get('procedure')!r}")
    procedure = PROCEDURES[variant["procedure"]]
    if not isinstance(variant.get("generator"), dict) or "arch" not in variant["generator"]:
        raise ConfigError("variant key 'generator' must be a mapping with an 'arch'")
    losses = {**procedure.loss_defaults, "pixel_criterion": "l1", **variant.get("losses", {})}
    _check_known(losses, [*procedure.loss_defaults, "pixel_criterion"], "losses.")
    _check_choice("losses.pixel_criterion", losses["pixel_criterion"])
    train = {**TRAIN_DEFAULTS, **variant.get("train", {})}
    _check_known(train, TRAIN_DEFAULTS | PRUNE_DEFAULTS, "train.")
    prune = variant["generator"].get("prune", False)
    if not isinstance(prune, bool):
        raise ConfigError(f"variant key 'generator.prune' must be true or false, got {prune!r}")
    if prune:
        if variant["generator"]["arch"] != "spsagan":
            raise ConfigError(f"variant key 'generator.prune' applies to arch 'spsagan' only, "
                              f"not {variant['generator']['arch']!r}")
        train = {**PRUNE_DEFAULTS, **train}
        _check_choice("train.prune_weights", train["prune_weights"])
        threshold = train["prune_threshold"]
        if not (isinstance(threshold, (int, float)) and 0 <= threshold < 1):
            raise ConfigError(f"variant key 'train.prune_threshold' must be a number in [0, 1), got {threshold!r}")
    else:
        stray = sorted(set(PRUNE_DEFAULTS) & set(train))
        if stray:
            raise ConfigError(f"variant key 'train.{stray[0]}' needs 'generator.prune: true'")
    _check_choice("train.lr_schedule", train["lr_schedule"])
    _check_choice("train.amp", train["amp"])
    resolved = {"procedure": variant["procedure"], "scale": variant.get("scale", 4),
                "generator": dict(variant["generator"]), "losses": losses,
                "perceptual_layer": variant.get("perceptual_layer", "vgg19_conv5_4"), "train": train}
    if "discriminator" in variant:
        resolved["discriminator"] = dict(variant["discriminator"])
    _check_choice("perceptual_layer", resolved["perceptual_layer"])
    for key, value in losses.items():
        if key != "pixel_criterion" and not (isinstance(value, (int, float)) and value >= 0):
            raise ConfigError(f"variant key 'losses.{key}' must be a number ≥ 0, got {value!r}")
    rates = {"lr_g": train["lr_g"], "lr_d": train["lr_d"],
             **{f"lr_g_overrides.{k}": v for k, v in train["lr_g_overrides"].items()}}
    for key, value in rates.items():
        if not (isinstance(value, (int, float)) and value >= 0):
            raise ConfigError(f"variant key 'train.{key}' must be a number ≥ 0, got {value!r}")
    for key in ("iterations", "batch_size", "hr_patch", "checkpoint_every", "keep_checkpoints", "log_every",
                "step_size", *(("prune_batches",) if prune else ())):
        if not (isinstance(train[key], int) and train[key] > 0):
            raise ConfigError(f"variant key 'train.{key}' must be a positive integer, got {train[key]!r}")
    if not (isinstance(train["validate_every"], int) and train["validate_every"] >= 0):
        raise ConfigError(f"variant key 'train.validate_every' must be an integer ≥ 0, got {train['validate_every']!r}")
    return resolved


def build_networks(cfg: dict) -> Networks:
    """Build the networks of a resolved variant; check the discriminator fits the HR patch."""
    options = generator_options(cfg)
    model = build_model(cfg["generator"]["arch"], **options)
    gan = PROCEDURES[cfg["procedure"]].objective is not None
    if isinstance(model, FeatureSharingGAN):
        if "discriminator" in cfg:
            raise ConfigError(f"variant key 'discriminator' must be absent: generator arch "
                              f"'{cfg['generator']['arch']}' already includes its discriminator")
        nets = Networks(model, model.extractor, model.generator_trunk, model.discriminator if gan else None)
    else:
        discriminator = None
        if gan:
            if "discriminator" not in cfg:
                raise ConfigError(f"variant key 'discriminator' is required by procedure '{cfg['procedure']}'")
            d_options = {k: v for k, v in cfg["discriminator"].items() if k != "arch"}
            discriminator = build_model(cfg["discriminator"]["arch"], **d_options)
        nets = Networks(model, nn.Identity(), model, discriminator)
    size = getattr(nets.discriminator, "input_size", None)
    if size is not None and size != cfg["train"]["hr_patch"]:
        raise ConfigError(f"variant key 'train.hr_patch' ({cfg['train']['hr_patch']}) does not fit the discriminator, "
                          f"whose input size is {size}")
    return nets


def generator_options(cfg: dict) -> dict:
    """Build options of the generator (the ``generator`` mapping without ``arch`` and the training keys)."""
    return {k: v for k, v in cfg["generator"].items() if k != "arch" and k not in GENERATOR_TRAINING_KEYS}


def _named_generator_parameters(nets: Networks) -> list[tuple[str, nn.Parameter]]:
    if isinstance(nets.model, FeatureSharingGAN):
        return [(n, p) for n, p in nets.model.named_parameters() if not n.startswith("discriminator.")]
    return list(nets.model.named_parameters())


def _make_optimizers(cfg: dict, nets: Networks):
    train = cfg["train"]
    adam = {"betas": tuple(train["betas"]), "weight_decay": train["weight_decay"]}
    groups: dict[float, list] = {}
    for name, param in _named_generator_parameters(nets):
        lr = next((v for k, v in train["lr_g_overrides"].items() if name.startswith(k)), train["lr_g"])
        groups.setdefault(lr, []).append(param)
    opt_g = torch.optim.Adam([{"params": p, "lr": lr} for lr, p in groups.items()], **adam)
    opt_d = torch.optim.Adam(nets.discriminator_parameters(), lr=train["lr_d"], **adam) if nets.discriminator else None
    optimizers = {"g": opt_g, **({"d": opt_d} if opt_d else {})}
    schedule = {
        "multistep": lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, train["milestones"], train["gamma"]),
        "halve_every": lambda opt: torch.optim.lr_scheduler.StepLR(opt, train["step_size"], train["gamma"]),
    }[train["lr_schedule"]]
    return optimizers, {k: schedule(opt) for k, opt in optimizers.items()}


def _set_threads_and_determinism(threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # only settable before the first parallel work of the process
        pass
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(srrepro.__file__).parent, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _manifest(cfg, seed, threads, device, data_dir, val_dir, init_checkpoint, asset_options, perceptual_source,
              pruning=None) -> dict:
    return {
        "variant": cfg, "seed": seed, "threads": threads, "device": str(device),
        "data_dir": str(data_dir), "val_dir": str(val_dir) if val_dir else None,
        "init_checkpoint": ({"path": str(init_checkpoint), "sha256": _file_sha256(init_checkpoint)}
                            if init_checkpoint else None),
        "git_commit": _git_commit(),
        "versions": {"srrepro": srrepro.__version__, "python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "cuda": torch.version.cuda},
        "assets": {"provenance": (asset_options or {}).get("provenance"), "perceptual": perceptual_source},
        "pruning": pruning,
    }


class Validator:
    """Metrics of the generator on a prepared validation folder; unavailable or failing metrics give None and a reason."""

    def __init__(self, val_dir: Path, scale: int, metrics, device: torch.device, asset_options: dict):
        self.pairs = load_pairs(val_dir, scale)
        self.device = device
        specs = metrics if isinstance(metrics, dict) else {name: {} for name in metrics}
        assets = {k: asset_options[k] for k in ("cache_dir", "local_paths") if k in asset_options}
        self.metrics, self.reasons = {}, {}
        for name, options in specs.items():
            try:
                extra = assets if name in ASSET_METRICS else {}
                self.metrics[name] = get_metric(name, **{"scale": scale, **extra, **options})
            except (MetricUnavailable, KeyError) as err:
                self.metrics[name] = None
                self.reasons[name] = err.reason if isinstance(err, MetricUnavailable) else err.args[0]

    @torch.no_grad()
    def __call__(self, model: nn.Module, iteration: int) -> dict:
        model.eval()
        outputs = []
        for _, lr, hr in self.pairs:
            sr = model(lr[None].to(self.device, torch.float32) / 255).clamp(0, 1)
            sr = (sr[0] * 255).round().byte().permute(1, 2, 0).cpu().numpy()
            outputs.append((sr, hr.permute(1, 2, 0).numpy()))
        model.train()
        row, reasons = {"iteration": iteration}, dict(self.reasons)
        for name, metric in self.metrics.items():
            row[name] = None
            if metric is None:
                continue
            try:
                row[name] = float(np.mean([metric(sr, hr) for sr, hr in outputs]))
            except MetricUnavailable as err:
                reasons[name] = err.reason
            except (ValueError, ArithmeticError) as err:  # e.g. NIQE's SVD on a flat early-training output
                reasons[name] = f"failed: {type(err).__name__}: {err}"
        row["unavailable"] = "; ".join(f"{k}: {v}" for k, v in reasons.items())
        return row


def _load_init(nets: Networks, path: Path) -> None:
    """Initialise the generator part (E and G) from a model file, ours or an official ESRGAN-style one.

    A discriminator in the file is ignored; a plain generator file initialises the trunk of a pair.
    """
    try:
        source = load_model(path).state_dict()
    except CheckpointError:
        source = load_official(path).state_dict()
    source = {k: v for k, v in source.items() if not k.startswith("discriminator.")}
    pair = isinstance(nets.model, FeatureSharingGAN)
    target = nets.trunk if pair and not any(k.startswith("generator_trunk.") for k in source) else nets.model
    problem = f"init_checkpoint {path} does not fit generator '{type(target).__name__}'"
    fresh_ok = None  # prefix of target keys the source may lack
    if isinstance(target, SPSAGenerator) and any(k.startswith("trunk.") for k in source):
        try:
            source = rrdbnet_to_spsagan(source)  # an RRDBNet run; the attention layer keeps its fresh init
        except ValueError as err:
            raise ConfigError(f"{problem}: {err}") from err
        fresh_ok = "spsa."
    try:
        result = target.load_state_dict(source, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ConfigError(f"{problem}: {str(err).strip().splitlines()[-1].strip()}") from err
    missing = [k for k in result.missing_keys
               if not k.startswith("discriminator.") and not (fresh_ok and k.startswith(fresh_ok))]
    if missing or result.unexpected_keys:
        raise ConfigError(f"{problem}: missing {missing[:3]}, unexpected {result.unexpected_keys[:3]}")


def _dense(model: SPSAGenerator) -> bool:
    return bool((model.masks() == dense_mask()).all())


def _prune(cfg: dict, model: SPSAGenerator, sampler: PatchSampler, device: torch.device, fresh: dict | None) -> dict:
    """Prune ``model`` (holding the init weights) in place; ``fresh``: the seeded init to restore ("scratch")."""
    train = cfg["train"]
    rewind = sampler.state_dict()
    batches = (sampler.sample(train["batch_size"])[0].to(device) for _ in range(train["prune_batches"]))
    model.to(device)
    stats = prune_generator(model, batches, train["prune_threshold"], keep_weights=fresh is None)
    sampler.load_state_dict(rewind)  # training sees the same batches as an unpruned run of this seed
    if fresh is not None:
        result = model.load_state_dict({k: v for k, v in fresh.items() if not k.startswith("blocks.")}, strict=False)
        assert all(k.startswith("blocks.") for k in result.missing_keys) and not result.unexpected_keys
    return {"source": "measured", "batches": train["prune_batches"], "batch_size": train["batch_size"],
            "weights": train["prune_weights"], **stats}


def _check_finite(values: dict[str, torch.Tensor], iteration: int, out_dir: Path) -> None:
    if bool(torch.stack([v.float() for v in values.values()]).isfinite().all()):
        return
    term = next(k for k, v in values.items() if not torch.isfinite(v).all())
    last = run_state.latest_checkpoint(out_dir)
    raise TrainingDiverged(f"loss term '{term}' is {values[term].item()} at iteration {iteration}; last good "
                           f"checkpoint: {last if last else 'none'}; lower the learning rate or check the data")


def train_variant(variant: dict, data_dir, out_dir, *, seed: int, threads: int, val_dir=None, init_checkpoint=None,
                  asset_options: dict | None = None, progress: bool = True, device: str | None = None,
                  stop_after: int | None = None) -> Path | None:
    """Train ``variant`` on ``data_dir`` into ``out_dir`` and return the final model file (our checkpoint format).

    ``asset_options``: ``cache_dir``, ``local_paths`` (asset name → file) for the VGG weights,
    ``perceptual_features`` (an nn.Module replacing the VGG extractor, e.g. in tests) and ``provenance`` (recorded in
    the manifest). ``device``: default CUDA when available. ``stop_after``: stop after this iteration without
    finishing, as if killed (for resume tests); returns None then.
    """
    cfg = resolve_variant(variant)
    train = cfg["train"]
    out_dir, data_dir = Path(out_dir), Path(data_dir)
    final_path = out_dir / FINAL_MODEL
    _set_threads_and_determinism(threads)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    _seed_everything(seed)
    nets = build_networks(cfg)
    procedure = PROCEDURES[cfg["procedure"]]
    weights = {k: float(v) for k, v in cfg["losses"].items() if k != "pixel_criterion"}
    perceptual, perceptual_source = None, None
    if weights.get("perceptual"):
        features, perceptual_source = perceptual_features(cfg["perceptual_layer"], asset_options or {})
        perceptual = PerceptualLoss(features).to(device)
    sampler = PatchSampler(data_dir, cfg["scale"], train["hr_patch"], seed, train["augment"])
    validator = (Validator(Path(val_dir), cfg["scale"], train["val_metrics"], device, asset_options or {})
                 if val_dir and train["validate_every"] else None)
    memory_format = torch.channels_last if train["channels_last"] else torch.preserve_format

    start, state, pruning = 0, None, None
    latest = run_state.latest_checkpoint(out_dir)
    manifest_path = out_dir / MANIFEST
    if latest is not None:
        previous = json.loads(manifest_path.read_text())
        if previous["variant"] != json.loads(json.dumps(cfg)) or previous["seed"] != seed:
            raise ConfigError(f"out_dir {out_dir} holds a run of a different variant or seed; use a new folder")
        state = run_state.load_checkpoint(latest, device)
        nets.model.load_state_dict(state["nets"]["model"])  # before the optimisers: rebuilds pruned blocks
    else:
        prune = cfg["generator"].get("prune", False)
        if prune and not init_checkpoint:
            raise ConfigError("variant key 'generator.prune' needs an init_checkpoint (the unpruned run to prune)")
        fresh = ({k: v.detach().clone() for k, v in nets.model.state_dict().items()}
                 if prune and train["prune_weights"] == "scratch" else None)
        if init_checkpoint:
            _load_init(nets, Path(init_checkpoint))
        if prune:
            pruning = _prune(cfg, nets.model, sampler, device, fresh)
        elif isinstance(nets.model, SPSAGenerator) and not _dense(nets.model):
            pruning = {"source": "init_checkpoint", **pruning_stats(nets.model)}
    nets.model.to(device, memory_format=memory_format)
    if nets.discriminator is not None:
        nets.discriminator.to(device, memory_format=memory_format)
    optimizers, schedulers = _make_optimizers(cfg, nets)

    if state is not None:
        if nets.discriminator is not None and "discriminator" in state["nets"]:
            nets.discriminator.load_state_dict(state["nets"]["discriminator"])
        for key, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
            schedulers[key].load_state_dict(state["schedulers"][key])
        sampler.load_state_dict(state["sampler"])
        run_state.set_rng_state(state["rng"])
        start = state["iteration"]
        run_state.truncate_logs(out_dir, start)
        print(f"resuming from checkpoint {latest} at iteration {start}", file=sys.stderr, flush=True)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        run_state.truncate_logs(out_dir, -1)  # records of an attempt killed before its first checkpoint
        write_text(manifest_path, json.dumps(_manifest(cfg, seed, threads, device, data_dir, val_dir, init_checkpoint,
                                                       asset_options, perceptual_source, pruning), indent=2))
        if pruning is not None and pruning["source"] == "measured":
            run_state.append_train_log(out_dir, {"iteration": 0, "event": "pruning", **{
                k: pruning[k] for k in ("kept_per_block", "fraction_pruned", "generator_parameters_before",
                                        "generator_parameters")}})
    if start >= train["iterations"] and final_path.exists():
        return final_path

    ctx = StepContext(
        nets=nets, opt_g=optimizers["g"], opt_d=optimizers.get("d"), weights=weights,
        pixel_criterion=cfg["losses"]["pixel_criterion"], perceptual=perceptual, procedure=cfg["procedure"],
        autocast=(lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if train["amp"] == "bf16" else nullcontext,
    )

    def save(iteration: int) -> Path:
        modules = {"model": nets.model.state_dict()}
        if nets.discriminator is not None and not isinstance(nets.model, FeatureSharingGAN):
            modules["discriminator"] = nets.discriminator.state_dict()
        return run_state.save_checkpoint(out_dir, iteration, {
            "nets": modules, "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
            "sampler": sampler.state_dict(), "rng": run_state.rng_state()}, train["keep_checkpoints"])

    bar = tqdm(total=train["iterations"], initial=start, desc=cfg["procedure"], unit="it", file=sys.stderr,
               mininterval=10, ascii=True, disable=not progress, dynamic_ncols=False)
    busy, window_count = 0.0, 0  # step time (sampling, G and D steps, the finiteness sync) since the last record
    for iteration in range(start + 1, train["iterations"] + 1):
        began = time.perf_counter()
        lr, hr = sampler.sample(train["batch_size"])
        lr = lr.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        hr = hr.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        values = procedure.step(ctx, lr, hr)
        for scheduler in schedulers.values():
            scheduler.step()
        _check_finite(values, iteration, out_dir)
        busy += time.perf_counter() - began
        window_count += 1
        last = iteration == train["iterations"]
        if iteration % train["log_every"] == 0 or last:
            record = {"iteration": iteration, "seconds_per_iteration": busy / window_count,
                      **{f"lr_{k}": opt.param_groups[0]["lr"] for k, opt in optimizers.items()},
                      **{k: v.item() for k, v in values.items()}}
            run_state.append_train_log(out_dir, record)
            bar.set_postfix({"g": f"{record['g/total']:.4g}"}, refresh=False)
            busy, window_count = 0.0, 0
        if validator and (iteration % train["validate_every"] == 0 or last):
            run_state.append_val_log(out_dir, validator(nets.model, iteration))
        if iteration % train["checkpoint_every"] == 0 or last:
            save(iteration)
        bar.update(1)
        if stop_after is not None and iteration >= stop_after:
            bar.close()
            return None
    bar.close()
    save_model(nets.model, cfg["generator"]["arch"], generator_options(cfg), final_path)
    return final_path

"""The bill before launch: iterations, seconds per iteration and GPU-hours of every training job of a configuration.

A job is one variant trained with one seed (the workflow trains every variant once per seed). Its cost is its
iterations times its seconds per iteration on a named device (:data:`DEVICES`), which come from, in this order:

1. a measurement: a ``bench/bench_gpu.py`` result (``bench/results/*.json``) on that device for the same training
   step (:func:`step_signature`) in the variant's precision;
2. an estimate: the FLOPs of one iteration (:func:`step_flops`), counted exactly with
   ``torch.utils.flop_counter.FlopCounterMode`` over the library's own training step
   (:mod:`srrepro.training.procedures`: forward and backward of G, D and the perceptual network at the configured
   batch and patch), divided by the device's dense tensor-core peak for the variant's precision times
   :data:`UTILISATION`.

Released initialisation: a variant whose ``init_from`` is ``released:<name>`` starts from the authors' weights and
waits for no job. An own pre-training variant that a released file reproduces
(:data:`srrepro.models.released.RELEASED_MODELS`) is
listed with the jobs and GPU-hours saved if the variants starting from it started from the released file instead.

Not counted: validation, checkpoint writing, data preparation and evaluation; pruned generators count at their dense
size (an upper bound).
"""

from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from srrepro.config import check_duplicate_keys, validate_config
from srrepro.data.assets import ASSETS
from srrepro.errors import ConfigError
from srrepro.models.backbones import VGGFeatures
from srrepro.models.registry import model_builder
from srrepro.models.released import RELEASED_MODELS, SPEC_PREFIX
from srrepro.training.losses import PERCEPTUAL_LAYERS, perceptual_loss
from srrepro.training.procedures import PROCEDURES, loss_weights, step_context
from srrepro.training.variant import GENERATOR_TRAINING_KEYS, WORKFLOW_KEYS, build_networks, resolve_variant



@dataclass(frozen=True)
class Device:
    """A GPU: dense tensor-core peaks in TFLOP/s by precision, their source, and the names CUDA reports for it."""

    label: str
    peak_tflops: dict[str, float]
    source: str
    cuda_names: tuple[str, ...]  # substrings of torch.cuda.get_device_name(), to recognise bench results


# 'fp32' is TF32: PyTorch runs fp32 convolutions on CUDA tensor cores in TF32 by default
# (torch.backends.cudnn.conv.fp32_precision == "tf32"), and the training networks are convolutional.
# NVIDIA's datasheets print tensor-core peaks "with sparsity" (2:4 structured); dense peaks are half of those.
DEVICES: dict[str, Device] = {
    "h100-sxm": Device("NVIDIA H100 SXM5 80GB", {"fp32": 494.7, "bf16": 989.4},
                       "NVIDIA H100 Tensor Core GPU datasheet, SXM column: TF32 989 and BF16 1,979 TFLOP/s with "
                       "sparsity; dense TF32 494.7 and BF16 989.4 as in the NVIDIA H100 architecture whitepaper",
                       ("H100 80GB HBM3", "H100 SXM")),
    "h200": Device("NVIDIA H200 SXM 141GB", {"fp32": 494.7, "bf16": 989.4},
                   "NVIDIA H200 Tensor Core GPU datasheet, SXM column: TF32 989 and BF16 1,979 TFLOP/s with sparsity "
                   "(the H100's compute; more and faster memory)", ("H200",)),
    "a100-sxm": Device("NVIDIA A100 SXM4 80GB", {"fp32": 156.0, "bf16": 312.0},
                       "NVIDIA A100 Tensor Core GPU datasheet: TF32 156 and BF16 312 TFLOP/s dense (312 and 624 with "
                       "sparsity)", ("A100-SXM",)),
}
DEFAULT_DEVICE = "h100-sxm"

# Achieved fraction of the dense tensor-core peak, an assumption until bench/bench_gpu.py measures it (the bench
# prints the achieved TFLOP/s of every step it times). These networks cannot come near the peak: the RRDB dense
# blocks concatenate their inputs and apply LeakyReLU around every 3x3 convolution of only 32 output channels, so per
# convolution they move about as many bytes as they compute FLOPs at tensor-core speed (memory-bound: at the
# H100's 3.35 TB/s the roofline alone caps them near 30-50% of peak), the narrow outputs fill tensor-core tiles
# poorly, and eager PyTorch launches thousands of small kernels per iteration. 0.2 sits below that cap.
UTILISATION = 0.2

def precision(train: dict) -> str:
    """The bench mode a variant trains in on a GPU of the device table: 'fp32', 'bf16', 'bf16_channels_last' (or
    'fp32_channels_last'); ``amp: auto`` is bf16 with channels_last there (every GPU of the table computes bf16)."""
    if train["amp"] == "auto":
        return "bf16_channels_last"
    return train["amp"] + ("_channels_last" if train["channels_last"] else "")


def step_signature(cfg: dict) -> str:
    """What one training iteration costs depends on, as canonical JSON (precision apart): procedure, scale, networks,
    the loss terms in use (weights as on/off), the perceptual layer when used, batch and patch."""
    weights = loss_weights(cfg)
    step = {"procedure": cfg["procedure"], "scale": cfg["scale"], "generator": cfg["generator"],
            "losses": {**{k: 1.0 if v else 0.0 for k, v in weights.items()},
                       **{k: v for k, v in cfg["losses"].items() if k.endswith("_criterion")}},
            "train": {"batch_size": cfg["train"]["batch_size"], "hr_patch": cfg["train"]["hr_patch"]}}
    if "discriminator" in cfg:
        step["discriminator"] = cfg["discriminator"]
    if weights.get("perceptual"):
        step["perceptual_layer"] = cfg["perceptual_layer"]
    return json.dumps(step, sort_keys=True)


def step_flops(cfg: dict) -> int:
    """FLOPs of one training iteration of the resolved variant ``cfg`` (convolutions and matrix products, forward
    and backward, as ``FlopCounterMode`` counts them; elementwise work and the optimiser update are not FLOPs there)."""
    dense = {k: v for k, v in cfg["generator"].items() if k not in GENERATOR_TRAINING_KEYS}  # built dense anyway
    return _count_flops(step_signature({**cfg, "generator": dense}))


# Operators without a convolution or matrix product inside, declared as 0 FLOPs, which is what FlopCounterMode finds
# for them anyway after decomposing them into primitives; declaring them spares the (slow) decomposition.
_aten = torch.ops.aten
_NO_FLOPS = {op: (lambda *args, **kwargs: 0) for op in (
    _aten.abs, _aten.add, _aten.add_, _aten.binary_cross_entropy_with_logits, _aten.cat, _aten.clone, _aten.copy_,
    _aten.detach, _aten.div, _aten.empty, _aten.expand, _aten.fill_, _aten.full_like, _aten.leaky_relu,
    _aten.leaky_relu_, _aten.leaky_relu_backward, _aten.max_pool2d_with_indices,
    _aten.max_pool2d_with_indices_backward, _aten.mean, _aten.mul, _aten.native_batch_norm,
    _aten.native_batch_norm_backward, _aten.ones_like, _aten.relu, _aten.relu_, _aten.sgn, _aten.sigmoid, _aten.slice,
    _aten.sub, _aten.sum, _aten.t, _aten.threshold_backward, _aten.upsample_bilinear2d,
    _aten.upsample_bilinear2d_backward, _aten.upsample_nearest2d, _aten.upsample_nearest2d_backward, _aten.view,
    _aten.zeros_like)}


class _NoUpdate:
    """Stands in for an optimiser while counting: Adam's update is elementwise, which FlopCounterMode does not count."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass

    def step(self) -> None:
        pass


def _count_step(cfg: dict, device: str, batch: int) -> int:
    train, scale = cfg["train"], cfg["scale"]
    with torch.random.fork_rng(devices=[]):
        with torch.device(device):
            nets = build_networks(cfg)
            prior = getattr(nets.model, "prior", None)
            if hasattr(prior, "count_only"):  # SPSAGAN's pretrained segmentation network: its weights change no FLOP
                prior.count_only()
            perceptual = None
            if loss_weights(cfg).get("perceptual"):
                layer = PERCEPTUAL_LAYERS[cfg["perceptual_layer"]]
                perceptual = perceptual_loss(cfg, VGGFeatures(layer.arch).features[:layer.stop])  # weights: no FLOPs
            patch = train["hr_patch"]
            lr, hr = torch.rand(batch, 3, patch // scale, patch // scale), torch.rand(batch, 3, patch, patch)
        if batch == 1:  # BatchNorm in training mode needs two samples; in eval mode it does the same counted work
            for net in (nets.model, nets.discriminator):
                if net is not None:
                    net.eval()
        ctx = step_context({**cfg, "train": {**cfg["train"], "amp": "fp32"}}, nets, _NoUpdate(), _NoUpdate(), perceptual,
                           torch.device(device))
        with FlopCounterMode(display=False, custom_mapping=_NO_FLOPS) as counter:
            PROCEDURES[cfg["procedure"]].step(ctx, lr, hr)
    return counter.get_total_flops()


@functools.lru_cache(maxsize=None)
def _count_flops(signature: str) -> int:
    cfg = resolve_variant(json.loads(signature))
    batch = cfg["train"]["batch_size"]
    try:
        return _count_step(cfg, "meta", batch)  # shapes only: no memory, no arithmetic
    except (NotImplementedError, RuntimeError):
        # Python control flow on tensor values cannot run on the meta device (SPSAGAN builds its convolutions from a
        # host copy of its mask and reads a flag of its attention): count one real sample on the CPU; every op
        # FlopCounterMode counts (convolutions, matrix products) is linear in the batch.
        return _count_step(cfg, "cpu", 1) * batch


@dataclass(frozen=True)
class Measurement:
    """Seconds per iteration measured by bench/bench_gpu.py: device name, step signature, precision mode, file."""

    device: str
    signature: str
    mode: str
    seconds_per_iteration: float
    file: Path


def read_measurements(results_dir: str | Path) -> list[Measurement]:
    """Every timed training step of the bench results (``*.json``) in ``results_dir``, dry runs left out."""
    found = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            result = json.loads(path.read_text())
            if result.get("dry_run"):
                continue
            for step in result["training"]:
                for mode, timing in step["modes"].items():
                    if timing.get("seconds_per_iteration"):
                        found.append(Measurement(result["device"], step["signature"], mode,
                                                 float(timing["seconds_per_iteration"]), path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigError(f"{path}: not a bench/bench_gpu.py result ({type(err).__name__}: {err}); move it out of "
                              f"{results_dir} or rerun the bench") from None
    return found


@dataclass(frozen=True)
class Job:
    """One variant trained with one seed, and its cost."""

    variant: str
    seed: int
    init_from: str | None
    iterations: int
    precision: str
    flops_per_iteration: int
    seconds_per_iteration: float
    source: str  # 'estimate' or the bench result file

    @property
    def gpu_hours(self) -> float:
        return self.iterations * self.seconds_per_iteration / 3600


@dataclass(frozen=True)
class Saving:
    """Jobs of an own pre-training variant that a released file reproduces: they need not run when the variants
    starting from it (``consumers``) start from the released file instead; ``already``: the variants that start from
    that released file in this configuration (nothing then waits on the own pre-training)."""

    variant: str
    released: str
    file: str
    consumers: tuple[str, ...]
    already: tuple[str, ...]
    jobs: int
    gpu_hours: float


@dataclass(frozen=True)
class Plan:
    """Every job of a configuration on one device, the longest ``init_from`` chain and what released files save."""

    config: str
    device: str
    seeds: tuple[int, ...]
    jobs: tuple[Job, ...]
    chain: tuple[str, ...]
    chain_hours: float
    savings: tuple[Saving, ...]

    @property
    def gpu_hours(self) -> float:
        return sum(job.gpu_hours for job in self.jobs)

    @property
    def gpu_hours_with_released(self) -> float:
        return self.gpu_hours - sum(s.gpu_hours for s in self.savings)


def _filled(generator: dict) -> dict:
    """A generator mapping with every build option its architecture's builder defaults."""
    parameters = inspect.signature(model_builder(generator["arch"])).parameters
    return {**{name: p.default for name, p in parameters.items()}, **generator}


def _releasable(cfg: dict) -> str | None:
    """The released PSNR-oriented model (:data:`srrepro.models.released.RELEASED_MODELS`) that reproduces the resolved
    pre-training variant ``cfg`` (same procedure, x4, same generator with every option filled), if any."""
    for name, spec in RELEASED_MODELS.items():
        if (cfg["procedure"], cfg["scale"]) == (spec.procedure, 4) == ("psnr", 4) and \
                _filled(cfg["generator"]) == _filled({"arch": spec.arch, **spec.options}):
            return name
    return None


def _chain(name: str, variants: dict, hours: dict[str, float]) -> tuple[list[str], float]:
    """The init_from chain ending at ``name`` (own variants only; validated: no cycle) and its hours per seed."""
    source = variants[name].get("init_from")
    if source is None or source.startswith(SPEC_PREFIX):
        return [name], hours[name]
    before, before_hours = _chain(source, variants, hours)
    return [*before, name], before_hours + hours[name]


def plan(config: dict, device: str = DEFAULT_DEVICE, results_dir: str | Path | None = None,
         config_name: str = "configuration") -> Plan:
    """The :class:`Plan` of a workflow configuration on ``device``, validated first as the workflow validates it
    (:func:`srrepro.config.validate_config`; the assets need not be at hand)."""
    if device not in DEVICES:
        raise ConfigError(f"unknown device '{device}'; known devices: {', '.join(DEVICES)}")
    validate_config(config, assets=False)
    variants, seeds = config["variants"], tuple(config["seeds"])
    spec = DEVICES[device]
    measured = {(m.signature, m.mode): m for m in (read_measurements(results_dir) if results_dir else [])
                if any(n in m.device for n in spec.cuda_names)}
    resolved, per_seed, jobs = {}, {}, []
    for name, variant in variants.items():
        cfg = resolve_variant({"scale": config["scale"], **{k: v for k, v in variant.items() if k not in WORKFLOW_KEYS}},
                              key=f"variants.{name}")
        resolved[name] = cfg
        mode, flops = precision(cfg["train"]), step_flops(cfg)
        hit = measured.get((step_signature(cfg), mode))
        if hit is not None:
            seconds, source = hit.seconds_per_iteration, str(hit.file)
        else:
            peak = spec.peak_tflops[mode.split("_", 1)[0]]
            seconds, source = flops / (peak * 1e12 * UTILISATION), "estimate"
        jobs += [Job(name, seed, variant.get("init_from"), cfg["train"]["iterations"], mode, flops, seconds, source)
                 for seed in seeds]
        per_seed[name] = cfg["train"]["iterations"] * seconds / 3600
    chain, chain_hours = max((_chain(name, variants, per_seed) for name in variants), key=lambda c: c[1],
                             default=([], 0.0))
    savings = []
    for name, cfg in resolved.items():
        released = _releasable(cfg)
        if released is None:
            continue
        consumers = tuple(v for v, spec_v in variants.items() if spec_v.get("init_from") == name)
        already = tuple(v for v, spec_v in variants.items() if spec_v.get("init_from") == f"{SPEC_PREFIX}{released}")
        if consumers or already:
            files = " + ".join(ASSETS[asset].filename for asset in RELEASED_MODELS[released].assets)
            savings.append(Saving(name, released, files, consumers, already, len(seeds), per_seed[name] * len(seeds)))
    return Plan(config_name, device, seeds, tuple(jobs), tuple(chain), chain_hours, tuple(savings))


def format_plan(result: Plan) -> str:
    """The plan as text: one Markdown row per job, then the totals, the longest chain and the released savings."""
    spec = DEVICES[result.device]
    peaks = ", ".join(f"{'TF32' if k == 'fp32' else k.upper()} {v:g}" for k, v in spec.peak_tflops.items())
    lines = [f"Training plan of {result.config} on one {spec.label} ('{result.device}'): "
             f"{len(result.jobs)} jobs ({len(result.jobs) // max(len(result.seeds), 1)} variants x seeds "
             f"{', '.join(map(str, result.seeds))})",
             f"s/it: measured by bench/bench_gpu.py where a result for the same step and device exists (source: its "
             f"file), else estimated as FLOPs per iteration / ({UTILISATION:g} x dense peak: {peaks} TFLOP/s; "
             f"{spec.source}).", "",
             "| variant | seed | starts from | iterations | precision | TFLOP/it | s/it | source | GPU-h |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {j.variant} | {j.seed} | {j.init_from or '-'} | {j.iterations} | {j.precision} | "
              f"{j.flops_per_iteration / 1e12:.3f} | {j.seconds_per_iteration:.4f} | {j.source} | {j.gpu_hours:.1f} |"
              for j in result.jobs]
    lines += ["", f"Total: {len(result.jobs)} jobs, {result.gpu_hours:.0f} GPU-hours "
                  f"({result.gpu_hours / 24:.1f} GPU-days) on one {spec.label}."]
    if result.chain:
        lines.append(f"Longest init_from chain (wall-clock with one GPU per job): {' -> '.join(result.chain)}: "
                     f"{result.chain_hours:.0f} h.")
    for s in result.savings:
        if s.consumers:
            lines.append(f"Released initialisation: the {s.jobs} jobs of {s.variant} ({s.gpu_hours:.0f} GPU-hours) need "
                         f"not run if {', '.join(s.consumers)} start from {SPEC_PREFIX}{s.released} ({s.file}).")
        else:
            lines.append(f"Released initialisation: {', '.join(s.already)} start from {SPEC_PREFIX}{s.released} "
                         f"({s.file}), so nothing waits on {s.variant}; its {s.jobs} jobs ({s.gpu_hours:.0f} "
                         f"GPU-hours) only replicate the released model and can be dropped.")
    if result.savings:
        lines.append(f"With the released initialisation: {result.gpu_hours_with_released:.0f} GPU-hours.")
    else:
        lines.append("Released initialisation: no own pre-training of this configuration is reproduced by a released "
                     "file.")
    already = sorted({j.variant for j in result.jobs if j.init_from and j.init_from.startswith(SPEC_PREFIX)})
    if already:
        lines.append(f"Starting from released weights already: {', '.join(already)}.")
    lines.append("Not counted: validation, checkpoints, data preparation, evaluation; pruned generators at their "
                 "dense size.")
    return "\n".join(lines)


def plan_configfile(path: str | Path, device: str = DEFAULT_DEVICE, results_dir: str | Path | None = None) -> str:
    """The formatted plan of the workflow configuration file ``path``."""
    check_duplicate_keys(path)  # and a YAML syntax error: file, line, column
    config = yaml.safe_load(Path(path).read_text())
    if not isinstance(config, dict):
        raise ConfigError(f"configuration {path} is not a mapping of config keys")
    return format_plan(plan(config, device, results_dir, str(path)))

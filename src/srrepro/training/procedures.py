"""Training procedures: one table maps a procedure name to its step function, GAN objective and loss defaults.

A procedure is named by its objective, not by a paper: ``psnr`` (pixel loss only), ``ragan`` (ESRGAN's relativistic
average GAN; ESRGAN, Fs-SRGAN, SPSAGAN), ``ragan_fa`` (+ the fine-grained map and attention losses; FASRGAN,
FA+Fs-SRGAN), ``bce`` (SRGAN's standard GAN; SRGAN, SRGAN_Fs), ``bce_fa`` (+ FA; SRGAN_FA) and ``leftthomas``
(the leftthomas/SRGAN code Wu builds on: probabilities, D step first). The defaults of the loss weights are the
papers' values; a variant overrides them under ``losses``.

Every GAN variant is driven through a :class:`~srrepro.models.pairs.GANPair` view
(E, G, D): SR = G(E(LR)) and D sees E(img). Plain pairs have E = identity. The generator optimiser holds E and G,
the discriminator optimiser D and E, so with a real extractor E is trained by both objectives (facts §4):

* G step: D frozen (E not); adversarial terms reach E through E(LR) and E(SR); D's real prediction is computed
  without gradient (detached).
* D step: D and E receive the D-loss gradient; SR is detached.

Every pass through E runs in train mode, as in the authors' loop, so a BatchNorm in a shared E (SRGAN_Fs) records the
statistics of E(HR) and E(SR) as well as E(LR). ``train.shared_bn_statistics: generator_pass`` keeps only E(LR)'s,
the input E sees at inference (:meth:`Networks.discriminate`).

Per iteration one G step then one D step, except ``leftthomas`` (that code's order: D step, then G step on the
same SR). In data-parallel runs each step averages its optimiser's gradients over the ranks before stepping
(:mod:`srrepro.training.distributed`), so E gets the global-batch gradient of both objectives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from srrepro.errors import ConfigError
from srrepro.models.pairs import DISCRIMINATOR_PREFIXES, GANPair
from srrepro.training import losses
from srrepro.training.distributed import average_gradients


@dataclass
class Networks:
    """The trained networks: ``model`` is what is saved; ``extractor``/``trunk``/``discriminator`` its GAN view;
    ``d_extractor`` the discriminator's own extractor when it does not share E (None: D sees E);
    ``d_passes_keep_bn_statistics``: D's passes through a shared E leave its BatchNorm running statistics as they
    were (``train.shared_bn_statistics: generator_pass``)."""

    model: nn.Module
    extractor: nn.Module
    trunk: nn.Module
    discriminator: nn.Module | None
    d_extractor: nn.Module | None = None
    d_passes_keep_bn_statistics: bool = False

    def _d_features(self) -> nn.Module:
        return self.extractor if self.d_extractor is None else self.d_extractor

    def generate(self, lr: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.extractor(lr))

    def discriminate(self, img: torch.Tensor):
        if self.d_passes_keep_bn_statistics and self.d_extractor is None:
            with bn_statistics_kept(self.extractor):
                return self.discriminator(self.extractor(img))
        return self.discriminator(self._d_features()(img))

    def named_generator_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """E and G parameters with their names in ``model`` (for per-prefix learning rates)."""
        if isinstance(self.model, GANPair):
            return [(n, p) for n, p in self.model.named_parameters() if not n.startswith(DISCRIMINATOR_PREFIXES)]
        return list(self.model.named_parameters())

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.extractor.parameters(), *self.trunk.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [*self.discriminator.parameters(), *self._d_features().parameters()]


@contextmanager
def bn_statistics_kept(module: nn.Module) -> Iterator[None]:
    """Passes through ``module`` in train mode still normalise with batch statistics, but its BatchNorm running
    statistics (and batch counts) are left as they were: the passes update copies, which are then dropped (autograd
    keeps the copies it saved, so the backward pass is unaffected)."""
    names = ("running_mean", "running_var", "num_batches_tracked")
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [{name: getattr(m, name) for name in names} for m in norms]
    for m, buffers in zip(norms, saved):
        for name, buffer in buffers.items():
            setattr(m, name, buffer.clone())
    try:
        yield
    finally:
        for m, buffers in zip(norms, saved):
            for name, buffer in buffers.items():
                setattr(m, name, buffer)


@dataclass
class StepContext:
    """Everything a step needs: networks, optimisers, loss weights, the perceptual criterion, autocast factory."""

    nets: Networks
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    weights: dict[str, float]
    pixel_criterion: str
    perceptual: nn.Module | None
    autocast: Callable[[], AbstractContextManager]
    procedure: str


def loss_weights(cfg: dict) -> dict[str, float]:
    """The weights λ of the resolved variant ``cfg``'s loss terms (its ``losses`` without the criteria)."""
    return {k: float(v) for k, v in cfg["losses"].items() if k not in losses.LOSS_OPTIONS}


def step_context(cfg: dict, nets: Networks, opt_g, opt_d, perceptual: nn.Module | None,
                 device: torch.device) -> StepContext:
    """Everything the resolved variant ``cfg``'s steps need, with ``train.amp`` as autocast on ``device``."""
    bf16 = cfg["train"]["amp"] == "bf16"
    return StepContext(nets=nets, opt_g=opt_g, opt_d=opt_d, weights=loss_weights(cfg),
                       pixel_criterion=cfg["losses"]["pixel_criterion"], perceptual=perceptual,
                       autocast=(lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else nullcontext,
                       procedure=cfg["procedure"])


@dataclass(frozen=True)
class Objective:
    """A GAN objective on raw D outputs; ``fine_grained`` adds the map and attention terms (FASRGAN)."""

    name: str
    gan_g: Callable[[torch.Tensor | None, torch.Tensor], torch.Tensor]
    gan_d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    relativistic: bool
    fine_grained: bool
    d_first: bool = False

    def split(self, out, procedure: str):
        """(score, map) of a D output; a map is required by fine-grained objectives."""
        if isinstance(out, tuple):
            return out
        if self.fine_grained:
            raise ConfigError(f"procedure '{procedure}' needs a discriminator with a fine-grained map output "
                              f"(e.g. 'unet_fa' or a pair such as 'rrdbnet_unet'); key 'discriminator.arch' / 'generator.arch'")
        return out, None

    def g_terms(self, real, fake, sr, hr, weights, procedure) -> dict[str, torch.Tensor]:
        c_fake, m_fake = self.split(fake, procedure)
        c_real = self.split(real, procedure)[0] if real is not None else None
        terms = {"gan": self.gan_g(c_real, c_fake)} if weights["gan"] else {}
        if self.fine_grained and weights["map"]:
            terms["map"] = losses.map_g(m_fake)
        if self.fine_grained and weights["attention"]:
            terms["attention"] = losses.attention_loss(sr, hr, m_fake)
        return terms

    def d_terms(self, real, fake, weights, procedure) -> dict[str, torch.Tensor]:
        (c_real, m_real), (c_fake, m_fake) = self.split(real, procedure), self.split(fake, procedure)
        terms = {"gan": self.gan_d(c_real, c_fake)}
        if self.fine_grained and weights["d_map"]:
            terms["map"] = losses.map_d(m_real, m_fake)
        return terms


RAGAN = Objective("relativistic average (RaGAN)", losses.ragan_g, losses.ragan_d,
                  relativistic=True, fine_grained=False)
RAGAN_FA = Objective("RaGAN + fine-grained map and attention (FA)", losses.ragan_g, losses.ragan_d,
                     relativistic=True, fine_grained=True)
BCE = Objective("standard GAN (BCE)", lambda real, fake: losses.bce_g(fake), losses.bce_d,
                relativistic=False, fine_grained=False)
BCE_FA = Objective("BCE + fine-grained map and attention (FA)", lambda real, fake: losses.bce_g(fake), losses.bce_d,
                   relativistic=False, fine_grained=True)
LEFTTHOMAS = Objective("probability loss of Wu's code (1 - D(SR))", lambda real, fake: losses.wu_g(fake), losses.wu_d,
                       relativistic=False, fine_grained=False, d_first=True)


def _content_terms(ctx: StepContext, sr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
    terms = {}
    if ctx.weights["pixel"]:
        terms["pixel"] = losses.pixel_loss(sr, hr, ctx.pixel_criterion)
    if ctx.weights.get("perceptual"):
        terms["perceptual"] = ctx.perceptual(sr, hr)
    if ctx.weights.get("tv"):
        terms["tv"] = losses.tv_loss(sr)
    return terms


def _update(optimizer: torch.optim.Optimizer, total: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    average_gradients(optimizer)  # data-parallel runs: the global batch's gradient on every rank
    optimizer.step()


def psnr_step(ctx: StepContext, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
    """PSNR-oriented pre-training: pixel loss only."""
    with ctx.autocast():
        terms = _content_terms(ctx, ctx.nets.generate(lr), hr)
        total = losses.weighted_total(terms, ctx.weights)
    _update(ctx.opt_g, total)
    return {**{f"g/{k}": v.detach() for k, v in terms.items()}, "g/total": total.detach()}


def _g_update(ctx: StepContext, objective: Objective, sr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
    nets = ctx.nets
    nets.discriminator.requires_grad_(False)
    with ctx.autocast():
        terms = _content_terms(ctx, sr, hr)
        fake = nets.discriminate(sr)
        real = None
        if objective.relativistic:
            with torch.no_grad():
                real = nets.discriminate(hr)
        terms.update(objective.g_terms(real, fake, sr, hr, ctx.weights, ctx.procedure))
        total = losses.weighted_total(terms, ctx.weights)
    _update(ctx.opt_g, total)
    nets.discriminator.requires_grad_(True)
    return {**{f"g/{k}": v.detach() for k, v in terms.items()}, "g/total": total.detach()}


def _d_update(ctx: StepContext, objective: Objective, sr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
    with ctx.autocast():
        real = ctx.nets.discriminate(hr)
        fake = ctx.nets.discriminate(sr.detach())
        terms = objective.d_terms(real, fake, ctx.weights, ctx.procedure)
        total = terms["gan"] + ctx.weights["d_map"] * terms["map"] if "map" in terms else terms["gan"]
    _update(ctx.opt_d, total)
    return {**{f"d/{k}": v.detach() for k, v in terms.items()}, "d/total": total.detach()}


def gan_step(ctx: StepContext, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
    """One G step and one D step (order from the objective)."""
    objective = PROCEDURES[ctx.procedure].objective
    with ctx.autocast():
        sr = ctx.nets.generate(lr)
    if objective.d_first:
        return {**_d_update(ctx, objective, sr, hr), **_g_update(ctx, objective, sr, hr)}
    return {**_g_update(ctx, objective, sr, hr), **_d_update(ctx, objective, sr, hr)}


@dataclass(frozen=True)
class Procedure:
    """A training procedure: its step, its GAN objective (None: no discriminator), the loss weights it accepts with
    their defaults (the papers' values) and ``tied``: term → the term whose weight it takes when a variant leaves it
    unset (the defaults listed for a tied term are its source's)."""

    step: Callable[[StepContext, torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]
    objective: Objective | None
    loss_defaults: dict[str, float]
    tied: dict[str, str] = field(default_factory=dict)


_ESRGAN_WEIGHTS = {"pixel": 1e-2, "perceptual": 1.0, "gan": 5e-3}
_SRGAN_WEIGHTS = {"pixel": 0.0, "perceptual": 1.0, "gan": 1e-3}  # Ledig et al.: VGG content loss + 1e-3 adversarial
# Eq. 9: λ1 weights both L_entire (gan) and L_fine (map), so G's map term takes the adversarial weight unless set
# (FASRGAN's and FA+Fs-SRGAN's released w_map 5e-3 = their gan_weight 5e-3).
_FA_TIED = {"map": "gan"}

# Loss-weight names: pixel, perceptual, gan (G's adversarial term), map (G's fine-grained map term, w_map),
# attention (λ2), d_map (D's fine-grained map term; 1 in the papers; 0 with map = attention = 0 switches FA off
# entirely, "FASRGAN w/o FA"), tv (leftthomas/SRGAN's total variation term).
PROCEDURES: dict[str, Procedure] = {
    "psnr": Procedure(psnr_step, None, {"pixel": 1.0}),
    "ragan": Procedure(gan_step, RAGAN, _ESRGAN_WEIGHTS),
    # λ2 (attention) 1e-2: the FASRGAN paper's value ("is used in our FASRGAN"; Table V's 0.01 column equals Table I's
    # FASRGAN row) and FA+Fs-SRGAN's released one. FASRGAN's released configuration has 5e-2.
    "ragan_fa": Procedure(gan_step, RAGAN_FA, {**_ESRGAN_WEIGHTS, "map": 5e-3, "attention": 1e-2, "d_map": 1.0},
                          _FA_TIED),
    "bce": Procedure(gan_step, BCE, _SRGAN_WEIGHTS),
    # SRGAN_FA (Table VI): FASRGAN's terms on SRGAN's objective. The paper states no other λ2 for this port than
    # FASRGAN's 0.01 (§IV-A, §IV-G "is used in our FASRGAN"); the map term takes the adversarial weight (Eq. 9).
    "bce_fa": Procedure(gan_step, BCE_FA, {**_SRGAN_WEIGHTS, "map": 1e-3, "attention": 1e-2, "d_map": 1.0},
                        _FA_TIED),
    # Wu's loss (L1 + 1e-3 adversarial) by default; the four-term SRGAN loss of the leftthomas code Wu simplifies
    # sets pixel_criterion mse, perceptual 6e-3 (perceptual_layer vgg16_pool5, perceptual_criterion mse), tv 2e-8.
    "leftthomas": Procedure(gan_step, LEFTTHOMAS, {"pixel": 1.0, "gan": 1e-3, "perceptual": 0.0, "tv": 0.0}),
}

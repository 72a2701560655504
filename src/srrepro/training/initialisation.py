"""How a training run starts: generator weights from an earlier model, and RRSB pruning before the first step."""

from __future__ import annotations

from pathlib import Path

import torch

from srrepro.errors import CheckpointError, ConfigError
from srrepro.models.checkpoints import load_model, load_official
from srrepro.models.pairs import DISCRIMINATOR_PREFIXES, GANPair
from srrepro.models.rrsb_pruning import prune_generator
from srrepro.models.spsagan import SPSAGenerator, dense_mask, rrdbnet_to_spsagan
from srrepro.training import run_state
from srrepro.training.patches import PatchSampler, describe_data
from srrepro.training.procedures import Networks


def load_init_weights(nets: Networks, path: Path) -> None:
    """Initialise the generator part (E and G) from a model file, ours or an official ESRGAN-style one.

    A discriminator in the file is ignored; a plain generator file initialises the trunk of a pair. Into an SPSAGAN
    generator: an RRDBNet run (renamed), or an SPSAGAN run whose attention layer is dropped when the target has none
    (PSNR pre-training runs "without the SPSA module", SPSAGAN §4.1) and left at its fresh initialisation when the
    source has none. A segmentation prior is never part of a model file (it comes from its asset).
    """
    try:
        source = load_model(path, with_prior=False).state_dict()
    except CheckpointError:
        source = load_official(path).state_dict()
    source = {k: v for k, v in source.items() if not k.startswith(DISCRIMINATOR_PREFIXES)}
    pair = isinstance(nets.model, GANPair)
    target = nets.trunk if pair and not any(k.startswith("generator_trunk.") for k in source) else nets.model
    problem = f"init_checkpoint {path} does not fit generator '{type(target).__name__}'"
    fresh_ok = None  # prefix of target keys the source may lack
    if isinstance(target, SPSAGenerator):
        if any(k.startswith("trunk.") for k in source):
            try:
                source = rrdbnet_to_spsagan(source)  # an RRDBNet run
            except ValueError as err:
                raise ConfigError(f"{problem}: {err}") from err
        elif target.attention == "none":
            source = {k: v for k, v in source.items() if not k.startswith("spsa.")}
        fresh_ok = "spsa."  # the attention layer keeps its fresh init
    try:
        result = target.load_state_dict(source, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ConfigError(f"{problem}: {str(err).strip().splitlines()[-1].strip()}") from err
    missing = [k for k in result.missing_keys
               if not k.startswith(DISCRIMINATOR_PREFIXES) and not (fresh_ok and k.startswith(fresh_ok))]
    if missing or result.unexpected_keys:
        raise ConfigError(f"{problem}: missing {missing[:3]}, unexpected {result.unexpected_keys[:3]}")


def is_dense(model: SPSAGenerator) -> bool:
    return bool((model.masks() == dense_mask()).all())


def prune_for_training(cfg: dict, model: SPSAGenerator, data, seed: int, device: torch.device,
                       fresh: dict | None) -> dict:
    """Prune ``model`` (holding the init weights) in place, measuring Eq. 8 on patches of ``data``, the training
    data of the run being pruned (this run's own patch sampler is untouched); ``fresh``: the seeded init to restore
    ("scratch")."""
    train = cfg["train"]
    sampler = PatchSampler(data, cfg["scale"], train["hr_patch"], seed, train["augment"], train["small_images"])
    skipped = {"skipped_images": sampler.skipped_record()} if sampler.skipped else {}
    if skipped:
        run_state.note(f"train.small_images: skip: Eq. 8 is measured without {len(sampler.skipped)} image(s) smaller "
                       f"than the LR patch: {', '.join(sampler.skipped)}")
    batches = (sampler.sample(train["batch_size"])[0].to(device) for _ in range(train["prune_batches"]))
    model.to(device)
    stats = prune_generator(model, batches, train["prune_threshold"], keep_weights=fresh is None)
    if fresh is not None:
        result = model.load_state_dict({k: v for k, v in fresh.items() if not k.startswith("blocks.")}, strict=False)
        assert all(k.startswith("blocks.") for k in result.missing_keys) and not result.unexpected_keys
    return {"source": "measured", "data": describe_data(data), "batches": train["prune_batches"],
            "batch_size": train["batch_size"], "weights": train["prune_weights"], **skipped, **stats}

"""Training: losses, paired patch sampling, the per-variant procedures, checkpoints and resume."""

from srrepro.training.trainer import train_variant

__all__ = ["train_variant"]

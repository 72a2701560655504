"""Training: the variant specification, losses, procedures, patch sampling, initialisation, the loop, run state."""

from srrepro.training.loop import train_variant

__all__ = ["train_variant"]

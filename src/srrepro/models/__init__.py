"""Generators and discriminators of the three papers behind one registry."""

from srrepro.models.registry import available_models, build_model, register_model

__all__ = ["available_models", "build_model", "register_model"]

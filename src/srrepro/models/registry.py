"""Registry of network architectures, selected by name from the configuration.

Each architecture module decorates a builder ``builder(**options) -> nn.Module`` with :func:`register_model`.
"""

from __future__ import annotations

import importlib
from typing import Callable

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}

# Modules that register architectures when imported.
_MODEL_MODULES = (
    "srrepro.models.rrdbnet",
    "srrepro.models.discriminators",
    "srrepro.models.srgan",
    "srrepro.models.pairs",
    "srrepro.models.feature_sharing",
    "srrepro.models.attention_srgan",
    "srrepro.models.segmentation_prior",
    "srrepro.models.spsagan",
)


def register_model(name: str):
    """Decorator registering an architecture builder under ``name``."""

    def decorate(builder):
        _REGISTRY[name] = builder
        return builder

    return decorate


def _load_all() -> None:
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def available_models() -> list[str]:
    """Names of all registered architectures."""
    _load_all()
    return sorted(_REGISTRY)


def model_builder(arch: str) -> Callable[..., nn.Module]:
    """The builder registered as ``arch`` (its signature lists the architecture's options)."""
    _load_all()
    if arch not in _REGISTRY:
        raise KeyError(f"unknown architecture '{arch}'; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[arch]


def build_model(arch: str, **options) -> nn.Module:
    """Build architecture ``arch`` with ``options`` (widths, depths...)."""
    return model_builder(arch)(**options)

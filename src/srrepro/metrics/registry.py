"""One registry of metrics, usable from Python, the command line and the workflow.

A metric is a callable ``metric(sr, hr) -> float`` on uint8 RGB arrays (H, W, 3); ``hr`` is ``None``
for no-reference metrics. Each metric module registers a factory with :func:`register_metric`; the factory
receives the options (e.g. ``scale``) and may build networks once, so callers should keep the returned object.
Metrics whose assets are missing raise :class:`srrepro.errors.MetricUnavailable` when built or called.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np


class Metric(Protocol):
    name: str
    needs_reference: bool
    lower_is_better: bool

    def __call__(self, sr: np.ndarray, hr: np.ndarray | None) -> float: ...


@dataclass(frozen=True)
class MetricSpec:
    name: str
    factory: Callable[..., Metric]
    needs_reference: bool
    lower_is_better: bool
    description: str


_REGISTRY: dict[str, MetricSpec] = {}

# Modules that register metrics when imported; imported lazily so that importing the registry stays cheap.
_METRIC_MODULES = (
    "srrepro.metrics.fidelity",
    "srrepro.metrics.lpips_metric",
    "srrepro.metrics.niqe",
    "srrepro.metrics.ma",
    "srrepro.metrics.perceptual_index",
)


def register_metric(name: str, *, needs_reference: bool, lower_is_better: bool, description: str):
    """Decorator registering ``factory(**options) -> Metric`` under ``name``."""

    def decorate(factory):
        _REGISTRY[name] = MetricSpec(name, factory, needs_reference, lower_is_better, description)
        return factory

    return decorate


def _load_all() -> None:
    for module in _METRIC_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:  # a real import error inside the module
                raise


def available_metrics() -> dict[str, MetricSpec]:
    """All registered metrics by name."""
    _load_all()
    return dict(_REGISTRY)


def get_metric(name: str, **options) -> Metric:
    """Build the metric ``name`` with ``options`` (e.g. ``scale=4``)."""
    specs = available_metrics()
    if name not in specs:
        raise KeyError(f"unknown metric '{name}'; known metrics: {', '.join(sorted(specs))}")
    return specs[name].factory(**options)

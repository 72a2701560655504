"""One registry of metrics, usable from Python, the command line and the workflow.

A per-image metric is a callable ``metric(sr, hr) -> float`` on uint8 RGB arrays (H, W, 3); ``hr`` is ``None``
for no-reference metrics. Each metric module registers a factory with :func:`register_metric`; the factory
receives the options (e.g. ``scale``; ``asset_options`` when the metric ``needs_assets``) and may
build networks once, so callers should keep the returned object. Metrics whose assets are missing raise
:class:`srrepro.errors.MetricUnavailable` when built or called. Dataset-level metrics (ImageNet top-k error) are
registered with :func:`register_dataset_metric`: they have no per-image factory. The registry is the one place
that says whether lower is better and whether a metric needs external assets.
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
    factory: Callable[..., Metric] | None  # None: a dataset-level metric
    needs_reference: bool
    lower_is_better: bool
    description: str
    needs_assets: bool = False  # the factory takes asset_options (see srrepro.data.assets.FETCH_OPTIONS)

    @property
    def per_image(self) -> bool:
        return self.factory is not None


_REGISTRY: dict[str, MetricSpec] = {}

# Modules that register metrics when imported; imported lazily so that importing the registry stays cheap.
_METRIC_MODULES = (
    "srrepro.metrics.fidelity",
    "srrepro.metrics.lpips",
    "srrepro.metrics.niqe",
    "srrepro.metrics.ma",
    "srrepro.metrics.perceptual_index",
    "srrepro.metrics.topk_error",
)


def register_metric(name: str, *, needs_reference: bool, lower_is_better: bool, description: str,
                    needs_assets: bool = False):
    """Decorator registering ``factory(**options) -> Metric`` under ``name``."""

    def decorate(factory):
        _REGISTRY[name] = MetricSpec(name, factory, needs_reference, lower_is_better, description, needs_assets)
        return factory

    return decorate


RECOGNITION_DATASET = "ImageNet CLS-LOC val (first 1000)"  # the dataset of the recognition rows (top-k errors)


def register_dataset_metric(name: str, *, lower_is_better: bool, description: str) -> None:
    """Register a metric computed over a whole dataset by an evaluation protocol (no per-image factory)."""
    _REGISTRY[name] = MetricSpec(name, None, True, lower_is_better, description)


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


def image_metrics() -> list[str]:
    """Names of the per-image metrics (those :func:`get_metric` builds), in the order of their modules."""
    specs = [spec for spec in available_metrics().values() if spec.per_image]
    return [spec.name for spec in sorted(specs, key=lambda spec: _METRIC_MODULES.index(spec.factory.__module__))]


def metric_spec(name: str) -> MetricSpec:
    """The spec of metric ``name`` (case-insensitive, as paper tables print PSNR, LPIPS...)."""
    specs = available_metrics()
    if name.lower() not in specs:
        raise KeyError(f"unknown metric '{name}'; known metrics: {', '.join(sorted(specs))}")
    return specs[name.lower()]


def get_metric(name: str, asset_options: dict | None = None, **options) -> Metric:
    """Build the per-image metric ``name`` with ``options`` (e.g. ``scale=4``).

    ``asset_options`` (``cache_dir``, ``local_paths``, ...) is passed on only to metrics that need external assets.
    """
    specs = available_metrics()
    if name not in specs or not specs[name].per_image:
        raise KeyError(f"unknown metric '{name}'; known metrics: {', '.join(image_metrics())}")
    spec = specs[name]
    extra = {"asset_options": asset_options} if spec.needs_assets else {}
    return spec.factory(**extra, **options)

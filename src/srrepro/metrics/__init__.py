"""Image-quality metrics behind one registry (see :mod:`srrepro.metrics.registry`)."""

from srrepro.metrics.registry import available_metrics, get_metric, image_metrics, metric_spec, register_metric

__all__ = ["available_metrics", "get_metric", "image_metrics", "metric_spec", "register_metric"]

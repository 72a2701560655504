"""PIRM-2018 perceptual index: PI = ((10 - Ma) + NIQE) / 2, lower is better (Blau et al. 2018).

As PIRM's ``calc_scores.m`` computes it: both Ma and NIQE on the rounded Y channel of ``rgb2ycbcr`` with
``shave`` border pixels removed (``convert_shave_image.m``).
"""

from __future__ import annotations

from srrepro.metrics.ma import make_ma
from srrepro.metrics.niqe import make_niqe
from srrepro.metrics.registry import register_metric


def perceptual_index(ma: float, niqe: float) -> float:
    """((10 - ma) + niqe) / 2."""
    return ((10.0 - float(ma)) + float(niqe)) / 2.0


class PIMetric:
    """Registry metric computing Ma and NIQE of ``sr`` and combining them; ``hr`` is unused."""

    name = "pi"
    needs_reference = False
    lower_is_better = True

    def __init__(self, ma, niqe):
        self.ma, self.niqe = ma, niqe

    def __call__(self, sr, hr=None) -> float:
        return perceptual_index(self.ma(sr, None), self.niqe(sr, None))


@register_metric("pi", needs_reference=False, lower_is_better=True, needs_assets=True,
                 description="perceptual index ((10 - Ma) + NIQE) / 2, PIRM-2018; unavailable when Ma is")
def make_pi(asset_options: dict | None = None, scale: int | None = None, shave: int = 0):
    """PI metric; raises MetricUnavailable (Ma's reason) when Ma cannot be computed."""
    ma = make_ma(asset_options, scale=scale).pirm(shave)
    return PIMetric(ma, make_niqe(shave=shave, asset_options=asset_options))

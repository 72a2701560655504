"""Ma et al. NRQM ("Ma score", 0..10, higher is better), the no-reference half of the PIRM perceptual index.

The score needs the authors' trained model (asset ``nrqm-model``: three regression forests over DCT, GSM and
SVD features plus a linear fusion, a MATLAB .mat file). Without that file the metric is unavailable and says
which asset is missing. With it, the metric is still unavailable: srrepro does not implement NRQM's feature
extraction (block-DCT generalised-Gaussian statistics on a 3-level Gaussian pyramid, steerable-pyramid GSM
statistics, SVD of 5x5 patches) and does not guess at it; the reason says so.
"""

from __future__ import annotations

from srrepro.assets import fetch_asset
from srrepro.errors import AssetUnavailable, MetricUnavailable
from srrepro.metrics.registry import register_metric

FEATURES_MISSING = (
    "NRQM feature extraction (DCT/GSM/SVD features of Ma et al.) is not implemented in srrepro; "
    "compute Ma with the PIRM-2018 MATLAB code"
)


def require_nrqm_model(cache_dir=None, local_paths: dict | None = None):
    """Path of the NRQM model file; raises MetricUnavailable('ma', reason) when it cannot be obtained."""
    try:
        return fetch_asset("nrqm-model", cache_dir, local_paths)
    except AssetUnavailable as err:
        raise MetricUnavailable("ma", err.reason) from err


@register_metric("ma", needs_reference=False, lower_is_better=False,
                 description="Ma et al. NRQM (needs the nrqm-model asset and NRQM features; unavailable here)")
def make_ma(cache_dir=None, local_paths: dict | None = None, scale: int | None = None):
    """Always raises MetricUnavailable: the asset's reason when the model is missing, else the missing features."""
    del scale
    require_nrqm_model(cache_dir, local_paths)
    raise MetricUnavailable("ma", FEATURES_MISSING)

"""Ma et al. NRQM ("Ma score", 0..10, higher is better), the no-reference half of the PIRM perceptual index.

The score needs the authors' trained model (asset ``nrqm-model``: the sr-metric ``model.mat`` that pyiqa
redistributes as ``NRQM_model.mat`` — three regression forests over DCT, GSM and SVD features plus a linear
fusion). Without that file the metric is unavailable and says which asset is missing. With it, the features are
computed by :mod:`srrepro.metrics.nrqm_features` (a numpy re-implementation of ``feature_all.m``) and the score
is ``[1 s1 s2 s3] * model.linear`` as in ``quality_predict.m``.

Input convention: ``quality_predict(imread(file))`` of the sr-metric code, i.e. MATLAB ``rgb2gray`` of the uint8
RGB image. PIRM-2018's ``calc_scores.m`` instead passes the rounded Y channel of ``rgb2ycbcr`` with ``shave``
border pixels removed; :meth:`MaMetric.pirm` gives that variant (used by the perceptual index).
"""

from __future__ import annotations

import numpy as np
from scipy.io.matlab import MatReadError

from srrepro.data.assets import fetch_with_options
from srrepro.errors import AssetUnavailable, MetricUnavailable
from srrepro.imaging.matlab import rgb2gray_uint8, rgb2y_uint8
from srrepro.metrics.nrqm_features import NRQMModel, load_nrqm_model, nrqm_features, size_problem
from srrepro.metrics.registry import register_metric


def require_nrqm_model(asset_options: dict | None = None):
    """Path of the NRQM model file; raises MetricUnavailable('ma', reason) when it cannot be obtained."""
    try:
        return fetch_with_options("nrqm-model", asset_options)
    except AssetUnavailable as err:
        raise MetricUnavailable("ma", err.reason) from err


def load_model(asset_options: dict | None = None) -> NRQMModel:
    """The NRQM model; MetricUnavailable when the file is missing or is not the expected MATLAB struct."""
    path = require_nrqm_model(asset_options)
    try:
        return load_nrqm_model(path)
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError, MatReadError) as err:
        raise MetricUnavailable("ma", f"NRQM model file {path} is not usable: {err}") from err


class MaMetric:
    """Registry metric: Ma score of ``sr`` (uint8 RGB, or a 2-D gray image on 0..255); ``hr`` is unused.

    ``channel`` "gray" (default) is sr-metric's ``rgb2gray``; "y" is PIRM's rounded ``rgb2ycbcr`` Y.
    ``shave`` border pixels are removed after the conversion.
    """

    name = "ma"
    needs_reference = False
    lower_is_better = False

    def __init__(self, model: NRQMModel, channel: str = "gray", shave: int = 0):
        if channel not in ("gray", "y"):
            raise ValueError(f"channel must be 'gray' or 'y', got {channel!r}")
        if shave < 0:
            raise ValueError(f"shave must be >= 0, got {shave}")
        self.model, self.channel, self.shave = model, channel, int(shave)

    def pirm(self, shave: int = 0) -> MaMetric:
        """The PIRM-2018 ``calc_scores`` variant (Y channel, ``shave`` pixels removed), sharing the model."""
        return MaMetric(self.model, channel="y", shave=shave)

    def gray(self, sr) -> np.ndarray:
        """The 0..255 grayscale image the features are computed on."""
        sr = np.asarray(sr)
        if self.channel == "y" and sr.ndim == 3:
            img = rgb2y_uint8(sr)
        else:
            img = rgb2gray_uint8(sr)
        if self.shave:
            img = img[self.shave : -self.shave, self.shave : -self.shave]
        return img

    def __call__(self, sr, hr=None) -> float:
        gray = self.gray(sr)
        if problem := size_problem(gray.shape):  # n/a with its reason, as NIQE below its minimum
            raise MetricUnavailable("ma", problem)
        return self.model.predict(*nrqm_features(gray))


@register_metric("ma", needs_reference=False, lower_is_better=False, needs_assets=True,
                 description="Ma et al. NRQM (sr-metric model.mat, asset nrqm-model), rgb2gray of the image")
def make_ma(asset_options: dict | None = None, scale: int | None = None):
    """Ma metric; raises MetricUnavailable (the asset's reason) when the NRQM model cannot be obtained or read."""
    del scale
    return MaMetric(load_model(asset_options))

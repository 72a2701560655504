"""Is "A beats B on dataset D in metric M" larger than training-seed and test-image noise?

A claim is judged on the paired differences ``d[s, i]`` of the per-image values of A and B (seed ``s``, test image
``i``; sign chosen so that ``d > 0`` means A is better). Seeds are paired by number: the GAN phases of one seed start
from that seed's PSNR model, so their differences share its starting point. A model without seeds (bicubic, the
authors' released weights) has the same values for every seed of the other side.

The 95 % interval of the mean difference accounts for both sources of variation. Two methods:

* ``anova`` (the default): the two-way random-effects model of a crossed seeds × images design,
  ``d[s, i] = μ + a_s + b_i + e_si``. The variance of the mean, ``σa²/S + σb²/I + σe²/(S·I)``, is estimated from the
  ANOVA mean squares (negative components set to 0) and the interval is ``mean ± t·se`` with Satterthwaite's degrees
  of freedom. In simulations of this design with 3 seeds its coverage is 92-96 %.
* ``bootstrap``: a two-level (hierarchical) bootstrap, seeded so that a report is reproducible. Each replicate
  draws S seeds with replacement, then I images with replacement, and averages the drawn seed × image cells (the
  images are the same for every seed, so one image draw serves every drawn seed). Percentile interval. With
  3 seeds it is too narrow (coverage 84-88 % in the same simulations): it is offered for comparison.

A claim *holds* when the interval lies above 0, *fails* when it lies below, and is *undecided* otherwise. For an
undecided claim :func:`seeds_to_decide` gives the number of seeds at which the observed mean and variance components
would give an interval that excludes 0 (None when more seeds cannot do it: the test images' own spread, σb²/I, is
then too large; only more images would).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

HOLDS, FAILS, UNDECIDED, UNKNOWN = "holds", "fails", "undecided", "n/a"
LEVEL = 0.95
METHODS = ("anova", "bootstrap")
METHOD_NAMES = {
    "anova": "two-way random-effects (seeds × images) ANOVA, Satterthwaite t-interval",
    "bootstrap": "two-level bootstrap (seeds, then images; percentile interval)",
}
BOOTSTRAP_REPLICATES = 4000
BOOTSTRAP_SEED = 0
MAX_SEEDS = 1000


@dataclass(frozen=True)
class Components:
    """Variance components of the paired differences: seed ``a``, image ``b``, residual ``e`` (with the mean
    squares' degrees of freedom)."""

    seed: float
    image: float
    residual: float
    seeds: int
    images: int

    def variance_of_mean(self, seeds: int | None = None) -> float:
        s = seeds or self.seeds
        return self.seed / s + self.image / self.images + self.residual / (s * self.images)

    def degrees_of_freedom(self, seeds: int | None = None) -> float:
        """Satterthwaite's approximation for the variance of the mean at ``seeds`` seeds: that variance written as a
        combination of the ANOVA mean squares expected at that many seeds, each with its degrees of freedom."""
        s, i = seeds or self.seeds, self.images
        a, b, e = self.seed, self.image, self.residual
        terms = []  # (the term's value in the variance of the mean, its mean square's degrees of freedom)
        if a > 0:
            terms.append(((e + i * a) / (s * i), s - 1))
        if b > 0:
            terms.append(((e + s * b) / (s * i), i - 1))
        terms.append(((1 - (a > 0) - (b > 0)) * e / (s * i), (s - 1) * (i - 1)))
        total = sum(v for v, _ in terms)
        denominator = sum(v * v / df for v, df in terms if df > 0 and v != 0)
        return total * total / denominator if denominator > 0 else math.inf


@dataclass(frozen=True)
class Interval:
    """The mean paired difference (positive: the claim's direction) with its interval and verdict."""

    mean: float
    low: float
    high: float
    seeds: int
    images: int
    method: str
    verdict: str
    seeds_needed: int | None = None
    reason: str = ""

    def text(self, digits: int = 4) -> str:
        """``'+0.0123 [+0.0051, +0.0195]'`` (or the reason it is n/a)."""
        if self.verdict == UNKNOWN:
            return f"n/a ({self.reason})" if self.reason else "n/a"
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{self.mean:+.{digits}f} (no interval: {self.reason or 'no spread to estimate'})"
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def components(d: np.ndarray) -> Components:
    """ANOVA estimates of the variance components of a seeds × images matrix of differences."""
    s, i = d.shape
    grand = d.mean()
    seed_means, image_means = d.mean(axis=1), d.mean(axis=0)
    ms_seed = i * ((seed_means - grand) ** 2).sum() / (s - 1) if s > 1 else 0.0
    ms_image = s * ((image_means - grand) ** 2).sum() / (i - 1) if i > 1 else 0.0
    if s > 1 and i > 1:
        residual = d - seed_means[:, None] - image_means[None, :] + grand
        ms_error = (residual ** 2).sum() / ((s - 1) * (i - 1))
        return Components(max(0.0, (ms_seed - ms_error) / i), max(0.0, (ms_image - ms_error) / s), ms_error, s, i)
    if s > 1:  # one value per seed (e.g. a recognition error over the whole set): seeds only
        return Components(ms_seed, 0.0, 0.0, s, i)
    return Components(0.0, ms_image, 0.0, s, i)  # one seed: images only


def _verdict(low: float, high: float) -> str:
    return HOLDS if low > 0 else FAILS if high < 0 else UNDECIDED


def anova_interval(d: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    c = components(d)
    mean = float(d.mean())
    half = stats.t.ppf(0.5 + level / 2, c.degrees_of_freedom()) * math.sqrt(c.variance_of_mean())
    return mean - half, mean + half


def bootstrap_interval(d: np.ndarray, level: float = LEVEL, replicates: int = BOOTSTRAP_REPLICATES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    s, i = d.shape
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, s, (replicates, s))
    images = rng.integers(0, i, (replicates, i))
    means = d[seeds[:, :, None], images[:, None, :]].mean(axis=(1, 2))
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def seeds_to_decide(d: np.ndarray, level: float = LEVEL) -> int | None:
    """The fewest seeds (at most :data:`MAX_SEEDS`) at which the observed mean and variance components give an
    interval excluding 0; the half-width shrinks with every seed, so a bisection finds it."""
    c, mean = components(d), abs(float(d.mean()))
    if mean == 0 or c.seeds < 2:
        return None

    def decided(seeds: int) -> bool:
        half = stats.t.ppf(0.5 + level / 2, c.degrees_of_freedom(seeds)) * math.sqrt(c.variance_of_mean(seeds))
        return half < mean

    low, high = c.seeds, MAX_SEEDS  # undecided at low; decided at high, or never
    if not decided(high):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if decided(middle) else (middle, high)
    return high


def interval(d: np.ndarray, method: str = "anova", level: float = LEVEL) -> Interval:
    """The interval and verdict of a seeds × images matrix of paired differences."""
    if method not in METHODS:
        raise ValueError(f"unknown interval method '{method}'; known: {', '.join(METHODS)}")
    s, i = d.shape
    mean = float(d.mean())
    if s * i < 2:
        return Interval(mean, math.nan, math.nan, s, i, method, UNDECIDED, None,
                        "one value each (one seed and one image)")
    if not np.isfinite(d).all():
        return Interval(math.nan, math.nan, math.nan, s, i, method, UNKNOWN, None, "a value is missing")
    low, high = anova_interval(d, level) if method == "anova" else bootstrap_interval(d, level)
    verdict = _verdict(low, high)
    needed = seeds_to_decide(d, level) if verdict == UNDECIDED else None
    return Interval(mean, low, high, s, i, method, verdict, needed)


def _seeded(values: pd.DataFrame) -> dict[int | None, pd.Series]:
    """``{seed: value per image}`` of one model's rows (columns seed, image, value); seed None for unseeded models."""
    return {seed: group.set_index("image")["value"] for seed, group in values.groupby("seed", dropna=False, sort=True)}


def paired_differences(better: pd.DataFrame, worse: pd.DataFrame, lower_is_better: bool) -> tuple[np.ndarray, str]:
    """The seeds × images matrix of ``better − worse`` (``worse − better`` where lower is better) from two models'
    per-image rows (columns seed, image, value; seed NaN for a model without seeds), and why it is empty if it is."""
    a, b = _seeded(better), _seeded(worse)
    a_seeds = [k for k in a if not pd.isna(k)]
    b_seeds = [k for k in b if not pd.isna(k)]
    if a_seeds and b_seeds:
        seeds = sorted(set(a_seeds) & set(b_seeds))
        if not seeds:
            return np.empty((0, 0)), "the two models share no seed"
        pairs = [(a[k], b[k]) for k in seeds]
    elif a_seeds:
        pairs = [(a[k], next(iter(b.values()))) for k in sorted(a_seeds)]
    elif b_seeds:
        pairs = [(next(iter(a.values())), b[k]) for k in sorted(b_seeds)]
    else:
        pairs = [(next(iter(a.values())), next(iter(b.values())))]
    images = sorted(set.intersection(*(set(x.index) & set(y.index) for x, y in pairs)))
    if not images:
        return np.empty((0, 0)), "the two models share no test image"
    d = np.array([[(y[n] - x[n]) if lower_is_better else (x[n] - y[n]) for n in images] for x, y in pairs], float)
    return d, ""

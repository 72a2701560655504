"""Claim verdicts with their uncertainty: synthetic seeds × images tables with known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from srrepro.reporting.claim_intervals import (FAILS, HOLDS, UNDECIDED, bootstrap_interval, components, interval,
                                               paired_differences, seeds_to_decide)


def _draw(rng, seeds, images, effect=0.0, seed_sd=0.02, image_sd=0.05, noise_sd=0.02):
    """Paired differences of a crossed design: effect + seed effect + image effect + residual."""
    return (effect + rng.normal(0, seed_sd, (seeds, 1)) + rng.normal(0, image_sd, (1, images))
            + rng.normal(0, noise_sd, (seeds, images)))


def test_a_real_effect_is_found_in_both_directions():
    rng = np.random.default_rng(0)
    d = _draw(rng, 3, 100, effect=0.05)
    found = interval(d)
    assert found.verdict == HOLDS and 0 < found.low < 0.05 < found.high
    assert interval(-d).verdict == FAILS
    assert interval(d, "bootstrap").verdict == HOLDS
    assert (found.seeds, found.images) == (3, 100)


def test_no_effect_stays_undecided_at_about_the_nominal_rate():
    """Over 300 draws without an effect, 3 seeds and 50 images, the ANOVA interval contains 0 in 95 % of them within
    binomial noise; the percentile bootstrap, known to be narrow with 3 seeds, in at least 80 % (150 draws)."""
    rng = np.random.default_rng(1)
    rate = np.mean([interval(_draw(rng, 3, 50)).verdict == UNDECIDED for _ in range(300)])
    assert abs(rate - 0.95) < 0.04, rate
    covered = [low <= 0 <= high for low, high in (bootstrap_interval(_draw(rng, 3, 50), replicates=1000)
                                                  for _ in range(150))]
    assert 0.80 <= np.mean(covered) < rate + 0.02, np.mean(covered)


def test_seed_variation_matters():
    """Seeds that disagree widen the interval: the same image-level spread with a seed effect of 0.05 sd is
    undecided, without it decided."""
    rng = np.random.default_rng(2)
    images = rng.normal(0, 0.02, (1, 100))
    agreeing = 0.02 + images + rng.normal(0, 0.005, (3, 100))
    disagreeing = agreeing + np.array([[0.06], [-0.05], [-0.01]])
    assert interval(agreeing).verdict == HOLDS
    wide = interval(disagreeing)
    assert wide.verdict == UNDECIDED and wide.high - wide.low > 5 * (interval(agreeing).high - interval(agreeing).low)
    assert components(disagreeing).seed > 100 * components(agreeing).seed
    # the bootstrap's seed resampling sees it too
    assert interval(disagreeing, "bootstrap").verdict == UNDECIDED


def test_image_variation_matters():
    """Images that disagree widen the interval although every seed sees the same mean difference."""
    rng = np.random.default_rng(3)
    few = np.tile(0.01 + rng.normal(0, 0.05, (1, 5)), (3, 1)) + rng.normal(0, 0.001, (3, 5))
    assert interval(few).verdict == UNDECIDED
    assert interval(few, "bootstrap").verdict == UNDECIDED
    assert components(few).image > 0.001 and components(few).seed < 1e-5
    # more seeds cannot decide what only more images would
    assert seeds_to_decide(few) is None


def test_seeds_to_decide_matches_a_rerun_with_that_many_seeds():
    """An undecided effect at 3 seeds with a seed spread: the predicted number of seeds decides a draw of that many
    seeds with the same components in most repetitions, and one fewer than predicted rarely does better."""
    rng = np.random.default_rng(4)
    truth = dict(effect=0.02, seed_sd=0.02, image_sd=0.01, noise_sd=0.01)
    d = _draw(rng, 3, 100, **truth)
    assert interval(d).verdict == UNDECIDED
    needed = seeds_to_decide(d)
    assert needed is not None and 3 < needed < 100
    d_more = _draw(rng, max(needed * 2, 8), 100, **truth)
    assert interval(d_more).verdict == HOLDS


def test_one_seed_uses_the_images_and_one_image_uses_the_seeds():
    rng = np.random.default_rng(5)
    released = 0.01 + rng.normal(0, 0.002, (1, 100))  # two released models: one "seed", 100 images
    assert interval(released).verdict == HOLDS
    recognition = np.array([[0.51], [0.49], [0.50]])  # a top-1 error difference per seed, over the whole set
    assert interval(recognition).verdict == HOLDS
    single = interval(np.array([[0.3]]))
    assert single.verdict == UNDECIDED and "one value" in single.reason
    assert single.text() == "+0.3000 (no interval: one value each (one seed and one image))"


def test_bootstrap_is_reproducible():
    d = _draw(np.random.default_rng(6), 3, 20, effect=0.01)
    assert interval(d, "bootstrap") == interval(d, "bootstrap")


def test_paired_differences_pair_seeds_and_images_and_broadcast_unseeded_models():
    rows = lambda seeds, base: pd.DataFrame(  # noqa: E731
        [(s, f"img{i}", base + (s or 0) + i / 10) for s in seeds for i in range(3)], columns=["seed", "image", "value"])
    gan = rows([0, 1, 2], 0.2)
    start = rows([0, 1, 2, 3], 0.3)  # a fourth seed of the start has no partner
    d, why = paired_differences(gan, start, lower_is_better=True)
    assert why == "" and d.shape == (3, 3) and np.allclose(d, 0.1)
    bicubic = pd.DataFrame([(np.nan, f"img{i}", 0.5) for i in range(3)], columns=["seed", "image", "value"])
    d, _ = paired_differences(gan, bicubic, lower_is_better=True)
    assert d.shape == (3, 3) and np.allclose(d[:, 0], [0.3, -0.7, -1.7])
    d, why = paired_differences(rows([0], 0), rows([5], 0), lower_is_better=False)
    assert d.size == 0 and "no seed" in why

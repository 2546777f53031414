"""Confidence sequences: they hold at every look at once, and degrade gracefully without data."""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import log_ndtr

from evaluations.experiments.arms import ArmStats
from evaluations.experiments.sequential import (
    MIN_UNITS,
    beta_prior,
    difference_bounds,
    log_share_mixture,
    mixture_precision,
    one_sided_radius,
    share_bounds,
)

LOOKS = 40


def simulate_arms(rng, *, rate_control, rate_candidate, per_look, looks):
    """Cumulative successes per look of two arms with an uneven, changing split."""
    control = rng.binomial(per_look[0], rate_control, looks).cumsum()
    candidate = rng.binomial(per_look[1], rate_candidate, looks).cumsum()
    units = np.arange(1, looks + 1)
    return control, candidate, units * per_look[0], units * per_look[1]


def test_difference_sequence_covers_the_truth_at_every_look_in_most_runs():
    rng = np.random.default_rng(7)
    misses = 0
    for _ in range(500):
        k0, k1, n0, n1 = simulate_arms(
            rng, rate_control=0.10, rate_candidate=0.12, per_look=(900, 100), looks=LOOKS
        )
        for look in range(LOOKS):
            bounds = difference_bounds(
                ArmStats.from_successes(successes=int(k0[look]), n=int(n0[look])),
                ArmStats.from_successes(successes=int(k1[look]), n=int(n1[look])),
                kind="proportion",
                lower_alpha=0.025,
                upper_alpha=0.025,
            )
            if not bounds.lower <= 0.02 <= bounds.upper:
                misses += 1
                break

    assert misses / 500 <= 0.05


def test_difference_of_means_is_bounded_around_the_estimate():
    control = ArmStats.from_sums(n=10_000, sum=2_000_000.0, sum_sq=10_000 * (200.0**2 + 50.0**2))
    candidate = ArmStats.from_sums(n=10_000, sum=2_030_000.0, sum_sq=10_000 * (203.0**2 + 50.0**2))

    bounds = difference_bounds(
        control, candidate, kind="mean", lower_alpha=0.025, upper_alpha=0.025
    )

    assert bounds.estimate == pytest.approx(3.0)
    assert bounds.lower < 3.0 < bounds.upper
    # wider than a fixed-sample 95% interval (+-1.39), as the price of looking at will
    assert 1.39 < bounds.upper - 3.0 < 3 * 1.39
    assert bounds.upper - 3.0 == pytest.approx(3.0 - bounds.lower)


def test_a_one_sided_level_moves_only_its_own_side():
    control = ArmStats.from_successes(successes=1_000, n=10_000)
    candidate = ArmStats.from_successes(successes=1_100, n=10_000)

    wide = difference_bounds(
        control, candidate, kind="proportion", lower_alpha=0.001, upper_alpha=0.025
    )
    narrow = difference_bounds(
        control, candidate, kind="proportion", lower_alpha=0.025, upper_alpha=0.025
    )

    assert wide.lower < narrow.lower
    assert wide.upper == pytest.approx(narrow.upper)


def test_without_enough_data_there_is_no_bound_but_never_nan():
    empty = ArmStats(0, 0.0, 0.0)
    few = ArmStats.from_successes(successes=3, n=MIN_UNITS - 1)
    flat = ArmStats.from_sums(n=100, sum=500.0, sum_sq=2500.0)  # every value 5: no spread

    no_data = difference_bounds(empty, few, kind="proportion", lower_alpha=0.05, upper_alpha=0.05)
    short = difference_bounds(few, few, kind="proportion", lower_alpha=0.05, upper_alpha=0.05)
    constant = difference_bounds(flat, flat, kind="mean", lower_alpha=0.05, upper_alpha=0.05)

    assert (no_data.estimate, no_data.lower, no_data.upper) == (None, None, None)
    assert (short.estimate, short.lower, short.upper) == (0.0, None, None)
    assert (constant.lower, constant.upper) == (None, None)


def test_no_events_yet_still_gives_finite_bounds():
    none_seen = ArmStats.from_successes(successes=0, n=5_000)

    bounds = difference_bounds(
        none_seen, none_seen, kind="proportion", lower_alpha=0.025, upper_alpha=0.025
    )

    assert bounds.lower < 0.0 < bounds.upper
    assert np.isfinite([bounds.lower, bounds.upper]).all()


def test_huge_samples_give_tight_finite_bounds():
    control = ArmStats.from_successes(successes=10**11, n=10**12)
    candidate = ArmStats.from_successes(successes=10**11 + 10**7, n=10**12)

    bounds = difference_bounds(
        control, candidate, kind="proportion", lower_alpha=0.025, upper_alpha=0.025
    )

    assert bounds.lower > 0.0
    assert bounds.upper < 2e-5


def test_the_closed_form_boundary_is_never_below_the_exact_one_sided_mixture():
    for alpha in (0.05, 0.01, 0.001):
        for rho in (0.1, 10.0, 1e4):
            for information in (0.01, 1.0, 100.0, 1e6):
                spread = information + rho

                def excess(s, spread=spread, rho=rho, alpha=alpha):
                    return (
                        np.log(2) + 0.5 * np.log(rho / spread) + s * s / (2 * spread)
                        + log_ndtr(s / np.sqrt(spread)) - np.log(1 / alpha)
                    )  # fmt: skip

                exact = brentq(excess, 0.0, 1e8)
                closed = one_sided_radius(information, rho, alpha) * information
                assert exact <= closed <= exact * 1.05


def test_tuning_makes_the_boundary_tightest_near_the_planned_information():
    alpha, planned = 0.025, 1_000.0
    rhos = np.logspace(-2, 4, 400)

    widths = [float(one_sided_radius(planned, rho, alpha)) for rho in rhos]
    tuned = float(one_sided_radius(planned, mixture_precision(planned, alpha), alpha))

    assert tuned <= min(widths) * 1.01


def test_share_sequence_covers_the_truth_at_every_look_in_most_runs():
    rng = np.random.default_rng(11)
    prior = beta_prior(0.95, 0.025)
    agree = rng.binomial(50, 0.95, (500, LOOKS)).cumsum(axis=1)
    n = 50 * np.arange(1, LOOKS + 1)

    # the truth leaves the sequence exactly when the mixture against it reaches 1 / alpha
    outside = log_share_mixture(agree, n, 0.95, prior) >= np.log(1 / 0.05)
    low, high = share_bounds(int(agree[0, -1]), int(n[-1]), 0.05, prior)

    assert outside.any(axis=1).mean() <= 0.05
    assert log_share_mixture(agree[0, -1], n[-1], low, prior) == pytest.approx(np.log(20))
    assert log_share_mixture(agree[0, -1], n[-1], high, prior) == pytest.approx(np.log(20))


def test_share_bounds_at_the_edges():
    assert share_bounds(0, 0, 0.05) == (0.0, 1.0)
    assert share_bounds(0, 1_000, 0.05)[0] == 0.0
    assert share_bounds(1_000, 1_000, 0.05)[1] == 1.0
    low, high = share_bounds(5 * 10**11 + 10**7, 10**12, 0.05)
    assert 0.5 < low < 0.50001 < high < 0.50002
    with pytest.raises(ValueError, match="successes"):
        share_bounds(11, 10, 0.05)
    with pytest.raises(ValueError, match="Beta"):
        beta_prior(0.5, 0.6)

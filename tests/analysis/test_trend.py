"""Slow drift: Mann-Kendall, Theil-Sen, the onset scan, and drift findings end to end."""

import itertools

import numpy as np
import pytest

from evaluations.analysis.detect import analyse
from evaluations.analysis.trend import mann_kendall, onset_scan, theil_sen

from .factories import labels, noisy, with_drift


def brute_force_s(values):
    return sum(np.sign(b - a) for a, b in itertools.combinations(values, 2))


def test_mann_kendall_statistic_and_ties_corrected_variance():
    values = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 4.0, 4.0, 4.0, 6.0])
    result = mann_kendall(values)

    size = values.size  # ties: one pair of 2s, one triple of 4s
    variance = (size * (size - 1) * (2 * size + 5) - 2 * 1 * 9 - 3 * 2 * 11) / 18
    assert result.s == brute_force_s(values)
    assert result.variance == pytest.approx(variance)
    assert result.z == pytest.approx((result.s - 1) / np.sqrt(variance))


def test_mann_kendall_sees_a_fall_and_not_a_rise():
    falling = -0.1 * np.arange(30) + np.random.default_rng(4).standard_normal(30)

    assert mann_kendall(falling).p_down < 0.001
    assert mann_kendall(-falling).p_down > 0.99


def test_theil_sen_slope_ignores_outliers():
    values = 2.0 + 0.5 * np.arange(40) + 0.1 * np.random.default_rng(5).standard_normal(40)
    values[[5, 20, 33]] += [30.0, -25.0, 40.0]

    slope, intercept = theil_sen(values)

    assert slope == pytest.approx(0.5, abs=0.02)
    assert intercept == pytest.approx(2.0, abs=0.2)


def test_onset_scan_finds_where_a_drift_begins():
    values = with_drift(noisy(80, seed=6, level=0.0, sigma=1.0), start=50, per_version=-0.3)

    onset = onset_scan(values, np.ones(80), dof=39, min_after=4, min_before=1)

    assert abs(onset.start - 50) <= 3
    assert onset.slope == pytest.approx(-0.3, rel=0.3)
    assert onset.p_value < 1e-4


def test_planted_slow_drift_is_found_with_its_start_slope_and_total():
    values = with_drift(noisy(60, seed=7), start=40, per_version=-0.002)

    result = analyse(values, direction="higher_is_better", versions=labels(60), metric="accuracy")

    [drift] = result.degradations
    assert drift.kind == "drift"
    assert abs(drift.start_index - 40) <= 3
    assert drift.slope == pytest.approx(-0.002, rel=0.25)
    assert drift.magnitude == pytest.approx(-0.002 * 19, rel=0.25)
    assert drift.p_value < 0.001
    assert drift.message.startswith(f"accuracy has drifted down {abs(drift.magnitude) * 100:.1f}")
    assert f"since {drift.start_version}" in drift.message
    assert result.trend.start_index == drift.start_index
    assert result.trend.slope == pytest.approx(drift.slope)


def test_drift_spread_over_the_whole_window_is_found():
    values = with_drift(noisy(50, seed=8), start=0, per_version=-0.001)

    [drift] = analyse(values, direction="higher_is_better").degradations

    assert drift.kind == "drift"
    assert drift.start_index <= 10
    assert drift.slope == pytest.approx(-0.001, rel=0.3)


def test_slow_drift_within_the_noise_is_not_a_finding():
    values = with_drift(noisy(40, seed=9), start=30, per_version=-0.0005)

    assert analyse(values, direction="higher_is_better").degradations == ()

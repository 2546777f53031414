"""The noise estimates and outlier clipping that every test leans on."""

import numpy as np
import pytest

from evaluations.analysis.noise import (
    clip_outliers,
    estimate_noise,
    orient,
    robust_sigma,
    sampling_sigma,
)


def test_robust_sigma_recovers_the_noise_and_ignores_a_step():
    values = np.random.default_rng(1).standard_normal(200) * 2.0
    stepped = values.copy()
    stepped[100:] -= 10.0

    assert robust_sigma(values) == pytest.approx(2.0, rel=0.15)
    assert robust_sigma(stepped) == pytest.approx(robust_sigma(values), rel=0.05)


def test_robust_sigma_ignores_a_slow_drift():
    values = np.random.default_rng(2).standard_normal(200)
    drifting = values - 0.05 * np.arange(200)

    assert robust_sigma(drifting) == pytest.approx(robust_sigma(values), rel=0.05)


def test_binomial_standard_error_is_the_sampling_noise_of_a_rate():
    values = np.full(4, 0.9)
    sigma = sampling_sigma(values, np.array([200.0, 200.0, np.nan, 200_000.0]), None, None)

    assert sigma[0] == pytest.approx(np.sqrt(0.9 * 0.1 / 200), rel=0.01)
    assert sigma[2] == 0.0  # sample size unknown
    assert sigma[3] == pytest.approx(np.sqrt(0.9 * 0.1 / 200_000), rel=0.01)


def test_sample_size_says_nothing_about_a_metric_that_is_not_a_rate():
    values = np.array([41.0, 40.5, 42.0])

    assert np.all(sampling_sigma(values, np.full(3, 100.0), None, None) == 0.0)


def test_posted_interval_gives_the_sampling_noise():
    values = np.array([0.5, 0.5])
    sigma = sampling_sigma(values, None, np.array([0.4, 0.45]), np.array([0.6, 0.55]))

    assert sigma == pytest.approx([0.2 / 3.92, 0.1 / 3.92], rel=0.01)


def test_sampling_noise_is_a_floor_on_the_point_noise():
    values = np.full(30, 0.9) + 1e-4 * np.random.default_rng(3).standard_normal(30)
    noise, point, _ = estimate_noise(values, np.full(30, 0.02))

    assert np.all(point >= 0.02)
    assert noise.sampling_sigma == 0.02
    assert noise.series_sigma < 0.001


def test_hampel_filter_cuts_a_single_outlier_but_keeps_a_sustained_shift():
    values = np.zeros(20)
    values[8] = -10.0
    values[15:] = -10.0

    clipped = clip_outliers(values, np.ones(20))

    assert clipped[8] == pytest.approx(-2.5)
    assert np.all(clipped[15:] == -10.0)


def test_orientation_makes_worse_point_down():
    assert orient(np.array([1.0]), "higher_is_better")[0] == 1.0
    assert orient(np.array([1.0]), "lower_is_better")[0] == -1.0
    with pytest.raises(ValueError, match="direction"):
        orient(np.array([1.0]), "sideways")

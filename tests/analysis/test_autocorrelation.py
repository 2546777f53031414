"""Correlated noise: successive evaluations that wander together are no regression, and the
allowance made for them costs white noise nothing."""

from dataclasses import replace
from unittest import mock

import numpy as np
import pytest

from evaluations.analysis.detect import FIT_BIAS, analyse
from evaluations.analysis.noise import (
    AUTOCORRELATION_MIN_POINTS,
    MAX_PHI,
    autocorrelation,
    long_run_factor,
)
from evaluations.analysis.sensitivity import BALANCED, sensitivity

from .factories import ar1, noisy, with_step

SEEDS = range(20)
# the same analysis with the allowance for autocorrelation switched off
UNCORRECTED = replace(
    sensitivity(BALANCED), autocorrelation_z=float("inf"), assumed_autocorrelation=0.0
)


def falls(values, setting=None) -> list[str]:
    result = analyse(values, direction="higher_is_better", sensitivity=setting)
    return [f.kind for f in result.degradations]


def test_correlated_noise_is_no_finding_where_uncorrected_noise_would_be():
    histories = [ar1(100, seed=100 + seed) for seed in SEEDS]

    corrected = [falls(values) for values in histories]
    uncorrected = [falls(values, UNCORRECTED) for values in histories]

    assert corrected == [[] for _ in SEEDS]
    assert sum(1 for kinds in uncorrected if kinds) >= 5


def test_autocorrelation_is_estimated_near_the_truth_and_raises_the_noise():
    result = analyse(ar1(200, seed=7), direction="higher_is_better")

    assert 0.3 <= result.noise.phi <= 0.7
    assert result.noise.inflation == pytest.approx(long_run_factor(result.noise.phi))
    assert result.noise.inflation > 1.6


@pytest.mark.parametrize("seed", SEEDS)
def test_the_estimate_tells_white_noise_from_correlated_noise(seed):
    white = np.random.default_rng(seed).standard_normal(100)
    correlated = (ar1(100, seed=seed) - 0.9) / 0.004

    assert autocorrelation(white, z=2.0) == 0.0
    assert 0.3 <= autocorrelation(correlated, z=2.0) <= 0.7


def test_what_the_fit_absorbed_is_given_back_to_the_estimate():
    """Residuals around the scans' best fit understate phi in a short window; the analysis
    divides the estimate by 1 - FIT_BIAS / n, erring on the side of correlated noise: over 60
    AR(1) histories of 40 points its estimate averages at least the true 0.5, where without
    the allowance it averages less. An estimate the pretest made 0 stays 0."""
    histories = [ar1(40, seed=500 + seed) for seed in range(60)]

    allowed = [analyse(v, direction="higher_is_better").noise.phi for v in histories]
    with mock.patch("evaluations.analysis.detect.FIT_BIAS", 0.0):
        plain = [analyse(v, direction="higher_is_better").noise.phi for v in histories]

    assert np.mean(plain) < 0.5 <= np.mean(allowed) <= MAX_PHI
    correlated = (ar1(40, seed=9) - 0.9) / 0.004
    expected = min(MAX_PHI, autocorrelation(correlated, z=0.0) / (1 - FIT_BIAS / 40))
    assert autocorrelation(correlated, z=0.0, fit_bias=FIT_BIAS) == pytest.approx(expected)
    white = np.random.default_rng(1).standard_normal(40)
    assert autocorrelation(white, z=2.0, fit_bias=FIT_BIAS) == 0.0


def test_windows_too_short_to_measure_take_the_assumed_autocorrelation():
    short = (ar1(AUTOCORRELATION_MIN_POINTS - 1, seed=3, phi=0.9) - 0.9) / 0.004

    assert autocorrelation(short, z=0.0) == 0.0
    assert autocorrelation(short, z=0.0, assumed=0.5) == 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_a_two_sigma_step_in_white_noise_is_still_found(seed):
    values = with_step(noisy(60, seed=200 + seed), at=40, by=-2 * 0.004)

    assert falls(values) in (["step"], ["drift"])


def test_a_step_in_correlated_noise_is_still_found_when_large():
    values = with_step(ar1(150, seed=11), at=120, by=-4 * 0.004)

    assert falls(values) == ["step"]

"""The sequential tests of the latest points against the level before them, the CUSUM and the
ramp's likelihood ratio: small steps and slow drifts found early, and no more false alarms on
noise alone."""

from dataclasses import replace

import numpy as np
import pytest

from evaluations.analysis.detect import analyse
from evaluations.analysis.sensitivity import Sensitivity, sensitivity
from evaluations.analysis.sequential import cusum_drop, ramp_drop

from .factories import noisy, with_drift, with_step

SEEDS = range(30)
BALANCED = sensitivity("balanced")
SCANS_ALONE = replace(BALANCED, cusum_weight=1e-12, ramp_weight=1e-12)


# a fall of 2 sigma spread over 50 versions, from the 80th point on (in noise units)
DRIFT_PER_VERSION = -2.0 / 50
WINDOW = dict(min_before=5, min_after=1, reference=150)


def _ar1(size: int, *, seed: int, phi: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal(size) * np.sqrt(1.0 - phi**2)
    values = np.empty(size)
    values[0] = rng.standard_normal()
    for index in range(1, size):
        values[index] = phi * values[index - 1] + shocks[index]
    return 0.9 + 0.004 * values


def _step_found(values: np.ndarray, setting) -> bool:
    result = analyse(values, direction="higher_is_better", sensitivity=setting)
    return any(d.kind in ("step", "drift") for d in result.degradations)


def _one_sigma_steps() -> list[np.ndarray]:
    """A step of 1 sigma 80 points into a series, judged 20 points later."""
    return [with_step(noisy(100, seed=seed), at=80, by=-0.004) for seed in SEEDS]


def test_cusum_starts_its_excursion_at_the_step_and_its_p_value_is_walds_bound():
    values = with_step(noisy(80, seed=3, level=0.0, sigma=1.0), at=60, by=-2.0)

    found = cusum_drop(values, np.ones(80), min_before=5, min_after=1, reference=60)

    assert abs(found.index - 60) <= 2
    assert found.z > 15
    assert np.isclose(found.p_value, np.exp(-found.z))


def test_cusum_of_an_improvement_is_zero():
    values = with_step(noisy(80, seed=4, level=0.0, sigma=1.0), at=60, by=+2.0)

    found = cusum_drop(values, np.ones(80), min_before=5, min_after=1, reference=60)

    assert found.z < 2.0
    assert found.p_value > 0.1


def test_one_sigma_step_is_found_within_20_points_for_most_seeds():
    found = sum(_step_found(values, BALANCED) for values in _one_sigma_steps())

    assert found >= 19  # of 30 (15 by the scans alone)


def test_the_cusum_finds_one_sigma_steps_the_scans_alone_miss():
    steps = _one_sigma_steps()

    with_cusum = sum(_step_found(values, BALANCED) for values in steps)
    scans_alone = sum(_step_found(values, SCANS_ALONE) for values in steps)

    assert with_cusum >= scans_alone + 4


def _alarm_episodes(values: np.ndarray) -> int:
    """Alarms raised over every prefix from 100 points on, each judged as the service judges
    it (holding the finding the prefix before had): a run of alarmed prefixes counts once."""
    episodes, held = 0, False
    for end in range(100, values.size + 1):
        result = analyse(values[:end], direction="higher_is_better", holding=held)
        found = any(d.kind in ("step", "drift") for d in result.degradations)
        episodes += found and not held
        held = found
    return episodes


def test_white_noise_alone_raises_at_most_the_targets_false_alarms():
    # 804 prefixes judged: the target, 1 false alarm per 1,000, allows about one
    alarms = [_alarm_episodes(noisy(300, seed=seed)) for seed in range(4)]

    assert sum(alarms) <= 1


def test_ar1_noise_alone_raises_at_most_the_targets_false_alarms():
    # the target is 2 per 1,000 on AR(1) noise with phi = 0.5: 804 prefixes allow one or two
    alarms = [_alarm_episodes(_ar1(300, seed=seed)) for seed in range(4)]

    assert sum(alarms) <= 2


def _drifting(seed: int, *, since: int) -> np.ndarray:
    """Unit noise whose level starts falling after point 79, ``since`` versions ago."""
    values = noisy(80 + since, seed=seed, level=0.0, sigma=1.0)
    return with_drift(values, start=79, per_version=DRIFT_PER_VERSION)


def test_the_ramps_p_value_is_conservative_on_white_noise():
    # p = exp(-log likelihood ratio) at the likeliest start: measured, 1% of 30-point and
    # 0.7% of 150-point series of white noise reach 0.05
    for size in (30, 150):
        p_values = np.array(
            [
                ramp_drop(
                    noisy(size, seed=seed, level=0.0, sigma=1.0), np.ones(size), **WINDOW
                ).p_value
                for seed in range(400)
            ]
        )
        assert np.mean(p_values <= 0.05) <= 0.05
        assert np.mean(p_values <= 0.01) <= 0.01


def test_the_ramp_finds_a_slow_drift_where_it_started():
    found = [ramp_drop(_drifting(seed, since=33), np.ones(113), **WINDOW) for seed in range(20)]

    assert np.median([f.p_value for f in found]) < 0.01
    assert all(70 <= f.index <= 100 for f in found)  # the fall's first point is the 80th
    assert abs(np.median([f.index for f in found]) - 80) <= 10


def test_the_ramp_of_an_improvement_is_zero():
    improving = with_drift(noisy(113, seed=5, level=0.0, sigma=1.0), start=79, per_version=0.04)

    found = ramp_drop(improving, np.ones(113), **WINDOW)

    assert found.z == 0.0 and found.p_value == 1.0


def test_most_slow_drifts_are_found_within_33_versions():
    # as judged by the service: at most 33 versions after the fall began
    found = sum(_step_found(0.9 + 0.004 * _drifting(seed, since=33), BALANCED) for seed in SEEDS)

    assert found >= 18  # of 30 (20 measured)


def test_a_setting_must_leave_the_scans_a_share_of_alpha():
    with pytest.raises(ValueError, match="leave a share"):
        Sensitivity("custom", alpha=0.01, assumed_autocorrelation=0.5, ramp_weight=0.9)
    with pytest.raises(ValueError, match="positive"):
        Sensitivity("custom", alpha=0.01, assumed_autocorrelation=0.5, cusum_weight=0.0)

"""Step regressions: the change-point scan and step findings end to end."""

import numpy as np
import pytest

from evaluations.analysis.changepoint import last_step
from evaluations.analysis.detect import analyse

from .factories import labels, noisy, with_step


def test_last_step_finds_the_split_and_both_levels():
    values = with_step(noisy(60, seed=11, level=5.0, sigma=1.0), at=45, by=-4.0)

    step = last_step(values, np.ones(60), dof=29, min_after=3, min_before=5, reference=30, recent=5)

    assert step.index == 45
    assert step.before == pytest.approx(5.0, abs=0.5)
    assert step.after == pytest.approx(1.0, abs=0.7)
    assert step.p_value < 1e-4


def test_last_step_needs_points_at_the_new_level():
    values = np.zeros(20)
    values[-2:] = -100.0

    step = last_step(values, np.ones(20), dof=9, min_after=3, min_before=5, reference=30, recent=5)

    assert step.index <= 17  # the last two points alone are never a split


def test_step_regression_is_found_at_its_version():
    values = with_step(noisy(50, seed=12), at=42, by=-0.015)

    result = analyse(values, direction="higher_is_better", versions=labels(50), metric="f1")

    [step] = result.degradations
    assert step.kind == "step"
    assert step.start_index == 42
    assert step.start_version == "1.42.0"
    assert step.magnitude == pytest.approx(-0.015, abs=0.004)
    assert step.relative_magnitude == pytest.approx(-0.015 / 0.9, abs=0.005)
    assert step.message.startswith("f1 dropped 1.")
    assert "at 1.42.0 and has stayed down for 8 versions" in step.message


def test_step_is_seen_three_versions_after_it_happens():
    values = with_step(noisy(40, seed=13), at=37, by=-0.02)  # five sigmas

    [step] = analyse(values, direction="higher_is_better").degradations

    assert (step.kind, step.start_index) == ("step", 37)


def test_single_outlier_that_recovers_is_not_a_finding():
    for seed in range(5):
        values = noisy(40, seed=20 + seed)
        values[30] -= 0.05  # twelve sigmas, once
        for end in range(31, 41):  # whether it is the newest point or long past
            assert analyse(values[:end], direction="higher_is_better").degradations == ()


def test_two_bad_versions_that_recover_are_not_a_finding():
    values = noisy(40, seed=14)
    values[-4:-2] -= 0.03  # two versions seven sigmas down, then two good ones

    assert analyse(values, direction="higher_is_better").degradations == ()


def test_regression_that_was_fixed_stops_being_a_finding():
    values = noisy(60, seed=15)
    values[40:46] -= 0.02  # five sigmas for six versions, then fixed

    assert [f.kind for f in analyse(values[:46], direction="higher_is_better").degradations] == [
        "step"
    ]
    assert analyse(values[:52], direction="higher_is_better").degradations == ()
    assert analyse(values, direction="higher_is_better").degradations == ()

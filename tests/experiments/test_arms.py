"""Cumulative arm statistics: windows add up; bad windows are refused with a clear message."""

import pytest

from evaluations.experiments.arms import ArmStats, total


def test_windows_add_up_to_the_cumulative_mean_and_variance():
    values = [3.0, 5.0, 4.0, 8.0, 10.0]
    windows = [
        ArmStats.from_sums(n=2, sum=8.0, sum_sq=34.0),
        ArmStats.from_sums(n=0, sum=0.0, sum_sq=0.0),  # an empty window changes nothing
        ArmStats.from_sums(n=3, sum=22.0, sum_sq=180.0),
    ]

    arm = total(windows)

    assert arm == ArmStats(5, 30.0, 214.0)
    assert arm.mean == pytest.approx(sum(values) / 5)
    assert arm.variance == pytest.approx(8.5)


def test_a_proportion_is_its_successes_twice():
    arm = ArmStats.from_window(n=200, aggregate={"successes": 30}, kind="proportion")

    assert arm == ArmStats(200, 30.0, 30.0)
    assert arm.mean == pytest.approx(0.15)


def test_an_arm_without_data_has_no_mean_and_no_variance():
    assert ArmStats(0, 0.0, 0.0).mean is None
    assert ArmStats(1, 2.0, 4.0).variance is None


def test_huge_counts_stay_finite():
    arm = total([ArmStats.from_successes(successes=10**11, n=10**12)] * 3)

    assert arm.n == 3 * 10**12
    assert arm.mean == pytest.approx(0.1)
    assert arm.variance == pytest.approx(0.09)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ArmStats.from_successes(successes=-1, n=10), "negative"),
        (lambda: ArmStats.from_successes(successes=11, n=10), "cannot exceed"),
        (lambda: ArmStats.from_successes(successes=1, n=0), "cannot exceed"),
        (lambda: ArmStats.from_successes(successes=1.5, n=10), "whole number"),
        (lambda: ArmStats(-5, 0.0, 0.0), "negative"),
        (lambda: ArmStats(True, 1.0, 1.0), "whole number"),
        (lambda: ArmStats(10, float("nan"), 1.0), "finite"),
        (lambda: ArmStats(10, 1.0, float("inf")), "finite"),
        (lambda: ArmStats(0, 1.0, 1.0), "n = 0"),
        (lambda: ArmStats(10, 50.0, 20.0), "too small"),
        (lambda: ArmStats(10, 1.0, -1.0), "negative"),
        (lambda: ArmStats.from_window(n=10, aggregate={"sum": 1.0}, kind="mean"), "sum_sq"),
        (lambda: ArmStats.from_window(n=10, aggregate={"sum": 1.0}, kind="proportion"), "k}"),
        (lambda: ArmStats.from_window(n=10, aggregate={}, kind="median"), "metric type"),
    ],
)
def test_bad_windows_are_refused_with_a_clear_message(build, message):
    with pytest.raises(ValueError, match=message):
        build()

"""Sample-ratio mismatch: Pearson's chi-square against the planned split."""

import pytest
from scipy import stats

from evaluations.experiments.srm import sample_ratio_mismatch


@pytest.mark.parametrize(
    ("observed", "planned"),
    [((5_000, 5_100), (50, 50)), ((94_800, 5_200), (95, 5)), ((310, 330, 360), (1, 1, 1))],
)
def test_p_value_matches_scipy_chisquare(observed, planned):
    expected = [sum(observed) * w / sum(planned) for w in planned]
    reference = stats.chisquare(observed, expected)

    result = sample_ratio_mismatch(observed, planned)

    assert result.statistic == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.mismatch == (reference.pvalue < 0.001)


def test_a_broken_assignment_is_a_mismatch_and_a_fair_one_is_not():
    assert sample_ratio_mismatch((50_000, 48_500), (1, 1)).mismatch
    assert not sample_ratio_mismatch((50_000, 49_900), (1, 1)).mismatch


def test_huge_counts_and_no_traffic_are_judged_without_nan():
    huge = sample_ratio_mismatch((5 * 10**11, 5 * 10**11 + 10**8), (1, 1))
    empty = sample_ratio_mismatch((0, 0), (95, 5))

    assert huge.mismatch and huge.p_value < 1e-100
    assert (empty.p_value, empty.mismatch) == (1.0, False)


@pytest.mark.parametrize(
    ("observed", "planned", "message"),
    [
        ((-1, 10), (1, 1), "whole numbers"),
        ((1.5, 10), (1, 1), "whole numbers"),
        ((10, 10), (1, 0), "positive"),
        ((10, 10), (1, float("nan")), "positive"),
        ((10,), (1,), "two arms"),
        ((10, 10), (1, 1, 1), "two arms"),
    ],
)
def test_bad_counts_or_plans_are_refused(observed, planned, message):
    with pytest.raises(ValueError, match=message):
        sample_ratio_mismatch(observed, planned)

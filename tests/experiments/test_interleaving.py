"""Interleaving: a preference is declared only when the win share leaves 1/2 behind, "no
difference" only once the planned power is reached."""

import numpy as np
import pytest
from scipy.special import bdtrc

from evaluations.experiments.interleaving import (
    InterleavingConfig,
    critical_wins,
    decide_interleaving,
    impressions_for_power,
    share_prior,
)
from evaluations.experiments.sequential import log_share_mixture

CONFIG = InterleavingConfig()
PRIOR = share_prior(0.52)


def test_a_clear_preference_is_declared_either_way():
    better = decide_interleaving(CONFIG, candidate_wins=5_400, control_wins=4_600, ties=800)
    worse = decide_interleaving(CONFIG, candidate_wins=4_600, control_wins=5_400)

    assert better.action == "candidate_better"
    assert better.reasons[0].startswith(
        "candidate won 5,400 of 10,000 credited impressions (54.00%, 95% CS "
    )
    assert "800 ties left out" in better.reasons[0]
    assert worse.action == "control_better"


def test_no_difference_waits_for_the_planned_power():
    planned = impressions_for_power(0.52, 0.8, 0.05, PRIOR)
    half = planned // 2

    early = decide_interleaving(CONFIG, candidate_wins=half // 2, control_wins=half - half // 2)
    late = decide_interleaving(CONFIG, candidate_wins=planned // 2, control_wins=planned // 2 + 1)

    assert early.action == "continue"
    assert late.action == "no_difference"
    assert "no preference as strong as 52/48" in late.reasons[0]


def test_the_impressions_still_needed_follow_the_current_effect():
    decision = decide_interleaving(CONFIG, candidate_wins=530, control_wins=470)
    planned = impressions_for_power(0.53, 0.8, 0.05, PRIOR)

    assert decision.action == "continue"
    assert decision.impressions_needed == planned - 1_000
    assert f"about {decision.impressions_needed:,} more" in decision.reasons[0]


def test_the_planned_power_is_reached_at_the_planned_impressions():
    planned = impressions_for_power(0.52, 0.8, 0.05, PRIOR)
    wins = critical_wins(planned, 0.05, PRIOR)

    assert 4_906 < planned < 4 * 4_906  # above the fixed-sample size, the price of monitoring
    assert bdtrc(np.ceil(wins) - 1, planned, 0.52) >= 0.8
    assert bdtrc(np.ceil(wins) - 1, int(planned * 0.95), 0.52) < 0.8


def test_no_preference_is_rarely_declared_however_often_looked_at():
    rng = np.random.default_rng(9)
    wins = rng.binomial(100, 0.5, (2_000, 200)).cumsum(axis=1)
    credited = 100 * np.arange(1, 201)

    declared = log_share_mixture(wins, credited, 0.5, PRIOR) >= np.log(1 / 0.05)

    assert declared.any(axis=1).mean() <= 0.05


def test_no_data_and_huge_counts_are_judged_without_nan():
    empty = decide_interleaving(CONFIG, candidate_wins=0, control_wins=0, ties=10)
    huge = decide_interleaving(CONFIG, candidate_wins=10**12, control_wins=10**12)

    assert empty.action == "continue"
    assert huge.action == "no_difference"
    assert np.isfinite([huge.checks[0].lower, huge.checks[0].upper]).all()


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"candidate_wins": -1, "control_wins": 5}, "candidate"),
        ({"candidate_wins": 1, "control_wins": 5, "ties": -2}, "ties"),
        ({"candidate_wins": 1.0, "control_wins": 5}, "whole number"),
    ],
)
def test_bad_counts_are_refused(counts, message):
    with pytest.raises(ValueError, match=message):
        decide_interleaving(CONFIG, **counts)


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="planned_share"):
        InterleavingConfig(planned_share=0.5)
    with pytest.raises(ValueError, match="power"):
        InterleavingConfig(power=1.0)

"""Shadow mode: safe to switch once the agreement is certainly high enough, not safe once it is
certainly too low, and undecided in between."""

import numpy as np
import pytest

from evaluations.experiments.shadow import ShadowConfig, decide_shadow

CONFIG = ShadowConfig(min_agreement=0.95)


def test_high_agreement_is_safe_to_switch_and_says_so():
    decision = decide_shadow(CONFIG, n=5_000, agree=4_900, abs_diff_sum=12.5)

    assert decision.action == "safe_to_switch"
    assert decision.reasons[0].startswith("agreement 98.00% on 5,000 requests (95% CS ")
    assert decision.reasons[0].endswith("is at least the required 95.0%: safe to switch")
    assert decision.reasons[1] == "mean absolute difference of the outputs 0.0025"


def test_low_agreement_is_not_safe():
    decision = decide_shadow(CONFIG, n=5_000, agree=4_600)

    assert decision.action == "not_safe"
    assert decision.checks[0].upper < 0.95


def test_agreement_near_the_requirement_waits():
    assert decide_shadow(CONFIG, n=2_000, agree=1_910).action == "continue"
    assert decide_shadow(CONFIG, n=0, agree=0).action == "continue"


def test_a_shadow_exactly_at_the_requirement_is_rarely_called_safe_however_often_looked_at():
    rng = np.random.default_rng(5)
    called = 0
    for _ in range(200):
        agree = rng.binomial(300, 0.95, 15).cumsum()
        for look in range(15):
            if decide_shadow(CONFIG, n=300 * (look + 1), agree=int(agree[look])).action != (
                "continue"
            ):
                called += 1
                break

    assert called / 200 <= 0.05


def test_huge_counts_are_judged_without_nan():
    decision = decide_shadow(CONFIG, n=10**12, agree=96 * 10**10)

    assert decision.action == "safe_to_switch"
    assert np.isfinite([decision.checks[0].lower, decision.checks[0].upper]).all()


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"n": 10, "agree": 11}, "exceed"),
        ({"n": -1, "agree": 0}, "whole number"),
        ({"n": 10, "agree": 2.5}, "whole number"),
        ({"n": 10, "agree": 5, "abs_diff_sum": float("nan")}, "abs_diff_sum"),
    ],
)
def test_bad_counts_are_refused(counts, message):
    with pytest.raises(ValueError, match=message):
        decide_shadow(CONFIG, **counts)

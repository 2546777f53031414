"""Shadow mode: safe to switch once the agreement is certainly high enough, not safe once it is
certainly too low, and undecided in between."""

import numpy as np
import pytest

from evaluations.experiments.arms import ArmStats
from evaluations.experiments.decision import MetricSpec
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


LATENCY = MetricSpec("latency_ms", "mean", "lower_is_better", max_degradation=5.0)
ERRORS = MetricSpec("error_rate", "proportion", "lower_is_better", max_degradation=0.002)
GUARDED = ShadowConfig(min_agreement=0.95, guardrails=(LATENCY, ERRORS))


def _latency(n, mean, sd=20.0):
    return ArmStats(n, n * mean, n * (sd**2 + mean**2))


def _errors(n, rate):
    return ArmStats(n, round(n * rate), round(n * rate))


def test_a_slower_candidate_is_not_safe_whatever_its_agreement():
    decision = decide_shadow(
        GUARDED, n=20_000, agree=19_800,
        control={"latency_ms": _latency(20_000, 80.0), "error_rate": _errors(20_000, 0.01)},
        candidate={"latency_ms": _latency(20_000, 95.0), "error_rate": _errors(20_000, 0.01)},
    )  # fmt: skip

    assert decision.action == "not_safe"
    assert decision.reasons[0].startswith("latency_ms: candidate 15")
    assert "beyond the allowed 5" in decision.reasons[0]
    assert [c.status for c in decision.checks] == ["cleared", "breached", "open"]
    assert [c.role for c in decision.checks] == ["primary", "guardrail", "guardrail"]


def test_guardrails_within_their_allowance_leave_the_agreement_to_decide():
    decision = decide_shadow(
        GUARDED, n=20_000, agree=19_800,
        control={"latency_ms": _latency(20_000, 80.0), "error_rate": _errors(20_000, 0.01)},
        candidate={"latency_ms": _latency(20_000, 80.5), "error_rate": _errors(20_000, 0.01)},
    )  # fmt: skip

    assert decision.action == "safe_to_switch"
    assert decision.checks[1].status == "cleared"
    assert any(reason.startswith("error_rate: candidate") for reason in decision.reasons)


def test_guardrails_share_alpha_with_the_agreement():
    # With two guardrails the agreement is tested at alpha / 3: a wider sequence.
    plain = decide_shadow(CONFIG, n=3_000, agree=2_900).checks[0]
    guarded = decide_shadow(GUARDED, n=3_000, agree=2_900).checks[0]

    assert guarded.lower < plain.lower and guarded.upper > plain.upper
    assert guarded.level == pytest.approx(1 - 0.05 / 3)


def test_an_aa_shadow_with_guardrails_is_rarely_called_not_safe_however_often_looked_at():
    rng = np.random.default_rng(11)
    config = ShadowConfig(
        min_agreement=0.9,
        guardrails=(MetricSpec("latency_ms", "mean", "lower_is_better", max_degradation=0.0),),
    )
    stopped = 0
    for _ in range(200):
        control = candidate = ArmStats(0, 0.0, 0.0)
        for _look in range(30):
            a, b = rng.normal(80, 20, 200), rng.normal(80, 20, 200)
            control = ArmStats(
                control.n + 200, control.sum + a.sum(), control.sum_sq + (a**2).sum()
            )
            candidate = ArmStats(
                candidate.n + 200, candidate.sum + b.sum(), candidate.sum_sq + (b**2).sum()
            )
            decision = decide_shadow(
                config, n=control.n, agree=round(0.95 * control.n),
                control={"latency_ms": control}, candidate={"latency_ms": candidate},
            )  # fmt: skip
            if decision.action == "not_safe":
                stopped += 1
                break

    assert stopped / 200 <= 0.05

"""Canary decisions: roll back a harmful candidate, promote a non-inferior one step by step,
hold while undecided or while the traffic split is broken."""

import numpy as np
import pytest

from evaluations.experiments.arms import ArmStats
from evaluations.experiments.canary import CanaryConfig, decide_canary
from evaluations.experiments.decision import MetricSpec

CONVERSION = MetricSpec("conversion", "proportion", "higher_is_better", 0.01)
ERRORS = MetricSpec("error_rate", "proportion", "lower_is_better", 0.005)
LATENCY = MetricSpec("latency_ms", "mean", "lower_is_better", 5.0)
CONFIG = CanaryConfig(primary=CONVERSION, guardrails=(ERRORS, LATENCY))


def rate(k, n):
    return ArmStats.from_successes(successes=k, n=n)


def latency(n, mean, sd=50.0):
    return ArmStats.from_sums(n=n, sum=n * mean, sum_sq=n * (mean**2 + sd**2))


def arms(n, *, conversion, errors, mean_latency):
    return {
        "conversion": rate(round(n * conversion), n),
        "error_rate": rate(round(n * errors), n),
        "latency_ms": latency(n, mean_latency),
    }


CONTROL = arms(50_000, conversion=0.10, errors=0.02, mean_latency=200.0)


def test_a_clearly_worse_candidate_rolls_back_and_says_why():
    candidate = arms(50_000, conversion=0.10, errors=0.03, mean_latency=200.0)

    decision = decide_canary(
        CONFIG, step=3, control=CONTROL, candidate=candidate, step_units=(50_000, 50_000)
    )

    assert decision.action == "rollback"
    assert decision.reasons == (
        "error_rate: candidate 1.00 points worse than control (difference +1.00, 98.3% CS "
        "+0.65 to +1.35), beyond the allowed 0.50 points",
    )
    assert [c.status for c in decision.checks] == ["cleared", "breached", "cleared"]


def test_a_non_inferior_candidate_moves_to_the_next_step_then_completes():
    candidate = arms(50_000, conversion=0.10, errors=0.02, mean_latency=199.0)

    early = decide_canary(
        CONFIG, step=2, control=CONTROL, candidate=candidate, step_units=(75_000, 25_000)
    )
    late = decide_canary(
        CONFIG, step=3, control=CONTROL, candidate=candidate, step_units=(50_000, 50_000)
    )

    assert early.action == "promote"
    assert early.reasons[-1] == "promote to the next step, 50% of traffic"
    assert late.action == "complete"
    assert late.reasons[0] == (
        "conversion: candidate level with control (difference +0.00, 96.7% CS -0.60 to +0.67),"
        " shown within the margin 1.00 points"
    )


def test_a_step_lasts_its_minimum_windows_before_promotion():
    candidate = arms(50_000, conversion=0.10, errors=0.02, mean_latency=199.0)
    config = CanaryConfig(primary=CONVERSION, guardrails=(ERRORS,), min_windows_per_step=4)

    waiting = decide_canary(
        config,
        step=2,
        control=CONTROL,
        candidate=candidate,
        step_units=(75_000, 25_000),
        windows_at_step=2,
    )
    ready = decide_canary(
        config,
        step=2,
        control=CONTROL,
        candidate=candidate,
        step_units=(75_000, 25_000),
        windows_at_step=4,
    )

    assert waiting.action == "continue"
    assert waiting.reasons[-1] == "ready to promote; the step lasts 2 more windows"
    assert ready.action == "promote"


def test_a_sample_ratio_mismatch_blocks_promotion_and_says_so():
    candidate = arms(50_000, conversion=0.10, errors=0.02, mean_latency=199.0)

    decision = decide_canary(
        CONFIG, step=2, control=CONTROL, candidate=candidate, step_units=(75_000, 26_500)
    )

    assert decision.action == "continue"
    assert decision.srm.mismatch
    assert decision.reasons[0].startswith(
        "traffic split mismatch: 75,000 control and 26,500 candidate units at this step "
        "against a planned 75/25"
    )
    assert "promotion is blocked" in decision.reasons[0]


def test_a_breach_still_rolls_back_during_a_sample_ratio_mismatch():
    candidate = arms(50_000, conversion=0.10, errors=0.03, mean_latency=200.0)

    decision = decide_canary(
        CONFIG, step=3, control=CONTROL, candidate=candidate, step_units=(50_000, 60_000)
    )

    assert decision.action == "rollback"
    assert "traffic split mismatch" in decision.reasons[-1]


def test_an_a_a_canary_mostly_continues_however_often_it_is_looked_at():
    rng = np.random.default_rng(3)
    config = CanaryConfig(primary=MetricSpec("conversion", "proportion", "higher_is_better"))
    wrong, looks, per_look = 0, 30, (9_500, 500)
    for _ in range(200):
        k0 = rng.binomial(per_look[0], 0.1, looks).cumsum()
        k1 = rng.binomial(per_look[1], 0.1, looks).cumsum()
        for look in range(looks):
            n0, n1 = per_look[0] * (look + 1), per_look[1] * (look + 1)
            decision = decide_canary(
                config,
                step=1,
                control={"conversion": rate(int(k0[look]), n0)},
                candidate={"conversion": rate(int(k1[look]), n1)},
                step_units=(n0, n1),
            )
            if decision.action != "continue":
                wrong += 1
                break

    assert wrong / 200 <= 0.05


def test_arms_without_data_continue_with_a_reason():
    decision = decide_canary(CONFIG, step=0, control={}, candidate={}, step_units=(0, 0))

    assert decision.action == "continue"
    assert decision.reasons[0].startswith("conversion: too little data yet")
    assert all(c.estimate is None for c in decision.checks)


def test_huge_traffic_is_judged_without_nan():
    control = arms(10**12, conversion=0.1, errors=0.02, mean_latency=200.0)
    candidate = arms(10**12, conversion=0.1, errors=0.0201, mean_latency=200.0)

    decision = decide_canary(
        CONFIG, step=3, control=control, candidate=candidate, step_units=(10**12, 10**12)
    )

    assert decision.action == "complete"
    values = [v for c in decision.checks for v in (c.estimate, c.lower, c.upper)]
    assert np.isfinite(values).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"traffic_steps": (5, 1)}, "increase"),
        ({"traffic_steps": (0, 50)}, "percents"),
        ({"alpha": 0.7}, "alpha"),
        ({"guardrails": (CONVERSION,)}, "names"),
        ({"planned_split": (1, 0)}, "planned_split"),
        ({"min_windows_per_step": 0}, "min_windows_per_step"),
    ],
)
def test_bad_configs_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        CanaryConfig(**{"primary": CONVERSION, **change})


def test_steps_outside_the_plan_and_all_traffic_are_refused():
    with pytest.raises(ValueError, match="step"):
        decide_canary(CONFIG, step=5, control=CONTROL, candidate=CONTROL, step_units=(1, 1))
    with pytest.raises(ValueError, match="no control"):
        decide_canary(CONFIG, step=4, control=CONTROL, candidate=CONTROL, step_units=(1, 1))
    with pytest.raises(ValueError, match="whole numbers"):
        decide_canary(CONFIG, step=1, control=CONTROL, candidate=CONTROL, step_units=(-1, 1))

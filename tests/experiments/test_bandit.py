"""Bandits: Thompson sampling splits the traffic reproducibly, keeps a floor per arm, and names
a winner once one arm is very probably the best."""

import numpy as np
import pytest

from evaluations.experiments.arms import ArmStats
from evaluations.experiments.bandit import (
    MAX_DRAWS,
    BanditConfig,
    decide_bandit,
    thompson_allocation,
)
from evaluations.experiments.decision import MetricSpec

CONVERSION = BanditConfig(metric=MetricSpec("conversion", "proportion", "higher_is_better"))
LATENCY = BanditConfig(metric=MetricSpec("latency_ms", "mean", "lower_is_better"), floor=0.1)


def rate(k, n):
    return ArmStats.from_successes(successes=k, n=n)


def latency(n, mean, sd=50.0):
    return ArmStats.from_sums(n=n, sum=n * mean, sum_sq=n * (mean**2 + sd**2))


CLOSE = {"a": rate(100, 1_000), "b": rate(110, 1_000), "c": rate(95, 1_000)}


def test_the_split_is_reproducible_by_seed():
    first = thompson_allocation(CLOSE, CONVERSION, seed=42)
    again = thompson_allocation(CLOSE, CONVERSION, seed=42)
    other = thompson_allocation(CLOSE, CONVERSION, seed=43)

    assert first == again
    assert first != other


def test_every_arm_keeps_its_floor_and_the_weights_add_up():
    arms = {"a": rate(100, 10_000), "b": rate(300, 10_000), "c": rate(90, 10_000)}

    weights, best = thompson_allocation(arms, CONVERSION, seed=1)

    assert min(weights.values()) >= 0.05
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["b"] == pytest.approx(0.9)
    assert best["b"] == 1.0


def test_a_clear_winner_is_named_and_a_close_race_continues():
    clear = decide_bandit(CONVERSION, {"a": rate(100, 5_000), "b": rate(200, 5_000)}, seed=7)
    close = decide_bandit(CONVERSION, CLOSE, seed=7)

    assert clear.action == "winner"
    assert clear.reasons[0].startswith("b (mean 0.04 over 5,000 units) is best with posterior")
    assert close.action == "continue"
    assert close.reasons[1].startswith("next split: a ")


def test_lower_is_better_means_pick_the_fastest_arm():
    arms = {"old": latency(2_000, 210.0), "new": latency(2_000, 195.0)}

    decision = decide_bandit(LATENCY, arms, seed=3)

    assert decision.action == "winner"
    assert decision.best_probability["new"] > 0.99
    assert decision.allocation["old"] == pytest.approx(0.1, abs=0.01)


def test_arms_without_data_share_the_traffic_equally():
    proportions = thompson_allocation({"a": rate(0, 0), "b": rate(0, 0)}, CONVERSION, seed=1)[0]
    means = decide_bandit(LATENCY, {"a": latency(500, 200.0), "b": ArmStats(0, 0.0, 0.0)}, seed=1)

    assert proportions["a"] == pytest.approx(0.5, abs=0.05)
    assert means.action == "continue"
    assert means.allocation == {"a": 0.5, "b": 0.5}
    assert "too little data on b" in means.reasons[0]


def test_huge_counts_are_judged_without_nan():
    arms = {"a": rate(10**11, 10**12), "b": rate(10**11 + 10**7, 10**12)}

    decision = decide_bandit(CONVERSION, arms, seed=1)

    assert decision.action == "winner"
    assert sum(decision.allocation.values()) == pytest.approx(1.0)


def test_costs_are_bounded_and_bad_configs_refused():
    metric = CONVERSION.metric
    with pytest.raises(ValueError, match="draws"):
        BanditConfig(metric=metric, draws=MAX_DRAWS + 1)
    with pytest.raises(ValueError, match="arms"):
        thompson_allocation({f"arm{i}": rate(1, 10) for i in range(21)}, CONVERSION)
    with pytest.raises(ValueError, match="arms"):
        thompson_allocation({"a": rate(1, 10)}, CONVERSION)
    with pytest.raises(ValueError, match="floor"):
        thompson_allocation(
            {f"arm{i}": rate(1, 10) for i in range(5)}, BanditConfig(metric=metric, floor=0.3)
        )
    with pytest.raises(ValueError, match="not a proportion"):
        thompson_allocation({"a": rate(1, 10), "b": latency(10, 3.0)}, CONVERSION)


def monitored_winners(rates, runs=100, windows=40, units=2000, seed=7):
    """How often a bandit looked at after every window names each arm the winner."""
    rng = np.random.default_rng(seed)
    config = BanditConfig(metric=MetricSpec("conversion", "proportion", "higher_is_better"),
                          draws=1000)  # fmt: skip
    names = [f"arm{i}" for i in range(len(rates))]
    called = dict.fromkeys(names, 0)
    for run in range(runs):
        arms = {name: ArmStats.from_successes(successes=0, n=0) for name in names}
        weights = dict.fromkeys(names, 1 / len(names))
        for window in range(windows):
            for name, rate in zip(names, rates, strict=True):
                n = int(units * weights[name])
                k = int(rng.binomial(n, rate))
                arms[name] = arms[name] + ArmStats.from_successes(successes=k, n=n)
            decision = decide_bandit(config, arms, seed=run * windows + window)
            if decision.action == "winner":
                called[max(decision.best_probability, key=decision.best_probability.get)] += 1
                break
            weights = decision.allocation
    return called


def test_a_bandit_looked_at_every_window_calls_a_tie_a_win_at_most_alpha():
    called = monitored_winners([0.12, 0.12])

    assert sum(called.values()) / 100 <= 0.05


def test_a_bandit_names_a_clearly_better_arm():
    called = monitored_winners([0.10, 0.13], runs=20)

    assert called["arm1"] >= 18 and called["arm0"] == 0

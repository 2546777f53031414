"""Error rates and power of the online-comparison decisions, judged after every window.

    .venv/bin/python -m benchmarks.experiments [--seed 1] [--quick] [--workers 2]

Simulated traffic (fixed seed; the data are drawn with numpy in one go, the decisions are the
product's own functions called at every window):

- A/A canaries: 2,000 experiments (400 with --quick) of 100 windows of 50,000 requests; the
  candidate starts at 10% of traffic (steps 10/25/50/100). Metrics: conversion 10% (primary,
  margin 0), abandon rate 10% and latency 200 +- 50 ms (guardrails, nothing allowed): the
  strictest plan, where any rollback and any promotion is wrong. Beside it, the same decision
  rule with a fixed-sample z-test (the same Bonferroni levels) re-applied at every window.
- Guardrail power: the candidate's abandon rate is 5% worse (10% -> 10.5%); conversion and
  latency are equal, the conversion margin is 0.5 points and a step lasts at least 8 windows.
  Planned traffic: the same 100 windows of 50,000 requests, 5 million requests (a day of
  15-minute windows at about 55 requests/s). Rollback must come before the canary completes.
- Bandits: 10,000 rounds in windows of 100, the split re-drawn after each window by
  ``decide_bandit``; conversions 12% for the best arm, 11.5/11/10/9% for the others (2-5 arms).
  Regret: conversions lost against always playing the best arm; uniform allocation alongside.
- Interleaving: 2,000 experiments (500 with --quick) of 100 looks of 500 credited impressions,
  under no preference and at a 52/48 preference, with the decision's own evidence
  (``log_share_mixture`` against 1/2, vectorised over all experiments).
"""

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.special import ndtri

from evaluations.experiments.arms import ArmStats
from evaluations.experiments.bandit import BanditConfig, decide_bandit
from evaluations.experiments.canary import CanaryConfig, decide_canary
from evaluations.experiments.decision import MetricSpec
from evaluations.experiments.interleaving import (
    InterleavingConfig,
    impressions_for_power,
    share_prior,
)
from evaluations.experiments.sequential import log_share_mixture

ALPHA = 0.05
WINDOWS = 100
WINDOW_UNITS = 50_000
STEPS = (10, 25, 50, 100)
CONVERSION, ABANDON, LATENCY, LATENCY_SD = 0.10, 0.10, 200.0, 50.0


def canary_config(*, margin: float, dwell: int) -> CanaryConfig:
    return CanaryConfig(
        primary=MetricSpec("conversion", "proportion", "higher_is_better", margin),
        guardrails=(
            MetricSpec("abandon_rate", "proportion", "lower_is_better", 0.0),
            MetricSpec("latency_ms", "mean", "lower_is_better", 0.0),
        ),
        alpha=ALPHA,
        traffic_steps=STEPS,
        min_windows_per_step=dwell,
    )


def window(rng, units: int, abandon: float) -> dict[str, ArmStats]:
    """One arm's window: conversions, abandons and latency sums of ``units`` requests."""
    total = rng.normal(units * LATENCY, np.sqrt(units) * LATENCY_SD) if units else 0.0
    spread = LATENCY_SD**2 * rng.chisquare(units - 1) if units > 1 else 0.0
    return {
        "conversion": ArmStats.from_successes(
            successes=int(rng.binomial(units, CONVERSION)), n=units
        ),
        "abandon_rate": ArmStats.from_successes(
            successes=int(rng.binomial(units, abandon)), n=units
        ),
        "latency_ms": ArmStats(
            units, float(total), float(spread + (total**2 / units if units else 0))
        ),
    }


def run_canary(args: tuple[int, float, float, int]) -> tuple[str, int, int]:
    """One canary over ``WINDOWS`` windows: (final action, window of the decision, step)."""
    seed, abandon, margin, dwell = args
    rng = np.random.default_rng(seed)
    config = canary_config(margin=margin, dwell=dwell)
    control = {name: ArmStats(0, 0.0, 0.0) for name in ("conversion", "abandon_rate", "latency_ms")}
    candidate = dict(control)
    step, at_step, step_units = 0, 0, [0, 0]
    for index in range(WINDOWS):
        treated = int(rng.binomial(WINDOW_UNITS, STEPS[step] / 100))
        ours, theirs = window(rng, WINDOW_UNITS - treated, ABANDON), window(rng, treated, abandon)
        control = {k: control[k] + ours[k] for k in control}
        candidate = {k: candidate[k] + theirs[k] for k in candidate}
        at_step += 1
        step_units = [step_units[0] + WINDOW_UNITS - treated, step_units[1] + treated]
        decision = decide_canary(
            config,
            step=step,
            control=control,
            candidate=candidate,
            step_units=tuple(step_units),
            windows_at_step=at_step,
        )
        if decision.action in ("rollback", "complete"):
            return decision.action, index + 1, step
        if decision.action == "promote":
            if abandon == ABANDON and margin == 0:
                return "promote", index + 1, step  # an A/A promotion at margin 0 is wrong
            step, at_step, step_units = step + 1, 0, [0, 0]
    return "continue", WINDOWS, step


def naive_canary(seed: int, count: int) -> tuple[float, float]:
    """The same A/A plan judged by fixed-sample z-tests at every window, vectorised: the share
    of experiments that roll back or promote at some window."""
    rng = np.random.default_rng([seed, 7])
    treated = rng.binomial(WINDOW_UNITS, STEPS[0] / 100, (count, WINDOWS))
    units = np.stack([WINDOW_UNITS - treated, treated])  # arm, experiment, window
    n = units.cumsum(axis=2).astype(float)
    metrics = 3
    harmful = ndtri(1 - ALPHA / (2 * metrics))
    good = ndtri(1 - ALPHA / 2)
    rolled = np.zeros((count, WINDOWS), dtype=bool)
    promoted = np.zeros((count, WINDOWS), dtype=bool)
    for name, rate in (("conversion", CONVERSION), ("abandon_rate", ABANDON), ("latency", 0)):
        if rate:
            sums = rng.binomial(units, rate).cumsum(axis=2)
            means = sums / n
            variances = means * (1 - means)
        else:
            means = rng.normal(units * LATENCY, np.sqrt(units) * LATENCY_SD).cumsum(axis=2) / n
            variances = np.full_like(means, LATENCY_SD**2)
        diff = means[1] - means[0]
        se = np.sqrt(variances[0] / n[0] + variances[1] / n[1])
        harm = -diff if name == "conversion" else diff
        rolled |= harm / se > harmful
        if name == "conversion":
            promoted |= harm / se < -good
    wrong_roll = rolled.any(axis=1)
    first_roll = np.where(wrong_roll, rolled.argmax(axis=1), WINDOWS)
    first_promote = np.where(promoted.any(axis=1), promoted.argmax(axis=1), WINDOWS)
    return float(np.mean(first_roll < np.minimum(first_promote, WINDOWS))), float(
        np.mean(first_promote < first_roll)
    )


def canaries(seed: int, count: int, workers: int) -> None:
    jobs_null = [(seed * 1_000_003 + i, ABANDON, 0.0, 1) for i in range(count)]
    jobs_worse = [(seed * 2_000_003 + i, ABANDON * 1.05, 0.005, 8) for i in range(count)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        null = list(pool.map(run_canary, jobs_null, chunksize=16))
        worse = list(pool.map(run_canary, jobs_worse, chunksize=16))
    rollback = np.mean([a == "rollback" for a, _, _ in null])
    promote = np.mean([a == "promote" for a, _, _ in null])
    naive_roll, naive_promote = naive_canary(seed, count)
    print(f"A/A canaries: {count:,} experiments x {WINDOWS} windows of {WINDOW_UNITS:,} requests,")
    print("judged after every window (margin 0, nothing allowed on the guardrails)")
    print(f"{'':34} {'always-valid':>12} {'naive z-test':>12}   target")
    print(f"{'  rolled back (wrongly)':34} {rollback:12.3f} {naive_roll:12.3f}")
    print(f"{'  promoted (wrongly)':34} {promote:12.3f} {naive_promote:12.3f}")
    verdict = "PASS" if rollback + promote <= ALPHA else "MISS"
    print(
        f"{'  any wrong decision':34} {rollback + promote:12.3f} "
        f"{naive_roll + naive_promote:12.3f}   <= {ALPHA}  {verdict}"
    )
    caught = [(a, w, s) for a, w, s in worse if a == "rollback"]
    power = len(caught) / count
    windows = statistics.median(w for _, w, _ in caught) if caught else None
    steps = np.bincount([s for _, _, s in caught], minlength=len(STEPS))
    completed = np.mean([a == "complete" for a, _, _ in worse])
    print(
        f"\nguardrail 5% worse (abandon rate 10% -> 10.5%), planned traffic {WINDOWS} windows x "
        f"{WINDOW_UNITS:,} = {WINDOWS * WINDOW_UNITS / 1e6:g} M requests, 8 windows per step:"
    )
    print(
        f"  rolled back before the traffic was spent: {power:.3f}   target >= 0.9  "
        f"{'PASS' if power >= 0.9 else 'MISS'}"
    )
    print(f"  completed instead (missed): {completed:.3f}")
    if windows is not None:
        print(f"  median windows to rollback: {windows:g}")
    print("  rollbacks by step: " + ", ".join(f"{STEPS[i]}%: {c}" for i, c in enumerate(steps)))


def run_bandit(args: tuple[int, int]) -> tuple[float, float, int | None, bool]:
    """(regret of Thompson, regret of uniform, first window a winner was named, right?)."""
    seed, arms = args
    rng = np.random.default_rng(seed)
    rates = np.array([0.12, 0.115, 0.11, 0.10, 0.09][:arms])
    names = [f"arm{i}" for i in range(arms)]
    stats = {name: ArmStats(0, 0.0, 0.0) for name in names}
    config = BanditConfig(metric=MetricSpec("conversion", "proportion", "higher_is_better"))
    regret, named, right = 0.0, None, False
    for index in range(100):
        decision = decide_bandit(config, stats, seed=int(rng.integers(2**31)))
        if decision.action == "winner" and named is None:
            named = index
            right = max(decision.best_probability, key=decision.best_probability.get) == "arm0"
        weights = np.array([decision.allocation[name] for name in names])
        units = rng.multinomial(100, weights / weights.sum())
        wins = rng.binomial(units, rates)
        for name, n, k in zip(names, units, wins, strict=True):
            stats[name] = stats[name] + ArmStats.from_successes(successes=int(k), n=int(n))
        regret += float(np.sum(units * (rates[0] - rates)))
    uniform = 10_000 * float(rates[0] - rates.mean())
    return regret, uniform, named, right


def bandits(seed: int, runs: int, workers: int) -> None:
    print(f"\nbandits: 10,000 rounds, split re-drawn every 100, floor 5%, {runs} runs each")
    print(f"{'arms':>4} {'Thompson regret':>16} {'uniform regret':>15} {'always best':>11}"
          f" {'winner named':>13} {'right':>6}")  # fmt: skip
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for arms in (2, 3, 4, 5):
            results = list(pool.map(run_bandit, [(seed * 7919 + r, arms) for r in range(runs)]))
            regret = statistics.median(r for r, _, _, _ in results)
            uniform = results[0][1]
            named = [n for _, _, n, _ in results if n is not None]
            right = sum(ok for _, _, n, ok in results if n is not None)
            print(
                f"{arms:>4} {regret:16.1f} {uniform:15.1f} {0:11.1f} "
                f"{len(named) / runs:13.2f} {right / max(1, len(named)):6.2f}"
            )
    print("regret: conversions lost against always playing the best arm (median of runs);")
    print("winner named: share of runs with a winner within 10,000 rounds; right: it was the best")


def interleaving(seed: int, count: int) -> None:
    rng = np.random.default_rng([seed, 11])
    config = InterleavingConfig(alpha=ALPHA)
    prior = share_prior(config.planned_share)
    planned = impressions_for_power(config.planned_share, config.power, ALPHA, prior)
    looks, per_look = 100, 500
    credited = per_look * np.arange(1, looks + 1)
    print(
        f"\ninterleaving: {count:,} experiments x {looks} looks of {per_look} credited "
        f"impressions; planned {planned:,} for 80% power at 52/48"
    )
    for label, share in (("no preference", 0.5), ("52/48 preference", 0.52)):
        wins = rng.binomial(per_look, share, (count, looks)).cumsum(axis=1)
        decided = log_share_mixture(wins, credited, 0.5, prior) >= np.log(1 / ALPHA)
        first = np.where(decided.any(axis=1), decided.argmax(axis=1), looks)
        by_plan = np.mean(credited[np.minimum(first, looks - 1)][first < looks] <= planned)
        ever = np.mean(first < looks)
        if share == 0.5:
            verdict = "PASS" if ever <= ALPHA else "MISS"
            print(f"  {label}: a preference declared (type I): {ever:.3f}   <= {ALPHA}  {verdict}")
        else:
            hits = credited[first[first < looks]]
            print(
                f"  {label}: candidate_better by the planned impressions: "
                f"{by_plan * ever:.3f}; by {credited[-1]:,}: {ever:.3f}; "
                f"median impressions to decide {statistics.median(hits):,.0f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer experiments, a quick look")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    began = time.perf_counter()
    print(f"online comparisons benchmark, seed {args.seed}, {args.workers} processes\n")
    canaries(args.seed, 400 if args.quick else 2_000, args.workers)
    bandits(args.seed, 10 if args.quick else 50, args.workers)
    interleaving(args.seed, 500 if args.quick else 2_000)
    print(f"\ntotal time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

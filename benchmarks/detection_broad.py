"""Detection quality of the trend and step analysis on a broad mix of labelled synthetic
metric histories (the analysis alone; ``benchmarks/detection.py`` holds it to its targets
side by side with other detectors).

    .venv/bin/python -m benchmarks.detection_broad [--seed 1] [--quick] [--workers 2] [--no-sweep]

The product analyses a series again each time a point arrives, so the detector runs in
streaming fashion: on every prefix of every series from ``MIN_POINTS`` points on (no
subsampling). An alarm is a prefix whose analysis has a drift or step finding; an alarm
*episode* is a maximal run of consecutive alarmed prefixes, and counts once.

Scenarios (noise sigma = 1 in the units below, fixed seed; half the series are "higher is
better" around 0.85 with sigma 0.004, half "lower is better" around 40 with sigma 1):

- no change: normal noise; Student-t noise with 3 degrees of freedom (scaled so that its robust
  sigma, 1.4826 MAD, is 1: its standard deviation is 1.53); heteroscedastic normal noise whose
  standard deviation swings between 0.5 and 2 (2^sin, period 30-120 points); a single outlier
  of 4-10 sigma in the worse direction that recovers at once; improvements (a step up of 2-5
  sigma or a drift up of 2-6 sigma). Lengths are log-uniform over 10-500 points.
- changes: step drops of 1-5 sigma; linear drifts totalling 2-6 sigma over 10-40 points,
  after which the level stays; normal noise, and a 3-sigma step and a 4-sigma drift in t3
  noise too (shown, not held to the targets). The change starts after 12-300 points
  (log-uniform); the series ends with its tolerance window (below), 23-351 points in all.

Scoring, per series with a change starting at point c (the first changed point):

- true positive: an episode starts within the tolerance window, c..c+10 for a step and
  c..c+length+10 for a drift; its delay is (index of the prefix's last point) - c, so 0 means
  the alarm came on the very first changed point.
- false alarm: every episode that starts before c, and every episode on no-change series.
- miss: no episode starts within the window (a false alarm running on into it is no detection).

Precision = TP / (TP + false alarm episodes); recall = TP / series with a change; F1 their
harmonic mean; false alarms per 1,000 points = episodes / prefixes analysed (points seen
before a change, or all of them without one) x 1,000. The exit status is 0 whether or not
the targets are met (the figures are for people to read).
"""

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from evaluations.analysis.detect import MIN_POINTS, analyse, control_fdr

from .detection_cases import Case, Scenario, Score, make_case

TARGET_FALSE_ALARMS = 2.0
TARGET_RECALL = 0.9
TARGET_DELAY = 8


def scenarios(quick: bool) -> list[Scenario]:
    nulls, changes = (40, 25) if quick else (150, 100)
    return [
        Scenario("no change, normal", "none", count=nulls),
        Scenario("no change, t3 heavy tails", "none", noise="t3", count=nulls),
        Scenario("no change, heteroscedastic", "none", noise="hetero", count=nulls),
        Scenario("single outlier, recovers", "none", extra="outlier", count=nulls),
        Scenario("improvements", "none", extra="improvement", count=nulls),
        *[Scenario(f"step {s} sigma", "step", size=s, count=changes) for s in (1, 2, 3, 4, 5)],
        *[Scenario(f"drift {s} sigma", "drift", size=s, count=changes) for s in (2, 3, 4, 5, 6)],
        Scenario("step 3 sigma, t3 noise", "step", size=3, noise="t3", count=changes // 2),
        Scenario("drift 4 sigma, t3 noise", "drift", size=4, noise="t3", count=changes // 2),
    ]


def alarms(case: Case) -> np.ndarray:
    """Whether the analysis of each prefix (ending at point i) has a drift or step finding."""
    flags = np.zeros(case.values.size, dtype=bool)
    for end in range(MIN_POINTS, case.values.size + 1):
        result = analyse(case.values[:end], direction=case.direction)
        flags[end - 1] = any(f.kind in ("drift", "step") for f in result.degradations)
    return flags


def ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom else None


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def figures(score: Score, changed: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall and F1 of a tally with ``changed`` series that had a change."""
    precision = ratio(score.detected, score.detected + score.false_alarms) if changed else None
    recall = ratio(score.detected, changed)
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return precision, recall, f1


def report(rows: list[tuple[Scenario, Score]]) -> None:
    print(
        f"{'scenario':30} {'series':>6} {'points':>7} {'TP':>4} {'FA':>4} {'FN':>4} "
        f"{'prec':>5} {'recall':>6} {'F1':>5} {'FA/1k':>6} {'delay':>5}"
    )
    total, changed_total = Score(), 0
    for scenario, score in rows:
        changed = score.series if scenario.family != "none" else 0
        print_row(scenario.name, score, changed)
        changed_total += changed
        total.series += score.series
        total.prefixes += score.prefixes
        total.false_alarms += score.false_alarms
        total.detected += score.detected
        total.delays += score.delays
    print_row("overall", total, changed_total)
    print(
        "points: prefixes analysed before any change (all of a no-change series); FA: false"
        " alarm episodes among them;\ndelay: median of (alarm's last point - first changed"
        " point) over the true positives"
    )


def print_row(name: str, score: Score, changed: int) -> None:
    precision, recall, f1 = figures(score, changed)
    delay = statistics.median(score.delays) if score.delays else None
    print(
        f"{name:30} {score.series:6d} {score.prefixes:7d} {score.detected:4d} "
        f"{score.false_alarms:4d} {changed - score.detected:4d} {fmt(precision):>5} "
        f"{fmt(recall):>6} {fmt(f1):>5} {fmt(score.false_alarm_rate):>6} {fmt(delay, 1):>5}"
    )


def pooled(rows, family: str, minimum: float) -> tuple[float, float | None, list, list]:
    """Recall and median delay over the normal-noise change scenarios of a family at or
    above a size (the heavy-tailed ones are shown in the table, not held to the targets)."""
    chosen = [
        s for sc, s in rows if sc.family == family and sc.size >= minimum and sc.noise == "normal"
    ]
    delays = [d for s in chosen for d in s.delays]
    ramps = [r for s in chosen for r in s.ramps]
    recall = sum(s.detected for s in chosen) / sum(s.series for s in chosen)
    return recall, (statistics.median(delays) if delays else None), delays, ramps


def summary(rows: list[tuple[Scenario, Score]]) -> None:
    print(f"\n{'figure':58} {'measured':>8}   {'target':7}  verdict")
    lines = []
    for scenario, score in rows:
        if scenario.family == "none":
            lines.append(
                (
                    f"false alarms/1,000 points: {scenario.name}",
                    score.false_alarm_rate,
                    f"<= {TARGET_FALSE_ALARMS:g}",
                    score.false_alarm_rate <= TARGET_FALSE_ALARMS,
                )
            )
    nulls = [s for sc, s in rows if sc.family == "none"]
    rate = 1000.0 * sum(s.false_alarms for s in nulls) / sum(s.prefixes for s in nulls)
    lines.append(
        (
            "false alarms/1,000 points: all no-change",
            rate,
            f"<= {TARGET_FALSE_ALARMS:g}",
            rate <= TARGET_FALSE_ALARMS,
        )
    )
    for family, minimum in (("step", 3), ("drift", 4)):
        recall, delay, _, _ = pooled(rows, family, minimum)
        label = f"{family}s >= {minimum} sigma"
        lines.append((f"recall, {label}", recall, f">= {TARGET_RECALL:g}", recall >= TARGET_RECALL))
        lines.append(
            (
                f"median delay (points), {label}",
                delay,
                f"<= {TARGET_DELAY}",
                delay is not None and delay <= TARGET_DELAY,
            )
        )
    # The target names both families at once ("for those"): their delays pooled, too.
    both = pooled(rows, "step", 3)[2] + pooled(rows, "drift", 4)[2]
    both_delay = statistics.median(both) if both else None
    lines.append(
        (
            "median delay (points), steps >= 3 and drifts >= 4 sigma pooled",
            both_delay,
            f"<= {TARGET_DELAY}",
            both_delay is not None and both_delay <= TARGET_DELAY,
        )
    )
    for name, value, target, ok in lines:
        print(f"{name:58} {fmt(value):>8}   {target:7}  {'PASS' if ok else 'MISS'}")
    print(
        f"(an ideal detector told each drift's start and slope, at 1 false alarm per 1,000 "
        f"points, would need a median {clairvoyant_delay():.0f} points for drifts >= 4 sigma)"
    )
    _, _, delays, ramps = pooled(rows, "drift", 4)
    print("\nmedian delay of drifts >= 4 sigma by ramp length (points; share of the ramp):")
    for low, high in ((10, 19), (20, 29), (30, 40)):
        picked = [(d, r) for d, r in zip(delays, ramps, strict=True) if low <= r <= high]
        if picked:
            middle = statistics.median(d for d, _ in picked)
            share = statistics.median(d / r for d, r in picked)
            print(f"  ramp {low}-{high} points: {middle:.1f} ({share:.0%} of the ramp)")


def clairvoyant_delay(sizes=(4, 5, 6), ramps=range(10, 41), points_per_alarm=1000) -> float:
    """The median delay of an ideal detector that knows each drift's start and slope in
    advance (a CUSUM of the exact log-likelihood ratio), by Wald's approximation: it alarms
    once the expected log-likelihood ratio, sum of shift^2 / 2 over the changed points, reaches
    log(points between false alarms). A reference for what no detector can beat."""
    threshold, delays = np.log(points_per_alarm), []
    for size in sizes:
        for ramp in ramps:
            ratio, seen = 0.0, 0
            while ratio < threshold:
                seen += 1
                ratio += min(size * seen / ramp, size) ** 2 / 2
            delays.append(seen - 1)
    return float(statistics.median(delays))


def sweep(seed: int, count: int, size: int) -> None:
    """A sweep like the product's: ``count`` no-change series of ``size`` points, one analysis
    each, timed; then false-discovery-rate control over them all."""
    rng = np.random.default_rng([seed, 99])
    data = 0.85 + 0.004 * rng.standard_normal((count, size))
    times, results = [], []
    began = time.perf_counter()
    for values in data:
        tick = time.perf_counter()
        results.append(analyse(values, direction="higher_is_better", metric="accuracy"))
        times.append(time.perf_counter() - tick)
    total = time.perf_counter() - began
    found = sum(1 for r in results if r.degradations)
    kept = control_fdr(results, alpha=0.05)
    print(
        f"\nsweep: {count:,} no-change series of {size} points in {total:.1f} s, one process; "
        f"per series median {1000 * statistics.median(times):.2f} ms, "
        f"p95 {1000 * float(np.percentile(times, 95)):.2f} ms"
    )
    print(
        f"  series with a finding at alpha 0.02: {found}; after Benjamini-Hochberg at 5%: "
        f"{len(kept)}"
    )


def run(seed: int, quick: bool, workers: int) -> list[tuple[Scenario, Score]]:
    rng = np.random.default_rng(seed)
    chosen = scenarios(quick)
    cases = [(s, make_case(s, rng)) for s in chosen for _ in range(s.count)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        flags = list(pool.map(alarms, [c for _, c in cases], chunksize=8))
    scores = {s.name: Score() for s in chosen}
    for (scenario, case), case_flags in zip(cases, flags, strict=True):
        scores[scenario.name].add(case, case_flags)
    return [(s, scores[s.name]) for s in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer series, for a quick look")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-sweep", action="store_true", help="skip the timed sweep")
    args = parser.parse_args()
    began = time.perf_counter()
    print(
        f"detection benchmark, seed {args.seed}, {args.workers} processes, streaming analysis "
        f"of every prefix from {MIN_POINTS} points\n"
    )
    rows = run(args.seed, args.quick, args.workers)
    report(rows)
    summary(rows)
    if not args.no_sweep:
        sweep(args.seed, 2_000 if args.quick else 10_000, 200)
    print(f"\ntotal time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

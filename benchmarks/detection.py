"""Detection quality of the trend and step analysis against its targets, side by side with
Apache Otava, PELT with a BIC penalty and a one-sided CUSUM on the same labelled series.

    .venv/bin/python -m benchmarks.detection [--seeds 2 3 4] [--count 30] [--no-peers]
    .venv/bin/python -m benchmarks.detection --write-figures [--seeds 2 3 4] [--count 150]

Every detector judges every prefix of every series from 8 points on, as the service analyses a
series each time a point arrives; scoring is ``benchmarks/detection_cases.py``'s (an alarm
episode counts once; false alarms per 1,000 points judged before any change). The scenarios
(noise of unit scale; half the series "higher is better" around 0.85, half "lower is better"
around 40; lengths log-uniform over 10-500 points, changes starting after 12-300 points):

- no change: normal (``white``), Student t3 (``t3``), a single 4-10 sigma outlier that
  recovers (``outliers``), AR(1) noise with phi = 0.5 (``ar1``), heteroscedastic (``hetero``);
- ``step_1sigma`` and ``step_2sigma``: a drop of 1 or 2 sigma, found within 20 points;
- ``drift_2sigma_50``: a fall of 2 sigma spread linearly over 50 versions, found by 10
  points after its end (and the share found within 33 versions of its start).

Beside them, a ``bound`` (``benchmarks/detection_bound.py``): detectors told what no real one
knows (the noise's scale, and that it is white; CUSUMs tuned to steps and likelihood ratios
tuned to drifts), each holding an alarm as the analysis holds an open finding and calibrated on
the run's own white-noise series to 1 false alarm per 1,000 points; for each change, the best
of them: what the recall targets allow at the false-alarm target. ``calibrated`` is the
analysis with its alpha calibrated the same way, in-sample (the service's is chosen in
advance on the tuning seed, with a margin): the like-for-like comparison with the bound.
``--told-autocorrelation`` adds the analysis told the noise's lag-1 autocorrelation (0.5 on
the AR(1) series, 0 on the others) instead of estimating it: what estimating it costs.
``--trade-off`` prints, from the same run's p-values, what the analysis finds at a range of
``alpha`` around the setting's, held as ``calibrated`` holds it: the false alarms each recall
costs, and how a drift's recall grows with the versions it is given.

The peers (``benchmarks/detection_peers.py``) need Otava and ruptures, which live in
``.bench-venv`` (``make bench-venv``) so that their pins never meet the service's: this script
runs that module there as a subprocess, fed the same series (oriented, worse down) as JSON.
The analysis itself runs here, in the service's venv. The parameters were tuned on seed 1;
report held-out seeds (2-4). ``--write-figures`` measures each sensitivity preset (the
analysis alone) and writes ``evaluations/analysis/sensitivity_figures.json``.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
import timeit
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from hashlib import sha256
from pathlib import Path
from unittest import mock

import numpy as np

from evaluations.analysis.detect import HOLD, MIN_POINTS, analyse
from evaluations.analysis.sensitivity import (
    FIGURES_PATH,
    SENSITIVITIES,
    Sensitivity,
    sensitivity,
)

from .detection_bound import BUDGET, ORACLES, held, oracle_flags
from .detection_cases import AR1_PHI, Case, Scenario, Score, make_cases

ROOT = Path(__file__).resolve().parent.parent
BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
NULLS = ("white", "t3", "outliers", "ar1", "hetero")
CHANGES = ("step_1sigma", "step_2sigma", "drift_2sigma_50")
DRIFT_BY = 33  # versions after its start by which a drift should be found
TRADE_OFF_DRIFT_BY = (33, 35, 37, 40)  # the versions --trade-off gives a drift
DETECTORS = ("ours", "otava", "pelt_bic", "cusum")
TARGETS = {
    "white": 1.0,
    "t3": 1.0,
    "outliers": 1.0,
    "ar1": 2.0,
    "step_1sigma": 0.8,
    "step_2sigma": 0.95,
    "drift_2sigma_50": 0.9,
}


def scenarios(count: int) -> list[Scenario]:
    return [
        Scenario("white", "none", count=count),
        Scenario("t3", "none", noise="t3", count=count),
        Scenario("outliers", "none", extra="outlier", count=count),
        Scenario("ar1", "none", noise="ar1", count=count),
        Scenario("hetero", "none", noise="hetero", count=count),
        Scenario("step_1sigma", "step", size=1, tolerance=20, count=count),
        Scenario("step_2sigma", "step", size=2, tolerance=20, count=count),
        Scenario("drift_2sigma_50", "drift", size=2, ramp=50, count=count),
    ]


def our_flags(case: Case, setting: Sensitivity) -> tuple[np.ndarray, np.ndarray]:
    """Whether the analysis of each prefix (ending at point i) has a drift or step finding,
    each prefix judged as the service judges it: holding the finding the prefix before had;
    and each prefix's p-value (1 before ``MIN_POINTS``), for ``calibrated_scores``."""
    flags = np.zeros(case.values.size, dtype=bool)
    p_values = np.ones(case.values.size)
    for end in range(MIN_POINTS, case.values.size + 1):
        result = analyse(
            case.values[:end],
            direction=case.direction,
            sensitivity=setting,
            holding=bool(flags[end - 2]),
        )
        flags[end - 1] = any(f.kind in ("drift", "step") for f in result.degradations)
        p_values[end - 1] = result.p_value
    return flags, p_values


def told_flags(told: tuple[Case, float], setting: Sensitivity) -> np.ndarray:
    """``our_flags`` with the analysis told the noise's autocorrelation rather than
    estimating it (a diagnostic: no real series says what its noise is)."""
    case, phi = told
    with mock.patch("evaluations.analysis.detect.autocorrelation", return_value=phi):
        return our_flags(case, setting)[0]


def oriented(case: Case) -> list[float]:
    sign = 1.0 if case.direction == "higher_is_better" else -1.0
    return [float(sign * v) for v in case.values]


def peer_alarms(cases: list[Case], workers: int) -> list[dict[str, list[int]]]:
    """Each peer's alarms on each series, from ``detection_peers`` run in ``.bench-venv``;
    kept in the temporary directory under a digest of the series (the peers are
    deterministic, and Otava takes about 25 ms a prefix), so a second run on the same series
    reads them back."""
    series = json.dumps([oriented(c) for c in cases])
    cache = Path(tempfile.gettempdir(), f"detection-peers-{sha256(series.encode()).hexdigest()}")
    if cache.exists():
        return json.loads(cache.read_text())
    if not BENCH_PYTHON.exists():
        raise SystemExit(f"{BENCH_PYTHON} is missing: `make bench-venv` installs the peers.")
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch, "series.json"), Path(scratch, "alarms.json")
        source.write_text(series)
        command = [BENCH_PYTHON, "-m", "benchmarks.detection_peers", source, target, workers]
        subprocess.run([str(part) for part in command], cwd=ROOT, check=True)
        found = json.loads(target.read_text())
    cache.write_text(json.dumps(found))
    return found


def peer_flags(cases: list[Case], workers: int) -> list[dict[str, np.ndarray]]:
    found = peer_alarms(cases, workers)
    result = []
    for case, alarms in zip(cases, found, strict=True):
        flags = {}
        for name, indices in alarms.items():
            flags[name] = np.zeros(case.values.size, dtype=bool)
            flags[name][np.asarray(indices, dtype=int)] = True
        result.append(flags)
    return result


def measure(
    seeds: list[int],
    count: int,
    setting: Sensitivity,
    workers: int,
    peers: bool,
    *,
    bound: bool = True,
    told: bool = False,
    trade_off: bool = False,
) -> dict[str, dict[str, Score]]:
    """Per detector and scenario, the tallies over all ``seeds``: the analysis, the peers
    (``peers``), the analysis told the autocorrelation (``told``) and the bound (``bound``)."""
    names = (*(DETECTORS if peers else ("ours",)), *(("told phi",) if told else ()))
    scores = {name: {s.name: Score() for s in scenarios(count)} for name in names}
    every, p_values = [], []
    for seed in seeds:
        cases = make_cases(scenarios(count), seed)
        every += cases
        plain = [c for _, c in cases]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            ours = list(pool.map(partial(our_flags, setting=setting), plain, chunksize=4))
            if told:
                phis = [AR1_PHI if s.noise == "ar1" else 0.0 for s, _ in cases]
                knowing = partial(told_flags, setting=setting)
                told_all = pool.map(knowing, zip(plain, phis, strict=True), chunksize=4)
                for (scenario, case), flags in zip(cases, told_all, strict=True):
                    scores["told phi"][scenario.name].add(case, flags)
        others = peer_flags(plain, workers) if peers else [{} for _ in plain]
        for (scenario, case), (mine, p), theirs in zip(cases, ours, others, strict=True):
            scores["ours"][scenario.name].add(case, mine)
            p_values.append(p)
            for name, flags in theirs.items():
                scores[name][scenario.name].add(case, flags)
    if trade_off:
        trade_off_table(every, p_values, setting)
    if bound:
        scores["calibrated"] = calibrated_scores(every, p_values, setting)
        scores["bound"] = bound_scores(every)
    return scores


def calibrated_scores(
    every: list[tuple[Scenario, Case]], p_values: list[np.ndarray], setting: Sensitivity
) -> dict[str, Score]:
    """The analysis with its alpha chosen as the bound's thresholds are: in-sample, the largest
    alpha on a grid whose false alarms on the run's white-noise series are within ``BUDGET`` per
    1,000 points, each prefix found when its p-value (from the run above) is under alpha, or
    under ``HOLD`` times alpha while the prefix before was found (the bound's ``held``). What
    the analysis would find if, like the bound, it were told its threshold after seeing the
    series; the service's alpha is chosen in advance, on the tuning seed, with a margin."""

    tallies = partial(held_tallies, every, _evidence(p_values))
    grid = np.geomspace(setting.alpha / 8, min(0.5, setting.alpha * 8), 61)
    chosen = grid[0]
    for alpha in grid[::-1]:
        if tallies(float(alpha), only="white")["white"].false_alarm_rate <= BUDGET:
            chosen = alpha
            break
    print(f"calibrated: alpha {chosen:.4f} (the setting's: {setting.alpha:g})")
    return tallies(float(chosen))


def _evidence(p_values: list[np.ndarray]) -> list[np.ndarray]:
    """Each prefix's p-value as evidence, -log p: a finding is an alarm over -log alpha, held
    while the evidence stays within log ``HOLD`` of it."""
    return [-np.log(np.maximum(p, np.finfo(float).tiny)) for p in p_values]


def held_tallies(
    every: list[tuple[Scenario, Case]],
    evidence: list[np.ndarray],
    alpha: float,
    only: str | None = None,
) -> dict[str, Score]:
    """Per scenario, the tally of findings at ``alpha`` from each prefix's evidence (the
    service's rule: over -log alpha, held while over -log (``HOLD`` alpha))."""
    tally: dict[str, Score] = {}
    for (scenario, case), values in zip(every, evidence, strict=True):
        if not only or scenario.name == only:
            flags = held(values, -np.log(alpha), np.log(HOLD))
            tally.setdefault(scenario.name, Score()).add(case, flags)
    return tally


def trade_off_table(
    every: list[tuple[Scenario, Case]], p_values: list[np.ndarray], setting: Sensitivity
) -> None:
    """What the analysis finds at ``alpha`` from a quarter to four times the setting's, from
    the run's p-values: false alarms per 1,000 points and recall, the drift's within 33 to 40
    versions of its start."""
    evidence = _evidence(p_values)
    drifts = " ".join(f"{f'drift {n}':>8}" for n in TRADE_OFF_DRIFT_BY)
    print(f"{'alpha':>7} {'white':>6} {'t3':>6} {'outlier':>7} {'ar1':>6} {'1 sigma':>7} {drifts}")
    for alpha in setting.alpha * np.geomspace(0.25, 4.0, 9):
        tally = held_tallies(every, evidence, float(alpha))
        alarms = " ".join(
            f"{tally[k].false_alarm_rate:>{w}.2f}"
            for k, w in (("white", 6), ("t3", 6), ("outliers", 7), ("ar1", 6))
        )
        drift = tally["drift_2sigma_50"]
        within = " ".join(f"{drift.recall_within(n):>8.3f}" for n in TRADE_OFF_DRIFT_BY)
        print(f"{alpha:>7.4f} {alarms} {tally['step_1sigma'].recall:>7.3f} {within}")
    print(
        "trade-off: false alarms per 1,000 points and recall at each alpha, each prefix found "
        "as the service finds it (held while its p-value is within HOLD times alpha); drift N: "
        "the 2 sigma drift found within N versions of its start\n"
    )


def bound_scores(every: list[tuple[Scenario, Case]]) -> dict[str, Score]:
    """The bound's tallies: per change, the oracle that finds most of it; per no-change
    scenario, the largest false-alarm rate of the oracles. Each oracle is calibrated on all
    seeds' white-noise series at once (``detection_bound``); a table of them is printed."""
    cases = [c for _, c in every]
    found = oracle_flags(cases, [s.name == "white" for s, _ in every], HOLD)
    per_oracle = {}
    for oracle, (flags, threshold) in found.items():
        tally: dict[str, Score] = {}
        for (scenario, case), alarms in zip(every, flags, strict=True):
            tally.setdefault(scenario.name, Score()).add(case, alarms)
        per_oracle[oracle] = tally
        row = " ".join(f"{k} {cell(tally, k)}" for k in ("white", "ar1", *CHANGES))
        print(f"bound, {oracle.name:>10} (threshold {threshold:5.2f}): {row}")
    best = {}
    for key in per_oracle[ORACLES[0]]:
        if key in NULLS:
            best[key] = max((t[key] for t in per_oracle.values()), key=lambda s: s.false_alarm_rate)
        else:
            best[key] = max((t[key] for t in per_oracle.values()), key=lambda s: within(s, key))
    return best


def within(score: Score, key: str) -> float:
    """What a change row's target counts: a drift found within ``DRIFT_BY`` versions of its
    start, a step within its window."""
    return score.recall_within(DRIFT_BY) if key == "drift_2sigma_50" else score.recall


def figures(scores: dict[str, Score]) -> dict:
    """One detector's figures as ``sensitivity_figures.json`` keeps them."""
    drift = scores["drift_2sigma_50"]
    return {
        "false_alarms_per_1000": {k: round(scores[k].false_alarm_rate, 2) for k in NULLS},
        "recall": {k: round(scores[k].recall, 3) for k in CHANGES},
        "median_delay": {k: scores[k].median_delay for k in CHANGES},
        "drift_2sigma_50_found_within_33": round(drift.recall_within(DRIFT_BY), 3),
    }


def cell(scores: dict[str, Score], key: str) -> str:
    score = scores[key]
    if key in NULLS:
        return f"{score.false_alarm_rate:.2f}"
    delay = "-" if score.median_delay is None else f"{score.median_delay:.0f}"
    text = f"{score.recall:.2f} / {delay}"
    if key == "drift_2sigma_50":
        text += f" ({score.recall_within(DRIFT_BY):.2f})"
    return text


def table(scores: dict[str, dict[str, Score]]) -> None:
    names = list(scores)
    print(f"{'scenario':18} {'target':>7} " + " ".join(f"{n:>18}" for n in names))
    for key in (*NULLS, *CHANGES):
        target = TARGETS.get(key)
        mark = "-" if target is None else (f"<= {target:g}" if key in NULLS else f">= {target:g}")
        row = " ".join(f"{cell(scores[n], key):>18}" for n in names)
        print(f"{key:18} {mark:>7} {row}")
    series = {key: scores["ours"][key].series for key in scores["ours"]}
    print(
        "no-change rows: false alarms per 1,000 points; change rows: recall / median delay "
        f"(points), the drift's in brackets: found within {DRIFT_BY} versions of its start; "
        f"series per scenario: {series['white']}; bound: per change, the best of detectors "
        "told the noise's scale and that it is white, each holding its alarms as the analysis "
        "holds a finding and calibrated to 1 false alarm per 1,000 on these white series (per "
        "no-change row, their largest false-alarm rate); calibrated: the analysis with its "
        "alpha calibrated the same way"
    )


def timing() -> str:
    """The median time of one analysis of a 200-point and of a 5,000-point history."""
    rng = np.random.default_rng(0)
    lines = []
    for size in (200, 5000):
        values = 0.85 + 0.004 * rng.standard_normal(size)
        runs = timeit.repeat(
            lambda v=values: analyse(v, direction="higher_is_better"), number=20, repeat=15
        )
        lines.append(f"{size} points: {1000 * float(np.median(runs)) / 20:.2f} ms")
    return "one analyse() call, median: " + ", ".join(lines)


def write_figures(seeds: list[int], count: int, workers: int) -> None:
    stored = {}
    for name in SENSITIVITIES:
        setting = sensitivity(name)
        scores = measure(seeds, count, setting, workers, peers=False, bound=False)["ours"]
        stored[name] = {
            **figures(scores),
            "seeds": seeds,
            "series_per_scenario": count * len(seeds),
        }
        print(name, json.dumps(stored[name]), flush=True)
    FIGURES_PATH.write_text(json.dumps(stored, indent=2) + "\n")
    print(f"wrote {FIGURES_PATH.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--count", type=int, help="series per scenario and seed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-peers", action="store_true", help="the analysis alone")
    parser.add_argument("--sensitivity", choices=SENSITIVITIES, default="balanced")
    parser.add_argument("--write-figures", action="store_true")
    parser.add_argument("--peers-only", action="store_true", help="run (and keep) the peers")
    parser.add_argument(
        "--trade-off",
        action="store_true",
        help="also recall and false alarms at a range of alpha (from the same p-values)",
    )
    parser.add_argument(
        "--told-autocorrelation",
        action="store_true",
        help="also the analysis told the noise's autocorrelation (a diagnostic)",
    )
    args = parser.parse_args()
    began = time.perf_counter()
    if args.peers_only:
        for seed in args.seeds:
            cases = make_cases(scenarios(args.count or 30), seed)
            peer_alarms([c for _, c in cases], args.workers)
            print(f"seed {seed}: peers done, {time.perf_counter() - began:.0f} s", flush=True)
    elif args.write_figures:
        write_figures(args.seeds, args.count or 150, args.workers)
    else:
        print(f"seeds {args.seeds}, sensitivity {args.sensitivity}, every prefix analysed\n")
        setting = sensitivity(args.sensitivity)
        count = args.count or (30 if not args.no_peers else 150)
        peers, told = not args.no_peers, args.told_autocorrelation
        scores = measure(
            args.seeds, count, setting, args.workers, peers, told=told, trade_off=args.trade_off
        )
        table(scores)
    print(timing())
    print(f"total time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The labelled synthetic metric histories of the detection benchmark and how a detector's
alarms on them are scored; shared by ``benchmarks/detection.py`` (the analysis, in the
service's venv) and ``benchmarks/detection_peers.py`` (the peers, in ``.bench-venv``), so it
imports nothing but numpy.

Scoring, per series with a change starting at point c (the first changed point): a true
positive is an alarm episode (a maximal run of consecutive alarmed prefixes) that starts within
the tolerance window c..c+ramp+tolerance; its delay is (index of the prefix's last point) - c.
Every episode that starts before c, and every episode on a no-change series, is a false alarm;
a false alarm running on into the window is no detection.
"""

from dataclasses import dataclass, field

import numpy as np

T3_ROBUST_SIGMA = 1.1344  # 1.4826 * MAD of a Student t with 3 degrees of freedom
MIN_POINTS = 8  # the analysis judges no shorter prefix; nor, to be fair, do the peers
STEP_TOLERANCE = 10
DRIFT_TOLERANCE = 10  # after the end of the ramp
AR1_PHI = 0.5


@dataclass(frozen=True)
class Scenario:
    name: str
    family: str  # "none", "step" or "drift"
    size: float = 0.0  # sigmas
    noise: str = "normal"  # "normal", "t3", "hetero" or "ar1"
    extra: str = ""  # "outlier" or "improvement" for no-change series
    count: int = 100
    ramp: int | None = None  # a drift's length; None: 10-40 points
    tolerance: int | None = None  # points after the change (and ramp) an alarm may come


@dataclass(frozen=True)
class Case:
    scenario: str
    values: np.ndarray
    direction: str
    start: int | None  # first changed point
    window_end: int | None  # last point of the tolerance window
    ramp: int  # drift length, 0 for a step


def log_uniform(rng: np.random.Generator, low: int, high: int) -> int:
    return int(np.exp(rng.uniform(np.log(low), np.log(high))))


def noise(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """Noise of unit scale: normal; Student t3 scaled to a robust sigma of 1; heteroscedastic
    normal (2^sin); AR(1) with ``AR1_PHI`` and a stationary standard deviation of 1."""
    if kind == "t3":
        return rng.standard_t(3, size) / T3_ROBUST_SIGMA
    if kind == "hetero":
        period, phase = rng.uniform(30, 120), rng.uniform(0, 2 * np.pi)
        return rng.standard_normal(size) * 2.0 ** np.sin(
            2 * np.pi * np.arange(size) / period + phase
        )
    if kind == "ar1":
        shocks = rng.standard_normal(size) * np.sqrt(1.0 - AR1_PHI**2)
        values = np.empty(size)
        values[0] = rng.standard_normal()
        for index in range(1, size):
            values[index] = AR1_PHI * values[index - 1] + shocks[index]
        return values
    return rng.standard_normal(size)


def shift(size: int, start: int, ramp: int, amount: float) -> np.ndarray:
    """A change of ``amount`` from ``start`` on: at once (ramp 0) or linearly over ``ramp``."""
    steps = np.arange(size) - start + 1
    return amount * (steps > 0 if ramp == 0 else np.clip(steps / ramp, 0.0, 1.0))


def make_case(scenario: Scenario, rng: np.random.Generator) -> Case:
    """One labelled series; ``worse`` is down in the oriented series, then given a direction."""
    start = window_end = None
    ramp = 0
    if scenario.family == "none":
        size = log_uniform(rng, 10, 501)
        y = noise(rng, scenario.noise, size)
        if scenario.extra == "outlier":
            y[rng.integers(0, size)] -= rng.uniform(4, 10)
        if scenario.extra == "improvement":
            ramp = 0 if rng.random() < 0.5 else int(rng.integers(10, 41))
            y += shift(size, int(rng.integers(0, size)), ramp, rng.uniform(2, 6 if ramp else 5))
    else:
        start = log_uniform(rng, 12, 301)
        if scenario.family == "drift":
            ramp = scenario.ramp or int(rng.integers(10, 41))
        default = DRIFT_TOLERANCE if ramp else STEP_TOLERANCE
        window_end = start + ramp + (scenario.tolerance or default)
        y = noise(rng, scenario.noise, window_end + 1) - shift(
            window_end + 1, start, ramp, scenario.size
        )
    if rng.random() < 0.5:
        return Case(scenario.name, 0.85 + 0.004 * y, "higher_is_better", start, window_end, ramp)
    return Case(scenario.name, 40.0 - y, "lower_is_better", start, window_end, ramp)


def make_cases(scenarios: list[Scenario], seed: int) -> list[tuple[Scenario, Case]]:
    rng = np.random.default_rng(seed)
    return [(s, make_case(s, rng)) for s in scenarios for _ in range(s.count)]


@dataclass
class Score:
    """The tally of one scenario: series, prefixes analysed before any change, false alarm
    episodes, detections, and each detection's delay (with its drift's ramp length)."""

    series: int = 0
    prefixes: int = 0
    false_alarms: int = 0
    detected: int = 0
    delays: list[int] = field(default_factory=list)
    ramps: list[int] = field(default_factory=list)

    def add(self, case: Case, flags: np.ndarray) -> None:
        self.series += 1
        starts = np.flatnonzero(flags & ~np.concatenate([[False], flags[:-1]]))
        before = flags.size if case.start is None else case.start
        self.prefixes += max(0, before - (MIN_POINTS - 1))
        self.false_alarms += int(np.sum(starts < before))
        if case.start is None:
            return
        hits = starts[(starts >= case.start) & (starts <= case.window_end)]
        if hits.size:
            self.detected += 1
            self.delays.append(int(hits[0] - case.start))
            self.ramps.append(case.ramp)

    def merge(self, other: "Score") -> None:
        self.series += other.series
        self.prefixes += other.prefixes
        self.false_alarms += other.false_alarms
        self.detected += other.detected
        self.delays += other.delays
        self.ramps += other.ramps

    @property
    def false_alarm_rate(self) -> float:
        return 1000.0 * self.false_alarms / max(1, self.prefixes)

    @property
    def recall(self) -> float:
        return self.detected / max(1, self.series)

    def recall_within(self, points: int) -> float:
        """The share of series alarmed within ``points`` of the change's start."""
        return sum(1 for d in self.delays if d <= points) / max(1, self.series)

    @property
    def median_delay(self) -> float | None:
        return float(np.median(self.delays)) if self.delays else None

"""What the detection benchmark's recall targets allow at its false-alarm target: detectors
told what no real one knows, run on the same labelled series, calibrated to the same false
alarms.

Every oracle is told the noise's scale (every series is built with unit noise, so its values
are standardised exactly) and that the noise is white, and judges a start j against the mean
of every point before it (a self-starting statistic, Hawkins 1987: the reference's own error
counts in its scale). Two families, each a likelihood ratio against a fall of a given shape:

- ``cusum k``: the one-sided CUSUM (Page 1954) tuned to a step of 2k sigmas: the largest,
  over starts j, of the summed drop of the points since j below the reference, less k per
  point (the analysis' CUSUM, ``evaluations/analysis/sequential.py``, is this statistic with
  the scale estimated, a reference of 60 points and a window of 100);
- ``ramp b``: the log likelihood ratio of a fall that starts at j and deepens by b sigmas per
  point (a drift of slope b), the largest over j: told the drift's slope, it is the test a
  known-shape change calls for (Neyman-Pearson at each start).

Each oracle holds an alarm as the analysis holds an open finding (``detect.HOLD``): once over
its threshold, it stays alarmed while its likelihood ratio is within a factor ``hold`` of the
threshold's (a CUSUM's statistic within log(hold) / 2k of it, a ramp's log likelihood ratio
within log(hold)), so that its alarm episodes are counted as the analysis' are. Its threshold
is the smallest on a grid whose false alarms on the white-noise series of the same run are at
most ``BUDGET`` per 1,000 points (calibrated in-sample: a real detector would have to pick it
in advance). For each change the bound is the best oracle's recall: more
than any detector that has to estimate the noise, or allow for correlated noise, can be
expected to find at that false-alarm rate.

Pure numpy, like ``detection_cases``.
"""

from dataclasses import dataclass

import numpy as np

from .detection_cases import MIN_POINTS, Case, Score

MIN_BEFORE = 5
BUDGET = 1.0  # false alarms per 1,000 points on white noise
THRESHOLDS = np.round(np.arange(2.0, 12.01, 0.05), 2)


@dataclass(frozen=True)
class Oracle:
    family: str  # "cusum" or "ramp"
    parameter: float  # k for a CUSUM, the slope b for a ramp

    @property
    def name(self) -> str:
        return f"{self.family} {self.parameter:g}"

    def slack(self, hold: float) -> float:
        """How far under its threshold a held alarm's statistic may fall: a likelihood ratio
        ``hold`` times smaller (a CUSUM's statistic is its log likelihood ratio over 2k)."""
        log_ratio = float(np.log(max(1.0, hold)))
        return log_ratio / (2.0 * self.parameter) if self.family == "cusum" else log_ratio


ORACLES = (
    Oracle("cusum", 0.3),
    Oracle("cusum", 0.4),
    Oracle("cusum", 0.5),
    Oracle("ramp", 0.03),
    Oracle("ramp", 0.04),
    Oracle("ramp", 0.06),
)


def unit_values(case: Case) -> np.ndarray:
    """The series oriented (worse down) in units of its noise: how ``make_case`` built it."""
    if case.direction == "higher_is_better":
        return (case.values - 0.85) / 0.004
    return 40.0 - case.values


def statistics(case: Case) -> np.ndarray:
    """Each oracle's value after each point (rows in ``ORACLES``' order; -inf before
    ``MIN_POINTS``)."""
    y = unit_values(case)
    totals = np.concatenate([[0.0], np.cumsum(y)])
    weighted = np.concatenate([[0.0], np.cumsum(np.arange(y.size) * y)])
    result = np.full((len(ORACLES), y.size), -np.inf)
    for end in range(MIN_POINTS, y.size + 1):
        starts = np.arange(MIN_BEFORE, end)
        level = totals[starts] / starts  # every point before the start
        count = (end - starts).astype(float)
        since = totals[end] - totals[starts]
        drop = level * count - since
        # sum over t = 1..m of t * (level - y[j + t - 1]), and the sums of t and t^2
        ranks = count * (count + 1) / 2
        squares = count * (count + 1) * (2 * count + 1) / 6
        ramp_drop = level * ranks - ((weighted[end] - weighted[starts]) - (starts - 1) * since)
        for row, oracle in enumerate(ORACLES):
            if oracle.family == "cusum":
                # the reference's error adds count^2 / starts to the variance of the sum
                scale = np.sqrt(count / (count + count**2 / starts))
                value = drop * scale - oracle.parameter * count
            else:
                slope = oracle.parameter
                mean = slope**2 * squares  # of the weighted drop under the ramp
                variance = mean + (slope * ranks) ** 2 / starts
                value = (slope * ramp_drop * mean - mean**2 / 2) / variance
            result[row, end - 1] = value.max()
    return result


def held(values: np.ndarray, threshold: float, slack: float) -> np.ndarray:
    """Alarms over ``threshold``, each held while the statistic stays over threshold - slack."""
    over, holds = values > threshold, values > threshold - slack
    # number the runs of held points; a point is alarmed when its run has gone over already
    run = np.cumsum(holds & ~np.concatenate([[False], holds[:-1]])) * holds
    reached = np.maximum.accumulate(np.where(over, run, 0))
    return holds & (reached == run)


def calibrate(white: list[tuple[Case, np.ndarray]], slack: float) -> float:
    """The smallest threshold whose false alarms on the white-noise series (one oracle's
    values) are within ``BUDGET`` per 1,000 points."""
    for threshold in THRESHOLDS:
        score = Score()
        for case, values in white:
            score.add(case, held(values, threshold, slack))
        if score.false_alarm_rate <= BUDGET:
            return float(threshold)
    return float(THRESHOLDS[-1])


def oracle_flags(
    cases: list[Case], white: list[bool], hold: float
) -> dict[Oracle, tuple[list[np.ndarray], float]]:
    """Per oracle, its alarms on every case (held by ``hold``), its threshold calibrated on the
    cases marked ``white`` (no change, white noise); and that threshold."""
    values = [statistics(case) for case in cases]
    found = {}
    for row, oracle in enumerate(ORACLES):
        slack = oracle.slack(hold)
        calibration = [(c, v[row]) for c, v, w in zip(cases, values, white, strict=True) if w]
        threshold = calibrate(calibration, slack)
        found[oracle] = ([held(v[row], threshold, slack) for v in values], threshold)
    return found

"""What the detection benchmark's recall targets allow at its false-alarm target: a detector
told what no real one knows, run on the same labelled series, calibrated to the same false
alarms.

The bound is a self-starting one-sided CUSUM (Page 1954; Hawkins 1987) told the noise's scale
(every series is built with unit noise, so its values are standardised exactly) and that the
noise is white. For each prefix, the statistic is the largest, over starts j, of the summed drop
of the points since j below the mean of the ``REFERENCE`` points before j, less ``ALLOWANCE``
per point, scaled so that the reference's own error counts; the analysis' CUSUM
(``evaluations/analysis/sequential.py``) is the same statistic with the scale estimated. Its
threshold is the smallest on ``THRESHOLDS`` whose false alarms on the white-noise series of
the same run are at most ``BUDGET`` per 1,000 points (calibrated in-sample: a real detector
would have to pick it in advance). What it finds at that threshold is more than any detector
that has to estimate the noise, or allow for correlated noise, can be expected to find.

Pure numpy, like ``detection_cases``.
"""

import numpy as np

from .detection_cases import MIN_POINTS, Case, Score

ALLOWANCE = 0.5  # k: tuned to a 1 sigma shift
REFERENCE = 60  # points before a start that give its reference level (the analysis' own)
MIN_BEFORE = 5
BUDGET = 1.0  # false alarms per 1,000 points on white noise
THRESHOLDS = np.round(np.arange(3.0, 10.01, 0.05), 2)


def unit_values(case: Case) -> np.ndarray:
    """The series oriented (worse down) in units of its noise: how ``make_case`` built it."""
    if case.direction == "higher_is_better":
        return (case.values - 0.85) / 0.004
    return 40.0 - case.values


def statistics(case: Case) -> np.ndarray:
    """The CUSUM's value after each point (-inf before ``MIN_POINTS``)."""
    y = unit_values(case)
    totals = np.concatenate([[0.0], np.cumsum(y)])
    result = np.full(y.size, -np.inf)
    for end in range(MIN_POINTS, y.size + 1):
        starts = np.arange(MIN_BEFORE, end)
        first = np.maximum(0, starts - REFERENCE)
        before = starts - first
        level = (totals[starts] - totals[first]) / before
        count = end - starts
        drop = level * count - (totals[end] - totals[starts])
        # The reference's error adds count^2 / before to the variance of the count terms' sum.
        scaled = drop * np.sqrt(count / (count + count**2 / before)) - ALLOWANCE * count
        result[end - 1] = scaled.max()
    return result


def calibrate(white: list[tuple[Case, np.ndarray]]) -> float:
    """The smallest threshold whose false alarms on the white-noise series are within
    ``BUDGET`` per 1,000 points."""
    for threshold in THRESHOLDS:
        score = Score()
        for case, values in white:
            score.add(case, values > threshold)
        if score.false_alarm_rate <= BUDGET:
            return float(threshold)
    return float(THRESHOLDS[-1])


def bound_flags(cases: list[Case], white: list[bool]) -> tuple[list[np.ndarray], float]:
    """The bound's alarms on every case, with its threshold calibrated on the cases marked
    ``white`` (no change, white noise); and that threshold."""
    values = [statistics(case) for case in cases]
    threshold = calibrate([(c, v) for c, v, w in zip(cases, values, white, strict=True) if w])
    return [v > threshold for v in values], threshold

"""Degradation in one metric's history: slow drift, step regressions and the cumulative drop
from a baseline, judged against the metric's own noise.

How a series is judged (each step cites its method in its module):

1. ``series.prepare``: orient so that worse is down; keep the last ``WINDOW`` points; estimate
   each point's noise as the largest of the series' robust scatter (winsorised first
   differences), its local scatter (the 21 nearest differences, for stretches that scatter
   more) and the sampling error given by ``n`` (binomial, for rates) or ``ci_low``/``ci_high``;
   clip isolated outliers (Hampel filter).
   When the window holds a sure improvement (``_since_improvement``: the step scan on the
   series turned upside down, p at most ``IMPROVEMENT_P``, its noise raised for the
   autocorrelation of the residuals around its two levels), only the points since it are
   judged: a regression that gives back part of an improvement is a fall from the improved
   level, which a reference blending the levels before and after the improvement would hide.
2. Has the level fallen? Two scans, each one-sided and Bonferroni-adjusted over the points it
   tried, with Student-t tails for the estimated noise:
   - a step: the mean of the points since a split against the ``reference`` points before it
     (``changepoint.last_step``), at least ``STEP_MIN_AFTER`` points at the new level;
   - a drift: a flat level that starts falling linearly (``trend.onset_scan``), confirmed by a
     ties-corrected Mann-Kendall test over the fall and as many points before it.
   Each must also find the latest ``recent`` points still below the level before the change
   (``changepoint.recent_drop``), so a regression that was fixed stops counting. The tests
   behind one shape must all agree (the largest of their p-values counts).
   Two sequential tests complement the scans for small shifts and slow falls found early,
   each of the latest points against the level before its excursion (``sequential.py``):
   a one-sided CUSUM (Page 1954), its p-value Wald's bound exp(-2 k S), and the likelihood
   ratio of a level falling by 0.06 noise units per version since some start against none,
   its p-value exp(-log ratio). Their noise is the series' scatter (the root mean square of
   the clipped points' first differences), raised like the others' for autocorrelation. The
   fall's p-value is a weighted Bonferroni over the four (Holm 1979): the CUSUM's p-value
   over ``cusum_weight``, the ramp's over ``ramp_weight``, each scan's over half the rest,
   the smallest counting; a fall only a sequential test finds is a step that starts where
   its excursion began. The shape reported is the one whose
   tests hold, or the better fit when both do (``shape.is_drift``); a drift's slope is the
   Theil-Sen slope since its onset.
   Correlated noise: the residuals around the fit the tests found (two levels split where
   the test with the most evidence puts the change, or the drift's broken line, whichever
   fits better; found or not, so that the p-value does not depend on alpha) give the noise's
   lag-1 autocorrelation (``noise.autocorrelation``, allowing for what the fit absorbed:
   ``FIT_BIAS``); when it is significantly positive, the tests run again with
   each point's noise raised to the long-run scatter of AR(1) noise (``noise.long_run_factor``;
   the Mann-Kendall variance by the matching effective-sample-size factor), so that the
   wander of correlated evaluations is not taken for a change.
3. With a ``baseline``: is the current level below it (``baseline.baseline_drop``), and when
   does it cross ``floor`` or ``baseline - budget`` at the fitted slope?

A finding is reported when its p-value is at most ``alpha``; a fall the series already has
an open finding of (``holding``) goes on being reported while its p-value is at most ``HOLD``
times ``alpha`` (hysteresis, as a thermostat has: a finding does not close and open again,
with a new alert each time, while its p-value wanders around ``alpha``). ``alpha``, ``reference``,
``recent`` and the autocorrelation's pretest come from the project's ``sensitivity``
(``sensitivity.py``: strict, balanced, sensitive), chosen with ``benchmarks/detection.py`` for
the false alarms per 1,000 points and the recall each setting has when a series is re-analysed
at every new point (the p-values themselves are conservative, Bonferroni over the scans).
Series shorter than ``MIN_POINTS`` are not judged: a step needs 5 points of history and 3 at
the new level. Improvements never raise a finding: every test is one-sided. Only the last
``WINDOW`` points are looked at, which keeps a call around 1 ms whatever the history's length
and lets old, known changes age out.
"""

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy.special import stdtr

from . import explain
from .baseline import (
    Level,
    baseline_drop,
    breach_limit,
    line_end_level,
    mean_level,
    versions_to_breach,
)
from .changepoint import Step, last_step, recent_drop
from .fdr import Discovery, control_fdr
from .noise import autocorrelation, long_run_factor
from .results import Degradation, SeriesAnalysis, Trend
from .sensitivity import DEFAULT_SENSITIVITY, Sensitivity
from .sensitivity import sensitivity as preset
from .sequential import sequential_drops
from .series import PreparedSeries, prepare
from .shape import is_drift
from .trend import Onset, mann_kendall, onset_scan, theil_sen

__all__ = ["Degradation", "Discovery", "SeriesAnalysis", "Trend", "analyse", "control_fdr"]

MIN_POINTS = 8
# Beyond this magnitude squares and differences of values overflow a float: such a series is
# refused (a ValueError the job records as a failing analysis) rather than judged on inf/NaN.
MAX_MAGNITUDE = 1e150
WINDOW = 150
STEP_MIN_BEFORE = 5
STEP_MIN_AFTER = 3
DRIFT_MIN_AFTER = 6
SEQUENTIAL_MIN_AFTER = 1
# The fit whose residuals give the autocorrelation is the best of the step and drift scans,
# and absorbs part of a correlated noise's wander: on AR(1) noise with phi = 0.5 the
# estimate averaged 0.40 at 30 points, 0.44 at 60 and 0.47 at 100 (400 simulated histories
# each), about phi * (1 - 6.5 / n). Twice that is allowed for, which errs on the side of
# correlated noise in short windows (chosen on the detection benchmark's tuning seed: fewer
# false alarms on correlated noise leave the CUSUM more of alpha).
FIT_BIAS = 14.0
# A rise this sure (the step scan's p-value on the series turned upside down, its noise raised
# for the autocorrelation around the two levels; ``_since_improvement``) is a change of level
# the series has made: the tests judge only the points since it, so that a regression giving
# back part of an improvement is judged against the improved level, not against a blend of
# the levels before and after it. At least MIN_POINTS must follow it.
IMPROVEMENT_P = 1e-6
# How much weaker the evidence for a fall may grow before its open finding is let go: on the
# detection benchmark's tuning seed, 4 times alpha merged a quarter of the false alarms'
# episodes into the one before (168 to 125 at the same alpha), which left room for a larger
# alpha; 2, 3 and 8 found no more at the same false alarms.
HOLD = 4.0


def _check_magnitudes(values, *limits):
    numbers = [abs(v) for v in [*values, *limits] if v is not None]
    if numbers and max(numbers) > MAX_MAGNITUDE:
        raise ValueError(
            f"values as large as {max(numbers):.3g} cannot be analysed (at most "
            f"{MAX_MAGNITUDE:.0e} in magnitude: beyond it, differences and squares overflow)"
        )


def analyse(
    values: Sequence[float],
    *,
    direction: str,
    versions: Sequence[str] | None = None,
    n: Sequence[float | None] | None = None,
    ci_low: Sequence[float | None] | None = None,
    ci_high: Sequence[float | None] | None = None,
    baseline: float | None = None,
    floor: float | None = None,
    budget: float | None = None,
    metric: str = "metric",
    alpha: float | None = None,
    sensitivity: Sensitivity | None = None,
    holding: bool = False,
) -> SeriesAnalysis:
    """Analyse one series (oldest first) for degradation; see the module docstring.

    ``floor``: the worst acceptable value (a ceiling for lower-is-better metrics); ``budget``:
    the largest acceptable worsening from ``baseline``, a positive amount in the metric's units.
    ``sensitivity``: the detector's parameters (``sensitivity.py``; None: ``balanced``);
    ``alpha``, when given, overrides its largest p-value of a finding. ``holding``: the series
    has an open finding of a fall, which is reported while its p-value is at most ``HOLD``
    times alpha.
    """
    setting = sensitivity or preset(DEFAULT_SENSITIVITY)
    if alpha is not None:
        setting = replace(setting, alpha=alpha)
    if budget is not None and (baseline is None or budget < 0):
        raise ValueError("budget needs a baseline and must not be negative")
    _check_magnitudes(values, baseline, floor)
    if len(values) < MIN_POINTS:
        return _not_analysed(len(values), f"too short: {len(values)} points, {MIN_POINTS} needed")
    series = prepare(
        values,
        direction=direction,
        window=WINDOW,
        versions=versions,
        n=n,
        ci_low=ci_low,
        ci_high=ci_high,
    )
    series = _since_improvement(series, setting)
    judged = replace(setting, alpha=min(1.0, HOLD * setting.alpha)) if holding else setting
    fall = _Fall.find(series, judged)
    phi = autocorrelation(
        fall.residuals(series),
        setting.autocorrelation_z,
        setting.assumed_autocorrelation,
        fit_bias=FIT_BIAS,
    )
    if phi > 0:  # judged again with the noise that averages of correlated points have
        series = series.allowing_for(phi)
        fall = _Fall.find(series, judged)
    oriented = [None if v is None else series.sign * v for v in (baseline, floor)]
    budget_limit = breach_limit(oriented[0], oriented[1], budget)
    degradations = [d for d in [fall.degradation(series, metric, budget_limit)] if d is not None]
    tests, p_values = 1, [fall.p_value]
    if baseline is not None:
        drop, p_drop = _baseline_drop(
            series, fall, oriented[0], budget_limit, metric, setting.alpha
        )
        tests, p_values = 2, [*p_values, p_drop]
        degradations += [drop] if drop is not None else []
    return SeriesAnalysis(
        analysed=True,
        reason="",
        points=len(values),
        window_start=series.offset,
        degradations=tuple(degradations),
        p_value=min(1.0, tests * min(p_values)),
        tests=tests,
        trend=fall.trend(series),
        noise=series.noise,
    )


def _since_improvement(series: PreparedSeries, setting: Sensitivity) -> PreparedSeries:
    """The window from its latest sure improvement on (``IMPROVEMENT_P``), or all of it: the
    step scan (``last_step``) on the series turned upside down, its z judged with the noise
    raised for the autocorrelation of the residuals around the two levels it found (as the
    fall's tests are), so that the wander of correlated noise does not cut the window."""
    rise = last_step(
        -series.clean,
        series.sigma,
        dof=series.noise.dof,
        min_after=MIN_POINTS,
        min_before=STEP_MIN_BEFORE,
        reference=setting.reference,
        recent=setting.recent,
        raw=-series.y,
    )
    if rise.candidates == 0:
        return series
    phi = autocorrelation(
        _around_two_levels(series.clean, rise.index),
        setting.autocorrelation_z,
        setting.assumed_autocorrelation,
        fit_bias=FIT_BIAS,
    )
    # the scan's own p-value: whether the rise has lasted to the newest point does not matter
    # (a rise given back since is a fall from the improved level, which the tests then find)
    p_rise = float(stdtr(series.noise.dof, -rise.z / long_run_factor(phi))) * rise.candidates
    return series.since(rise.index) if p_rise <= IMPROVEMENT_P else series


def _around_two_levels(clean: np.ndarray, split: int) -> np.ndarray:
    """The points less the mean of their side of ``split`` (0 < split < size)."""
    return np.concatenate(
        [clean[:split] - clean[:split].mean(), clean[split:] - clean[split:].mean()]
    )


def _not_analysed(points: int, reason: str) -> SeriesAnalysis:
    return SeriesAnalysis(False, reason, points, 0, (), 1.0, 0, None, None)


class _Fall:
    """The tests of step 2 on one prepared series, and the degradation they support."""

    def __init__(
        self,
        step: Step,
        onset: Onset,
        p_drift: float,
        setting: Sensitivity,
        drift: bool,
        sequential: tuple[Step, Step],
    ):
        self.step, self.onset, self.recent = step, onset, setting.recent
        cusum, ramp = sequential
        p_scan = min(step.p_value, p_drift) / _scan_weight(setting)
        p_cusum = cusum.p_value / setting.cusum_weight
        p_ramp = ramp.p_value / setting.ramp_weight
        self.p_value = min(1.0, p_scan, p_cusum, p_ramp)
        self.kind = None if self.p_value > setting.alpha else ("drift" if drift else "step")
        if min(p_cusum, p_ramp) < p_scan:
            # a sequential test has the most evidence: its excursion's start is the split
            # (found or not, so that the fit the noise is judged around does not depend on
            # alpha)
            self.step = cusum if p_cusum <= p_ramp else ramp

    @classmethod
    def find(cls, series: PreparedSeries, setting: Sensitivity) -> "_Fall":
        clean, sigma, dof = series.clean, series.sigma, series.noise.dof
        step = last_step(
            clean,
            sigma,
            dof=dof,
            min_after=STEP_MIN_AFTER,
            min_before=STEP_MIN_BEFORE,
            reference=setting.reference,
            recent=setting.recent,
            raw=series.y,
        )
        onset = onset_scan(clean, sigma, dof=dof, min_after=DRIFT_MIN_AFTER, min_before=1)
        p_drift = _drift_p_value(series, onset, setting)
        cusum, ramp = sequential_drops(
            clean,
            _sequential_sigma(series),
            min_before=STEP_MIN_BEFORE,
            min_after=SEQUENTIAL_MIN_AFTER,
            reference=setting.reference,
        )
        # the shape: whichever test holds, and the better fit when both do
        alpha = setting.alpha
        scan_alpha = alpha * _scan_weight(setting)
        cusum_holds = cusum.p_value <= alpha * setting.cusum_weight
        ramp_holds = ramp.p_value <= alpha * setting.ramp_weight
        split = step.index if step.p_value <= scan_alpha else cusum.index
        if not cusum_holds and ramp_holds:
            split = ramp.index
        step_holds = step.p_value <= scan_alpha or cusum_holds or ramp_holds
        drift_holds = p_drift <= scan_alpha
        drift = drift_holds and (
            not step_holds
            or is_drift(clean, sigma, split=split, onset=onset.start, reference=setting.reference)
        )
        return cls(step, onset, p_drift, setting, drift, (cusum, ramp))

    def residuals(self, series: PreparedSeries) -> np.ndarray:
        """The clipped points less the better (least-squares) of the two fits the tests found:
        two levels split at the step (the scan's, or a sequential test's start where it has
        the more evidence), or a level that starts falling at the onset."""
        clean, index = series.clean, np.arange(series.size, dtype=float)
        split = min(max(1, self.step.index), series.size - 1)
        hinge = np.maximum(0.0, index - self.onset.start)
        design = np.column_stack([np.ones(series.size), hinge])
        line = design @ np.linalg.lstsq(design, clean, rcond=None)[0]
        fits = [_around_two_levels(clean, split), clean - line]
        return min(fits, key=lambda residuals: float(np.dot(residuals, residuals)))

    def level(self, series: PreparedSeries) -> Level:
        """The current level (oriented) and the slope it is falling at, if any."""
        if self.kind == "drift":
            start = self.onset.start
            slope, intercept = _drift_slope(series, self.onset)
            return line_end_level(series.y[start:], series.sigma[start:], slope, intercept)
        since = self.step.index if self.kind == "step" else series.size - self.recent
        return mean_level(series.clean[since:], series.sigma[since:])

    def degradation(
        self, series: PreparedSeries, metric: str, limit: float | None
    ) -> Degradation | None:
        if self.kind is None:
            return None
        level = self.level(series)
        breach = versions_to_breach(level.value, level.slope, limit, latest=float(series.y[-1]))
        if self.kind == "drift":
            return _drift(series, self, level, metric, limit, breach)
        return _step_change(series, self, level, metric, limit, breach)

    def trend(self, series: PreparedSeries) -> Trend:
        """The Theil-Sen line over the drift, or over the whole window."""
        start = self.onset.start if self.kind == "drift" else 0
        slope, intercept = theil_sen(series.y[start:])
        first = series.offset + start
        return Trend(
            start_index=first,
            end_index=series.offset + series.size - 1,
            slope=series.original(slope),
            intercept=series.original(intercept - slope * first),
        )


def _scan_weight(setting: Sensitivity) -> float:
    """The share of alpha each scan (step, drift) spends: half of what the sequential tests
    leave."""
    return (1.0 - setting.cusum_weight - setting.ramp_weight) / 2.0


def _sequential_sigma(series: PreparedSeries) -> np.ndarray:
    """Each point's noise for the sequential tests: the root mean square of the clipped
    series' first differences over sqrt(2), raised for autocorrelation, or the point's
    sampling error where larger. Not the scans' per-point noise: the largest of the series'
    and the local scatter overstates white noise by 10-20%, which costs a CUSUM most of its
    edge on 1 sigma shifts; the root mean square keeps heavy tails in, and the winsorised
    terms bound them."""
    noise = series.noise
    scatter = float(np.sqrt(np.mean(np.diff(series.clean) ** 2) / 2.0))
    floor = 1e-9 * max(1.0, float(np.max(np.abs(series.y))))  # as the scans' (noise.py)
    return np.maximum(np.maximum(scatter * noise.inflation, series.sampling), floor)


def _drift_p_value(series: PreparedSeries, onset: Onset, setting: Sensitivity) -> float:
    """The larger p-value of three tests that must all hold for a drift: the onset scan, the
    Mann-Kendall test over the fall and as many points before it, and the latest points still
    below the level before the onset (at least the first 5 points of the window)."""
    if onset.z >= 0 or _drift_slope(series, onset)[0] >= 0:
        return 1.0
    fallen = series.size - 1 - onset.start
    span = series.y[max(0, onset.start - fallen) :]
    phi = series.noise.phi
    p_trend = mann_kendall(span, variance_factor=(1.0 + phi) / (1.0 - phi)).p_down
    split = max(onset.start + 1, STEP_MIN_BEFORE)
    p_recent = recent_drop(
        series.clean,
        series.sigma,
        split=split,
        reference=setting.reference,
        recent=setting.recent,
        dof=series.noise.dof,
    )
    return max(onset.p_value, p_trend, p_recent)


def _drift_slope(series: PreparedSeries, onset: Onset) -> tuple[float, float]:
    """Theil-Sen (slope, intercept) of the oriented points from the onset on."""
    return theil_sen(series.y[onset.start :])


def _relative(series: PreparedSeries, change: float, before: float) -> float | None:
    """``change`` relative to ``before``; ``None`` when ``before`` is within the noise of zero,
    where a ratio says nothing."""
    return float(change / abs(before)) if abs(before) > series.noise.sigma else None


def _degradation(
    series, *, kind, start, before, after, slope, p_value, message, breach
) -> Degradation:
    """A degradation from oriented levels, told in the metric's own units."""
    change = series.original(after - before)
    return Degradation(
        kind=kind,
        start_index=series.offset + start,
        end_index=series.offset + series.size - 1,
        start_version=series.label(start),
        level_before=float(series.original(before)),
        level_after=float(series.original(after)),
        magnitude=float(change),
        relative_magnitude=_relative(series, change, series.original(before)),
        slope=None if slope is None else float(series.original(slope)),
        p_value=float(p_value),
        confidence=1.0 - float(p_value),
        message=message,
        forecast_versions_to_breach=breach,
    )


def _forecast_text(series, metric, limit, breach) -> str:
    if breach is None:
        return ""
    return explain.forecast(
        metric=metric, limit=series.original(limit), versions_left=breach, worse_up=series.sign < 0
    )


def _drift(series, fall, level, metric, limit, breach) -> Degradation:
    start = fall.onset.start
    slope, intercept = _drift_slope(series, fall.onset)
    before, after = intercept, level.value
    change = series.original(after - before)
    message = explain.drift(
        metric=metric,
        change=change,
        rel=_relative(series, change, series.original(before)),
        points=series.size - 1 - start,
        since=series.label(start),
        slope=slope,
        p_value=fall.p_value,
        worse_up=series.sign < 0,
        is_rate=series.is_rate,
    )
    return _degradation(
        series,
        kind="drift",
        start=start,
        before=before,
        after=after,
        slope=slope,
        p_value=fall.p_value,
        breach=breach,
        message=message + _forecast_text(series, metric, limit, breach),
    )


def _step_change(series, fall, level, metric, limit, breach) -> Degradation:
    step = fall.step
    change = series.original(step.after - step.before)
    message = explain.step(
        metric=metric,
        change=change,
        rel=_relative(series, change, series.original(step.before)),
        points=series.size - step.index,
        at=series.label(step.index),
        p_value=fall.p_value,
        worse_up=series.sign < 0,
        is_rate=series.is_rate,
    )
    return _degradation(
        series,
        kind="step",
        start=step.index,
        before=step.before,
        after=level.value,
        slope=None,
        p_value=fall.p_value,
        breach=breach,
        message=message + _forecast_text(series, metric, limit, breach),
    )


def _baseline_drop(
    series, fall, baseline, limit, metric, alpha
) -> tuple[Degradation | None, float]:
    """The cumulative drop from the baseline: the current level against it, the slide since
    the onset of the fall (the scan's best onset, found or not) and its forecast."""
    level = fall.level(series)
    test = baseline_drop(baseline, level, baseline_se=series.noise.sigma, dof=series.noise.dof)
    if test.p_value > alpha or test.drop <= 0:
        return None, test.p_value
    start = fall.onset.start if fall.onset.z < 0 else 0
    slope = level.slope if level.slope is not None else theil_sen(series.y[start:])[0]
    slope = slope if slope < 0 else None
    breach = versions_to_breach(level.value, slope, limit, latest=float(series.y[-1]))
    change = series.original(level.value - baseline)
    message = explain.baseline(
        metric=metric,
        change=change,
        rel=_relative(series, change, series.original(baseline)),
        baseline_value=series.original(baseline),
        since=series.label(start),
        p_value=test.p_value,
        worse_up=series.sign < 0,
        is_rate=series.is_rate,
    )
    degradation = _degradation(
        series,
        kind="baseline_drop",
        start=start,
        before=baseline,
        after=level.value,
        slope=slope,
        p_value=test.p_value,
        breach=breach,
        message=message + _forecast_text(series, metric, limit, breach),
    )
    return degradation, test.p_value

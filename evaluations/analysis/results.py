"""What an analysis of one series hands back: plain frozen dataclasses for services to store.

Indices count points of the series as given (0 = oldest); values, magnitudes and slopes are in
the metric's own units and signs (an accuracy drop is negative, a latency rise positive).
"""

from dataclasses import dataclass

from .noise import Noise

KINDS = ("drift", "step", "baseline_drop")


@dataclass(frozen=True)
class Degradation:
    """One degradation, told in a sentence (``message``).

    - ``kind``: "drift" (a sustained linear fall), "step" (a level shift that has stayed) or
      "baseline_drop" (the current level is below the baseline, however it got there).
    - ``start_index``/``start_version``: for a step, the first version at the new level; for a
      drift or a baseline drop, the last version before the fall began. ``end_index``: the
      latest point.
    - ``level_before``/``level_after``: the level before the change (or the baseline) and now.
    - ``magnitude``: level_after - level_before; ``relative_magnitude``: that over
      |level_before| (``None`` when level_before is 0).
    - ``slope``: change per version of a drift or a slide from the baseline, else ``None``.
    - ``p_value``: one-sided, adjusted for the scans behind it; ``confidence`` = 1 - p_value.
    - ``forecast_versions_to_breach``: versions until the floor or budget is crossed at the
      current slope (0 = already crossed), ``None`` without a limit or a fall to extrapolate.
    """

    kind: str
    start_index: int
    end_index: int
    start_version: str
    level_before: float
    level_after: float
    magnitude: float
    relative_magnitude: float | None
    slope: float | None
    p_value: float
    confidence: float
    message: str
    forecast_versions_to_breach: int | None


@dataclass(frozen=True)
class Trend:
    """The fitted line for charts (Theil-Sen): value(i) = intercept + slope * i for
    start_index <= i <= end_index, i the index in the whole series."""

    start_index: int
    end_index: int
    slope: float
    intercept: float

    def value_at(self, index: int) -> float:
        return self.intercept + self.slope * index


@dataclass(frozen=True)
class SeriesAnalysis:
    """The analysis of one series.

    ``analysed`` is False (with ``reason``) when the series is too short to judge; then there
    are no degradations and ``p_value`` is 1. ``p_value`` is the series' own: the smallest
    p-value of its ``tests`` detectors times ``tests`` (Bonferroni), whether or not anything
    was found, so that a sweep can control its false discovery rate (``fdr.control_fdr``).
    ``window_start`` is the first index the tests looked at."""

    analysed: bool
    reason: str
    points: int
    window_start: int
    degradations: tuple[Degradation, ...]
    p_value: float
    tests: int
    trend: Trend | None
    noise: Noise | None

    @property
    def degraded(self) -> bool:
        return bool(self.degradations)

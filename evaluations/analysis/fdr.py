"""False-discovery-rate control across the many series of one sweep.

Each analysed series carries one p-value: the smallest p-value of its detectors, Bonferroni-
adjusted for how many it ran (``SeriesAnalysis.p_value``, ``tests``). The Benjamini-Hochberg
step-up procedure (Benjamini and Hochberg 1995; ``trackerclient.stats``) over these p-values of
all analysed series, with or without findings, finds the largest cutoff p_(k) <= alpha k / N;
a series survives when its p-value is at most the cutoff, and within it each finding whose own
p-value, times ``tests``, is also at most the cutoff. The expected share of false alarms among
the surviving series is then at most alpha (for independent or positively dependent series).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from trackerclient.stats import benjamini_hochberg

from .results import Degradation, SeriesAnalysis


@dataclass(frozen=True)
class Discovery:
    """A degradation that survives false-discovery-rate control: ``series`` indexes the analyses
    passed in; ``q_value`` is the series' Benjamini-Hochberg adjusted p-value."""

    series: int
    degradation: Degradation
    q_value: float


def control_fdr(analyses: Sequence[SeriesAnalysis], alpha: float = 0.05) -> list[Discovery]:
    """The degradations of a sweep that survive Benjamini-Hochberg at level ``alpha``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    tested = [index for index, analysis in enumerate(analyses) if analysis.analysed]
    if not tested:
        return []
    q_values = benjamini_hochberg([analyses[index].p_value for index in tested])
    surviving = [
        analyses[index].p_value for index, q in zip(tested, q_values, strict=True) if q <= alpha
    ]
    if not surviving:
        return []
    cutoff = max(surviving)
    return [
        Discovery(series=index, degradation=degradation, q_value=q)
        for index, q in zip(tested, q_values, strict=True)
        if q <= alpha
        for degradation in analyses[index].degradations
        if degradation.p_value * analyses[index].tests <= cutoff
    ]

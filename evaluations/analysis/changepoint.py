"""Step regressions: where a series' level shifted down, and whether it still stays down.

The test is the likelihood-ratio scan for one change in mean at an unknown point (Page 1955;
the "last change" form used in sequential detection, Lai 1995): for every split k the mean of
the points from k to the end is compared with the mean of a reference stretch just before k,
weighted by each point's noise (1/sigma^2), and the largest standardised drop wins. Its
p-value is Bonferroni-adjusted over the splits tried. At least ``min_after`` points must sit at
the new level (nearer it than the old one), so one or two bad evaluations are never a step, and
the latest points must still be
down, so a dip that was fixed stops counting; the reference stretch is bounded so that an old,
already-reported change does not blur a new one.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import stdtr


@dataclass(frozen=True)
class Step:
    """The most significant downward shift persisting to the end of a series.

    ``index``: first point at the new level; ``before``/``after``: weighted mean levels of the
    reference stretch and of the points since; ``z``: standardised drop; ``p_value``: one-sided,
    Bonferroni-adjusted over the ``candidates`` splits tried."""

    index: int
    before: float
    after: float
    z: float
    p_value: float
    candidates: int


def _prefix(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(values)])


def last_step(
    y: np.ndarray,
    sigma: np.ndarray,
    *,
    dof: float,
    min_after: int,
    min_before: int,
    reference: int,
    recent: int,
    raw: np.ndarray | None = None,
) -> Step:
    """Scan every split k (``min_before`` <= k <= len - ``min_after``) for a drop from the
    mean of y[k - reference:k] to the mean of y[k:], each weighted by 1/sigma^2; then confirm
    that the last ``recent`` points are still down (``recent_drop``) and that ``min_after`` of
    the points since the split sit at the new level (``enough_at_new_level``, on ``raw``, the
    values before outlier clipping, when given). The p-value is the larger of the tests' (an
    intersection-union test, Berger 1982: all must hold)."""
    size = y.size
    splits = np.arange(min_before, size - min_after + 1)
    if splits.size == 0:
        return Step(size, 0.0, 0.0, 0.0, 1.0, 0)
    precision = 1.0 / sigma**2
    centred = y - np.median(y)  # sums stay small and well-conditioned
    weight_sum = _prefix(precision)
    value_sum = _prefix(precision * centred)
    starts = np.maximum(0, splits - reference)
    before_weight = weight_sum[splits] - weight_sum[starts]
    after_weight = weight_sum[size] - weight_sum[splits]
    before = (value_sum[splits] - value_sum[starts]) / before_weight
    after = (value_sum[size] - value_sum[splits]) / after_weight
    z = (before - after) / np.sqrt(1.0 / before_weight + 1.0 / after_weight)
    best = int(np.argmax(z))
    p_scan = min(1.0, float(stdtr(dof, -z[best])) * splits.size)
    p_recent = recent_drop(
        y, sigma, split=int(splits[best]), reference=reference, recent=recent, dof=dof
    )
    level = float(np.median(y))
    raw = y if raw is None else raw
    if not enough_at_new_level(raw[splits[best] :], float(before[best]) + level, min_after):
        p_scan = 1.0
    return Step(
        index=int(splits[best]),
        before=float(before[best]) + level,
        after=float(after[best]) + level,
        z=float(z[best]),
        p_value=max(p_scan, p_recent),
        candidates=int(splits.size),
    )


def enough_at_new_level(after: np.ndarray, before: float, count: int) -> bool:
    """Whether at least ``count`` of the points since a split lie nearer their median, the new
    level, than the level ``before`` (the points as given, before clipping): two very bad
    versions and a good one are no step, however the clipping has shaped them."""
    midpoint = (before + float(np.median(after))) / 2.0
    return int(np.sum(after < midpoint)) >= count


def recent_drop(
    y: np.ndarray, sigma: np.ndarray, *, split: int, reference: int, recent: int, dof: float
) -> float:
    """One-sided p-value that the last ``recent`` points (at most those since ``split``) are
    below the ``reference`` points before ``split``: a regression that has since been fixed,
    a dip, no longer counts as a step."""
    before = slice(max(0, split - reference), split)
    after = slice(max(split, y.size - recent), y.size)
    weight = 1.0 / sigma**2
    sums = [(np.sum(weight[part] * y[part]), np.sum(weight[part])) for part in (before, after)]
    (before_sum, before_weight), (after_sum, after_weight) = sums
    drop = before_sum / before_weight - after_sum / after_weight
    z = drop / np.sqrt(1.0 / before_weight + 1.0 / after_weight)
    return float(stdtr(dof, -z))

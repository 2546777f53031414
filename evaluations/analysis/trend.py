"""Slow drift: trend tests and slope estimates over one (oriented) series.

- Mann-Kendall trend test (Mann 1945, Kendall 1975) with the ties-corrected variance, computed
  from the matrix of pairwise signs (O(n^2) in numpy, no Python loop).
- Theil-Sen slope (Theil 1950, Sen 1968): the median of the pairwise slopes, and Sen's
  intercept, the median of y - slope * x.
- Onset scan: two-phase ("broken-stick") regression, a flat level that starts falling at an
  unknown point (Hinkley 1971). For every candidate onset the weighted least-squares test of the
  slope after it is computed from suffix sums in O(n); the most significant onset is the
  estimated start of the drift, and its p-value is Bonferroni-adjusted for the scan.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, stdtr


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall statistic S, its ties-corrected variance, the continuity-corrected z and
    the one-sided p-value of a downward trend (z very negative -> p small)."""

    s: float
    variance: float
    z: float
    p_down: float


@dataclass(frozen=True)
class Onset:
    """The most significant onset of a downward linear drift in a series.

    ``start``: index of the last point before the fall (the hinge); ``slope``: least-squares
    slope after it (per point, negative = worse); ``z``: its test statistic; ``p_value``:
    one-sided, Bonferroni-adjusted over the ``candidates`` onsets tried."""

    start: int
    slope: float
    z: float
    p_value: float
    candidates: int


def mann_kendall(y: np.ndarray, variance_factor: float = 1.0) -> MannKendall:
    """Mann-Kendall test of a monotonic trend in ``y`` (in order), ties-corrected:
    Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18 over groups of t tied values, times
    ``variance_factor`` for serially correlated noise (the effective-sample-size correction of
    Hamed & Rao 1998 and Yue & Wang 2004: about (1 + phi) / (1 - phi) for AR(1) noise)."""
    size = y.size
    if size < 3:
        return MannKendall(0.0, 0.0, 0.0, 1.0)
    upper = np.triu_indices(size, k=1)
    signs = np.sign(y[None, :] - y[:, None])[upper]
    s = float(signs.sum())
    _, ties = np.unique(y, return_counts=True)
    tied = float(np.sum(ties * (ties - 1.0) * (2.0 * ties + 5.0)))
    variance = variance_factor * (size * (size - 1.0) * (2.0 * size + 5.0) - tied) / 18.0
    if variance <= 0.0:
        return MannKendall(s, 0.0, 0.0, 1.0)
    z = (s - np.sign(s)) / np.sqrt(variance)
    return MannKendall(s, variance, float(z), float(ndtr(z)))


def theil_sen(y: np.ndarray, x: np.ndarray | None = None) -> tuple[float, float]:
    """(slope, intercept) of the Theil-Sen line: the median pairwise slope, and Sen's
    intercept median(y - slope * x). ``x`` defaults to 0, 1, 2, ..."""
    if x is None:
        x = np.arange(y.size, dtype=float)
    if y.size < 2:
        return 0.0, float(y[0]) if y.size else 0.0
    first, second = np.triu_indices(y.size, k=1)
    run = x[second] - x[first]
    keep = run != 0
    slope = float(np.median((y[second] - y[first])[keep] / run[keep]))
    return slope, float(np.median(y - slope * x))


def onset_scan(
    y: np.ndarray, sigma: np.ndarray, *, dof: float, min_after: int, min_before: int
) -> Onset:
    """Scan every onset k (with at least ``min_before`` points up to and including k and
    ``min_after`` after it) for a downward drift: the weighted (1/sigma^2) least-squares fit
    of y = a + b * max(0, i - k), and z = b / se(b). The most negative z wins."""
    size = y.size
    onsets = np.arange(min_before - 1, size - min_after)
    if onsets.size == 0:
        return Onset(0, 0.0, 0.0, 1.0, 0)
    precision = 1.0 / sigma**2
    scale = float(precision.mean())
    weight = precision / scale  # normalised so that the sums stay well-conditioned
    centred = y - np.sum(weight * y) / weight.sum()
    index = np.arange(size, dtype=float)
    # suffix sums over i >= k of w, w*i, w*i^2, w*y, w*i*y
    suffix = np.cumsum(
        np.stack(
            [weight, weight * index, weight * index**2, weight * centred, weight * index * centred]
        )[:, ::-1],
        axis=1,
    )[:, ::-1][:, onsets]
    w0, w1, w2, wy, wiy = suffix
    k = onsets.astype(float)
    sum_h = w1 - k * w0
    sum_hh = w2 - 2 * k * w1 + k * k * w0
    sum_hy = wiy - k * wy
    sxx = sum_hh - sum_h**2 / weight.sum()
    sxx = np.maximum(sxx, 1e-300)
    z = sum_hy * np.sqrt(scale / sxx)
    best = int(np.argmin(z))
    p_value = min(1.0, float(stdtr(dof, z[best])) * onsets.size)
    return Onset(
        int(onsets[best]),
        float(sum_hy[best] / sxx[best]),
        float(z[best]),
        p_value,
        int(onsets.size),
    )

"""A sequential test for a level that has just fallen: a one-sided CUSUM (Page 1954) of the
standardised points against the level before the change, the complement of the step scan
(``changepoint.last_step``) for small shifts found early.

The scan compares two means at every split and pays a Bonferroni factor for them all; a CUSUM
accumulates the evidence point by point, each point's drop below the reference level less an
allowance ``k`` (half the shift it is tuned to), and forgets what came before its
excursion began. The service re-analyses a series after every new point and keeps no state, so
the CUSUM is recomputed over the window: for every start j, the sum over the points since j of
(reference_j - y_i) / sigma_i less k per point, where reference_j is the weighted mean of the
``reference`` points before j (a self-starting CUSUM, Hawkins 1987, its reference frozen at the
start of the excursion). Each point's term is winsorised at ``CLIP`` (a Huber-type CUSUM, so
that heavy tails do not pile up evidence), and the estimated reference adds its error to every
term: the sum is scaled by sqrt(m / (m + Q^2 var(reference))), Q the sum of 1 / sigma_i, so
that its random part has the variance m of m independent unit terms again. The statistic S is
the largest such sum, the CUSUM's current value; with terms of mean -k and at most unit
variance, P(S > s) <= exp(-2 k s) (Wald's inequality for the maximum of a random walk;
Siegmund 1985, ch. 2), which is the p-value reported. The caller's ``sigma`` carries the
allowance for autocorrelated noise (the long-run scatter of AR(1) noise), so that the wander
of correlated evaluations is not summed as evidence.
"""

import numpy as np

from .changepoint import Step

# k: half of the shift the CUSUM is tuned to. 0.8 sigma rather than the 1 sigma step it is
# chiefly for: the estimated noise (raised for autocorrelation) overstates a white noise's
# scale a little, which shrinks a 1 sigma step in its units, and a drift is a shift that
# grows from nothing (chosen on the detection benchmark's tuning seed with ``CLIP``).
ALLOWANCE = 0.4
# each point's standardised drop is winsorised here (Huber 1964), so that heavy tails do not
# pile up evidence; at 2.5 a 1 sigma shift keeps 97% of its mean drop (92% at 2.0)
CLIP = 2.5


def _suffix(values: np.ndarray) -> np.ndarray:
    """Sums over i >= j for every j (one more entry, 0, at the end)."""
    return np.concatenate([np.cumsum(values[::-1])[::-1], [0.0]])


def cusum_drop(
    y: np.ndarray,
    sigma: np.ndarray,
    *,
    min_before: int,
    min_after: int,
    reference: int,
    allowance: float = ALLOWANCE,
) -> Step:
    """The CUSUM's current value over ``y`` (oriented, worse down) and where its excursion
    began: a ``Step`` whose ``index`` is that start, ``before``/``after`` the reference level
    and the mean since, ``z`` the statistic S and ``p_value`` exp(-2 k S)."""
    size = y.size
    starts = np.arange(min_before, size - min_after + 1)
    if starts.size == 0:
        return Step(size, 0.0, 0.0, 0.0, 1.0, 0)
    level = float(np.median(y))
    centred = y - level  # sums stay small and well-conditioned
    precision = 1.0 / sigma**2
    weight_sum = np.concatenate([[0.0], np.cumsum(precision)])
    value_sum = np.concatenate([[0.0], np.cumsum(precision * centred)])
    first = np.maximum(0, starts - reference)
    before_weight = weight_sum[starts] - weight_sum[first]
    before = (value_sum[starts] - value_sum[first]) / before_weight
    inverse = _suffix(1.0 / sigma)[starts]  # Q: sum of 1 / sigma_i since j
    # (reference_j - y_i) / sigma_i for every start j (rows) and point i >= j, winsorised
    residuals = (before[:, None] - centred[None, :]) / sigma[None, :]
    residuals = np.clip(residuals, -CLIP, CLIP)
    residuals[np.arange(size)[None, :] < starts[:, None]] = 0.0
    count = (size - starts).astype(float)
    drop = residuals.sum(axis=1)
    shrink = np.sqrt(count / (count + inverse**2 / before_weight))
    statistic = drop * shrink - allowance * count
    best = int(np.argmax(statistic))
    start = int(starts[best])
    value = max(0.0, float(statistic[best]))
    after = float(np.sum(precision[start:] * y[start:]) / np.sum(precision[start:]))
    return Step(
        index=start,
        before=float(before[best]) + level,
        after=after,
        z=value,
        p_value=float(np.exp(-2.0 * allowance * value)),
        candidates=int(starts.size),
    )

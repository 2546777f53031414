"""Sequential tests for a level that has just fallen: a one-sided CUSUM (Page 1954) of the
standardised points against the level before the change and the likelihood ratio of a fall
that grows since it began (a ramp, below), the complements of the step and drift scans
(``changepoint.last_step``, ``trend.onset_scan``) for small shifts and slow falls found early.

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

Beside it, a test for a level that has started falling: the likelihood ratio of a fall growing
by ``RAMP_RATE`` noise units per point since some start j (a ramp) against none, on the same
winsorised terms r_i = (reference_j - y_i) / sigma_i. With t = i - j + 1 the points since j,
the ramp's sufficient statistic is W = sum t r_i, of mean b S2 under the ramp (b the rate,
S2 = sum t^2) and, with none, of variance S2 + L^2 var(reference), L = sum t / sigma_i (the
reference's error enters every term). Taken as normal, the log likelihood ratio of the ramp
against none is (W mean - mean^2 / 2) / variance, the generalised likelihood ratio over the
start j is its largest value (Lai 1995, the window-limited GLR of a known change in slope),
and exp(-it) the p-value reported: by Markov's inequality, each start's ratio has mean 1 with
no change; taken over every start it is no longer a bound, but it stays conservative on white
noise (1% of 30-point series and 0.7% of 150-point ones reach 0.05; tests/analysis). A CUSUM
weighs every point since j alike and forgets the excursion when it dips; the ramp weighs the
latest points most, as a drift does, which finds slow falls sooner.
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
# the ramp's slope: a fall of 0.06 noise units per point, 2 sigma over 33 versions. The
# benchmark's drift falls 0.04 per version; a ramp of 0.04 found more of those drifts on the
# detection benchmark's tuning seed but no more on its held-out seeds, at more false alarms,
# and 0.06 finds more small steps (README, Benchmarks).
RAMP_RATE = 0.06


def _suffix(values: np.ndarray) -> np.ndarray:
    """Sums over i >= j for every j (one more entry, 0, at the end)."""
    return np.concatenate([np.cumsum(values[::-1])[::-1], [0.0]])


class _Excursions:
    """What both sequential tests share: for every start j, the winsorised standardised drops
    (reference_j - y_i) / sigma_i of the points i >= j (a matrix, rows j, zero before j), the
    reference levels and the precision they were estimated with."""

    def __init__(self, y, sigma, *, min_before, min_after, reference):
        size = y.size
        self.y, self.sigma = y, sigma
        self.starts = np.arange(min_before, size - min_after + 1)
        if self.starts.size == 0:
            return
        self.level = float(np.median(y))
        centred = y - self.level  # sums stay small and well-conditioned
        self.precision = 1.0 / sigma**2
        weight_sum = np.concatenate([[0.0], np.cumsum(self.precision)])
        value_sum = np.concatenate([[0.0], np.cumsum(self.precision * centred)])
        first = np.maximum(0, self.starts - reference)
        self.before_weight = weight_sum[self.starts] - weight_sum[first]
        self.before = (value_sum[self.starts] - value_sum[first]) / self.before_weight
        residuals = (self.before[:, None] - centred[None, :]) / sigma[None, :]
        residuals = np.clip(residuals, -CLIP, CLIP)
        residuals[np.arange(size)[None, :] < self.starts[:, None]] = 0.0
        self.residuals = residuals
        self.drop = residuals.sum(axis=1)  # sum of r_i since j
        self.inverse = _suffix(1.0 / sigma)  # sums of 1 / sigma_i since each j

    def step(self, scores: np.ndarray, p_values: np.ndarray) -> Step:
        """The start with the largest score, as a ``Step`` whose ``z`` is that score."""
        if self.starts.size == 0:
            return Step(self.y.size, 0.0, 0.0, 0.0, 1.0, 0)
        best = int(np.argmax(scores))
        start = int(self.starts[best])
        precision = self.precision[start:]
        return Step(
            index=start,
            before=float(self.before[best]) + self.level,
            after=float(np.sum(precision * self.y[start:]) / np.sum(precision)),
            z=max(0.0, float(scores[best])),
            p_value=float(min(1.0, p_values[best])),
            candidates=int(self.starts.size),
        )


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
    found = _Excursions(y, sigma, min_before=min_before, min_after=min_after, reference=reference)
    return _cusum(found, allowance)


def _cusum(found: _Excursions, allowance: float) -> Step:
    if found.starts.size == 0:
        return found.step(np.zeros(0), np.ones(0))
    count = (found.y.size - found.starts).astype(float)
    inverse = found.inverse[found.starts]  # Q: sum of 1 / sigma_i since j
    shrink = np.sqrt(count / (count + inverse**2 / found.before_weight))
    statistic = found.drop * shrink - allowance * count
    return found.step(statistic, np.exp(-2.0 * allowance * np.maximum(0.0, statistic)))


def ramp_drop(
    y: np.ndarray,
    sigma: np.ndarray,
    *,
    min_before: int,
    min_after: int,
    reference: int,
    rate: float = RAMP_RATE,
) -> Step:
    """The likelihood ratio of a fall growing by ``rate`` noise units per point since some
    start j against none: a ``Step`` whose ``index`` is the likeliest start, ``before`` /
    ``after`` the reference level and the mean since, ``z`` the log likelihood ratio and
    ``p_value`` exp(-z)."""
    found = _Excursions(y, sigma, min_before=min_before, min_after=min_after, reference=reference)
    return _ramp(found, rate)


def _ramp(found: _Excursions, rate: float) -> Step:
    if found.starts.size == 0:
        return found.step(np.zeros(0), np.ones(0))
    # t = i - j + 1, the points since j counted from 1: sums of t x_i are sums of (i + 1) x_i
    # less j times sums of x_i
    starts = found.starts.astype(float)
    count = found.y.size - starts
    position = np.arange(1.0, found.y.size + 1.0)
    weighted = found.residuals @ position - starts * found.drop  # W: sum t r_i
    squares = count * (count + 1.0) * (2.0 * count + 1.0) / 6.0  # S2: sum of t^2
    # L: sum of t / sigma_i
    reach = _suffix(position / found.sigma)[found.starts] - starts * found.inverse[found.starts]
    mean = rate * squares  # W's mean under the ramp
    variance = squares + reach**2 / found.before_weight  # W's variance with none
    log_ratio = (weighted * mean - mean**2 / 2.0) / variance
    return found.step(log_ratio, np.exp(-np.maximum(0.0, log_ratio)))


def sequential_drops(
    y: np.ndarray,
    sigma: np.ndarray,
    *,
    min_before: int,
    min_after: int,
    reference: int,
) -> tuple[Step, Step]:
    """``cusum_drop`` and ``ramp_drop`` at their defaults, from one matrix of drops."""
    found = _Excursions(y, sigma, min_before=min_before, min_after=min_after, reference=reference)
    return _cusum(found, ALLOWANCE), _ramp(found, RAMP_RATE)

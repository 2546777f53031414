"""Whether a detected fall is a step or a drift.

Both shapes are three-parameter models of the recent history: two levels with a split (a
step), or a level that starts falling linearly at an onset (a drift, the broken-stick model).
The one with the smaller weighted residual sum of squares (1/sigma^2 weights) explains the data
better; with equal parameter counts this is the likelihood-ratio (and AIC) choice under
normal noise. A step is the default: a drift must fit better by ``DRIFT_MARGIN`` (twice the
log-likelihood ratio, a likelihood ratio of e), so that a fresh step with a few noisy points
after it, which a steep line fits almost as well, is still called a step. Measured on 150
series each: a 3-sigma step seen 3 or 5 versions after it is called a step 89% and 95% of the
time, a 6-sigma drift over 20 versions is called a drift 83% of the time after 15 versions and
98% after 20 (with no margin: 83%, 81%; 93%, 99%; with a margin of 4: 100%, 98%; 61%, 97%).
"""

import numpy as np

DRIFT_MARGIN = 2.0


def step_rss(y: np.ndarray, weight: np.ndarray, split: int, start: int) -> float:
    """Weighted residual sum of squares of two levels, y[start:split] and y[split:]."""
    total = 0.0
    for part, w in ((y[start:split], weight[start:split]), (y[split:], weight[split:])):
        if part.size:
            level = np.sum(w * part) / np.sum(w)
            total += float(np.sum(w * (part - level) ** 2))
    return total


def hinge_rss(y: np.ndarray, weight: np.ndarray, onset: int, start: int) -> float:
    """Weighted residual sum of squares of y[start:] = a + b * max(0, i - onset)."""
    part, w = y[start:], weight[start:]
    hinge = np.maximum(0.0, np.arange(start, y.size) - onset).astype(float)
    design = np.stack([np.ones_like(hinge), hinge], axis=1) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design, part * np.sqrt(w), rcond=None)
    residual = part * np.sqrt(w) - design @ coef
    return float(residual @ residual)


def is_drift(y: np.ndarray, sigma: np.ndarray, *, split: int, onset: int, reference: int) -> bool:
    """True when a linear fall from ``onset`` fits y clearly better than a step at ``split``,
    both judged on the same stretch: from ``reference`` points before the earlier of the two."""
    weight = 1.0 / sigma**2
    start = max(0, min(split, onset + 1) - reference)
    return hinge_rss(y, weight, onset, start) + DRIFT_MARGIN < step_rss(y, weight, split, start)

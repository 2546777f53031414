"""Confidence sequences: intervals that hold at every look at once, so that an experiment can be
re-evaluated after every window without inflating its error rates.

- Difference of two means (candidate - control, proportions included): the one-sided normal
  mixture boundary of Howard, Ramdas, McAuliffe and Sekhon (2021, "Time-uniform, nonparametric,
  nonasymptotic confidence sequences", eq. 14), applied to the difference in means on the
  information scale V = 1 / se^2. With known variances V (d_hat - d) is a Brownian motion in V
  whatever the arms' sizes and however the split changes between windows (Cov = min(V_s, V_t)),
  so the boundary holds exactly; with the variances estimated it holds asymptotically, as the
  asymptotic confidence sequences of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas (2023,
  "Time-uniform central limit theory and asymptotic confidence sequences") do.
- A single share (agreement, interleaving win share): the beta-binomial mixture of likelihood
  ratios with a uniform prior (Robbins 1970; Howard et al. 2021, section 3), a test martingale
  for Bernoulli data, so valid exactly at any sample size.

Tuning. The normal mixture puts a N(0, 1/rho) prior on the drift; rho only moves where the
sequence is tightest, never its validity. Following Waudby-Smith et al. (2023, section 3.3), rho
makes it tightest at a planned information V* = t* / (2 sigma^2), that of t* units per arm at an
even split (``tuning_units``, default 10,000), with sigma^2 the pooled per-unit variance:
rho = V* / (-2 log alpha + log(1 - 2 log alpha)). From a tenth of t* to ten times t* the
interval is at most about 20% wider than one tuned for that very moment.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import betaln, xlog1py, xlogy

MIN_UNITS = 30  # per arm, before a difference gets any bound: the normal limit needs a sample
DEFAULT_TUNING_UNITS = 10_000


@dataclass(frozen=True)
class DifferenceBounds:
    """candidate - control: ``estimate`` and one-sided bounds. ``lower`` holds at every look
    with probability at least 1 - ``lower_alpha``, ``upper`` with 1 - ``upper_alpha``; together
    they are a (1 - lower_alpha - upper_alpha) confidence sequence. A bound is None while the
    data cannot bound it (too few units, no spread); ``estimate`` is None without data."""

    estimate: float | None
    lower: float | None
    upper: float | None
    lower_alpha: float
    upper_alpha: float


def mixture_precision(information: float, alpha: float) -> float:
    """rho of the normal mixture that is tightest at ``information`` for level ``alpha``
    (Waudby-Smith et al. 2023, eq. after Theorem 2.2)."""
    log_alpha = math.log(alpha)
    return information / (-2.0 * log_alpha + math.log(1.0 - 2.0 * log_alpha))


def one_sided_radius(information, rho: float, alpha: float):
    """How far d_hat may lie on one side of d at information V, at every V with probability
    1 - alpha: u(V) / V with u(V) = sqrt(2 (V + rho) log(sqrt((V + rho) / rho) / (2 alpha) + 1))
    (Howard et al. 2021, eq. 14; never below the exact one-sided mixture boundary). Accepts
    arrays."""
    information = np.asarray(information, dtype=float)
    spread = information + rho
    boundary = np.sqrt(2.0 * spread * np.log(np.sqrt(spread / rho) / (2.0 * alpha) + 1.0))
    return boundary / information


def unit_variance(arm, kind: str) -> float | None:
    """The per-unit variance of an arm. For a proportion, p(1 - p) at p = (k + 1) / (n + 2) so
    that an arm with no events yet still has a spread (the add-one rule of Agresti and Caffo
    2000); for a mean the sample variance (None below two units)."""
    if kind == "proportion":
        if arm.n == 0:
            return None
        rate = (arm.sum + 1.0) / (arm.n + 2.0)
        return rate * (1.0 - rate)
    return arm.variance


def difference_bounds(
    control,
    candidate,
    *,
    kind: str,
    lower_alpha: float,
    upper_alpha: float,
    tuning_units: int = DEFAULT_TUNING_UNITS,
) -> DifferenceBounds:
    """Always-valid one-sided bounds on candidate.mean - control.mean (``ArmStats`` each)."""
    for name, level in (("lower_alpha", lower_alpha), ("upper_alpha", upper_alpha)):
        if not 0.0 < level < 1.0:
            raise ValueError(f"{name} must be in (0, 1), not {level}")
    if tuning_units < 1:
        raise ValueError(f"tuning_units must be positive, not {tuning_units}")
    if control.n == 0 or candidate.n == 0:
        return DifferenceBounds(None, None, None, lower_alpha, upper_alpha)
    estimate = candidate.sum / candidate.n - control.sum / control.n
    variances = unit_variance(control, kind), unit_variance(candidate, kind)
    if min(control.n, candidate.n) < MIN_UNITS or None in variances:
        return DifferenceBounds(estimate, None, None, lower_alpha, upper_alpha)
    variance = variances[0] / control.n + variances[1] / candidate.n
    if variance <= 0.0:
        return DifferenceBounds(estimate, None, None, lower_alpha, upper_alpha)
    information = 1.0 / variance
    planned = tuning_units / (variances[0] + variances[1])  # t* / (2 * pooled variance)
    lower = estimate - float(
        one_sided_radius(information, mixture_precision(planned, lower_alpha), lower_alpha)
    )
    upper = estimate + float(
        one_sided_radius(information, mixture_precision(planned, upper_alpha), upper_alpha)
    )
    return DifferenceBounds(estimate, lower, upper, lower_alpha, upper_alpha)


def beta_prior(centre: float, spread: float) -> tuple[float, float]:
    """The Beta(a, b) with mean ``centre`` and standard deviation ``spread``."""
    if not 0.0 < centre < 1.0 or not 0.0 < spread < math.sqrt(centre * (1.0 - centre)):
        raise ValueError(f"no Beta prior has mean {centre} and standard deviation {spread}")
    concentration = centre * (1.0 - centre) / spread**2 - 1.0
    return centre * concentration, (1.0 - centre) * concentration


def log_share_mixture(successes, n, share, prior: tuple[float, float] = (1.0, 1.0)):
    """log of the beta-binomial mixture martingale of ``successes`` of ``n`` against a true
    ``share``, with a Beta(a, b) ``prior``:
    log B(k + a, n - k + b) - log B(a, b) - k log share - (n - k) log(1 - share).
    At least log(1 / alpha) means ``share`` is outside the (1 - alpha) confidence sequence.
    Accepts arrays."""
    a, b = prior
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    return (
        betaln(successes + a, n - successes + b)
        - betaln(a, b)
        - xlogy(successes, share)
        - xlog1py(n - successes, -share)
    )


def share_bounds(
    successes: int, n: int, alpha: float, prior: tuple[float, float] = (1.0, 1.0)
) -> tuple[float, float]:
    """A (1 - alpha) confidence sequence for a Bernoulli share from ``successes`` of ``n``:
    every share against which the beta-binomial mixture stays below 1 / alpha (Ville's
    inequality). The ``prior`` only moves where the sequence is tightest: near its mean, at
    about the sample size where its standard deviation is what the data can resolve.
    (0, 1) without data."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, not {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    k, size, threshold = float(successes), float(n), math.log(1.0 / alpha)

    def excess(share: float) -> float:
        return float(log_share_mixture(k, size, share, prior)) - threshold

    # The log mixture is convex in the share, with its minimum at the maximum-likelihood share,
    # where it is at most 0 (a mixture of likelihoods never beats the best one).
    rate = min(max(k / size, 1e-300), math.nextafter(1.0, 0.0))
    low = 0.0 if excess(1e-300) < 0 else brentq(excess, 1e-300, rate, xtol=1e-15, rtol=1e-13)
    top = math.nextafter(1.0, 0.0)
    high = 1.0 if excess(top) < 0 else brentq(excess, rate, top, xtol=1e-15, rtol=1e-13)
    return float(low), float(high)

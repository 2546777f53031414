"""Significance tests for the regression gate, in the standard library only.

The CI client gates offline with these, and the server gates with the same code, so a verdict
never depends on where it was computed. Every test here is one-sided: it asks whether the
candidate is *worse* than the baseline, never merely different.

- Two-proportion z-test (pooled variance) for rate metrics with sample sizes.
- Wilson score interval for a proportion.
- Hanley-McNeil standard error of an AUC-ROC from its numbers of positives and negatives.
- McNemar's exact test on discordant pairs, for per-example outcomes on the same examples
  (the binomial tail exact in integers for small counts, in log space beyond).
- Benjamini-Hochberg step-up procedure for the false discovery rate across many checks.
- Student's t distribution (its survival function from the regularised incomplete beta
  function, by Lentz's continued fraction, and its quantile by bisection) and Welch's unequal-
  variances t-test with Welch-Satterthwaite degrees of freedom, for replicate sets of seeds.
"""

import base64
import math
from collections.abc import Sequence


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    """The standard normal quantile: z with P(Z <= z) = p (Acklam's rational approximation
    refined by one Halley step; absolute error below 1e-12 on (0, 1))."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), not {p}")
    a = (
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    )
    b = (
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    )
    c = (
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    )
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    elif p <= 1 - low:
        q = p - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        )
    else:
        q = math.sqrt(-2 * math.log(1 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    error = 0.5 * math.erfc(-x / math.sqrt(2)) - p
    u = error * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


def proportion_drop_pvalue(
    base_rate: float, base_n: int, new_rate: float, new_n: int, *, higher_is_better: bool = True
) -> float:
    """One-sided p-value that the new rate is worse than the baseline's (pooled two-proportion
    z-test). Rates are in [0, 1]; ``higher_is_better`` False makes a rise the regression."""
    _check_rate(base_rate, base_n)
    _check_rate(new_rate, new_n)
    pooled = (base_rate * base_n + new_rate * new_n) / (base_n + new_n)
    variance = pooled * (1 - pooled) * (1 / base_n + 1 / new_n)
    drop = base_rate - new_rate if higher_is_better else new_rate - base_rate
    if variance == 0:
        return 0.0 if drop > 0 else 1.0
    return normal_sf(drop / math.sqrt(variance))


def wilson_interval(rate: float, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion observed as ``rate`` over ``n`` trials."""
    _check_rate(rate, n)
    z = normal_ppf(1 - (1 - confidence) / 2)
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """The standard error of an AUC-ROC estimated on ``n_pos`` positives and ``n_neg``
    negatives (Hanley & McNeil 1982, "The meaning and use of the area under a ROC curve",
    eq. 2, with Q1 = A / (2 - A) and Q2 = 2 A^2 / (1 + A) from the exponential model)."""
    if not 0.0 <= auc <= 1.0:
        raise ValueError(f"an AUC must lie in [0, 1], not {auc}")
    if n_pos < 1 or n_neg < 1:
        raise ValueError("an AUC needs at least one positive and one negative")
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)
    ) / (n_pos * n_neg)
    return math.sqrt(max(variance, 0.0))


# Up to this many trials the tail is summed exactly in integers (under half a millisecond);
# beyond, in floating point from the log-probability at the boundary.
EXACT_MAX_TRIALS = 1000
# The outward sum stops once a term adds less than this share of it (each later term is
# smaller still, and they shrink geometrically).
_NEGLIGIBLE = 1e-17
_LN_2PI = math.log(2 * math.pi)


def binomial_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2): exact up to ``EXACT_MAX_TRIALS`` trials, beyond that
    within 1e-12 relative (tails below ~1e-308 underflow to 0)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if n <= EXACT_MAX_TRIALS:
        return _exact_tail(k, n)
    if 2 * k <= n:
        # Below the mean the tail is over one half: its complement, an upper tail by
        # symmetry (p = 1/2), is summed instead, so the sum always runs outward from the mean.
        return 1.0 - _upper_tail(n - k + 1, n)
    return _upper_tail(k, n)


def _exact_tail(k, n):
    """Exactly, by integers: each coefficient from the previous one (C(n, i+1) = C(n, i) *
    (n - i) / (i + 1), always an integer), then one correctly rounded division."""
    coefficient, total = math.comb(n, k), 0
    for i in range(k, n + 1):
        total += coefficient
        coefficient = coefficient * (n - i) // (i + 1)
    return total / 2**n


def _upper_tail(k, n):
    """P(X >= k) for k above the mean: pmf(k) in log space times the sum of the ratios
    pmf(j) / pmf(k), each term the previous one times (n - j) / (j + 1). The terms fall
    faster than geometrically, so a few thousand suffice at n = 10^6 (4.4 sqrt(n) near the
    mean, a handful in a far tail)."""
    term, total = 1.0, 1.0
    for j in range(k, n):
        term *= (n - j) / (j + 1)
        total += term
        if term < _NEGLIGIBLE * total:
            break
    return math.exp(_log_half_binomial_pmf(k, n) + math.log(total))


def _log_half_binomial_pmf(x, n):
    """log P(X = x) for X ~ Binomial(n, 1/2), by Loader's saddle-point expansion ("Fast and
    accurate computation of binomial probabilities", 2000, as in R's dbinom): Stirling-series
    remainders and deviance terms, each accurate to a few ulps, instead of differences of
    lgamma values that lose ~n * 1e-16 to cancellation."""
    if x == n:
        return -n * math.log(2.0)
    half = n / 2
    lc = _stirlerr(n) - _stirlerr(x) - _stirlerr(n - x) - _bd0(x, half) - _bd0(n - x, half)
    lf = _LN_2PI + math.log(x) + math.log1p(-x / n)
    return lc - 0.5 * lf


def _stirlerr(n):
    """log(n!) - log(sqrt(2 pi n) (n/e)^n), the error of Stirling's formula."""
    if n <= 15:
        return math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - 0.5 * _LN_2PI
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    nn = float(n) * n
    if n > 500:
        return (s0 - s1 / nn) / n
    if n > 80:
        return (s0 - (s1 - s2 / nn) / nn) / n
    if n > 35:
        return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n
    return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n


def _bd0(x, mean):
    """The deviance term x log(x / mean) + mean - x, by its series near the mean, where the
    direct formula would cancel."""
    if abs(x - mean) >= 0.1 * (x + mean):
        return x * math.log(x / mean) + mean - x
    v = (x - mean) / (x + mean)
    total, power, v2 = (x - mean) * v, 2 * x * v, v * v
    for j in range(1, 1000):
        power *= v2
        updated = total + power / (2 * j + 1)
        if updated == total:
            break
        total = updated
    return total


def mcnemar_worse_pvalue(broken: int, fixed: int) -> float:
    """McNemar's exact one-sided p-value that the candidate is worse on the same examples.

    ``broken``: examples the baseline got right and the candidate wrong; ``fixed``: the reverse.
    Under no change each discordant pair is equally likely to go either way, so ``broken`` is
    Binomial(broken + fixed, 1/2); concordant pairs carry no information."""
    if broken < 0 or fixed < 0:
        raise ValueError("counts must not be negative")
    return binomial_tail(broken, broken + fixed)


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input's order: rejecting every
    check whose q-value is at most alpha keeps the expected share of false alarms among the
    rejections at most alpha, for independent or positively dependent tests."""
    count = len(pvalues)
    order = sorted(range(count), key=lambda i: pvalues[i])
    adjusted = [0.0] * count
    running = 1.0
    for rank in range(count, 0, -1):
        index = order[rank - 1]
        running = min(running, pvalues[index] * count / rank)
        adjusted[index] = running
    return adjusted


def packed_outcomes(encoded: str, size: int) -> bytes:
    """Validated per-example outcomes (1 = correct): base64 of the bits packed most
    significant bit first, in example order, as ``numpy.packbits(correct)`` packs them
    (10,000 examples take 1,250 bytes). Raises ValueError when the length does not match
    ``size`` examples or the padding bits after the last example are set."""
    try:
        packed = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ValueError(f"not valid base64: {exc}") from None
    expected = (size + 7) // 8
    if len(packed) != expected:
        raise ValueError(
            f"{len(packed)} bytes hold up to {len(packed) * 8} outcomes, but there are "
            f"{size} examples ({expected} bytes)"
        )
    padding = expected * 8 - size
    if packed and packed[-1] & ((1 << padding) - 1):
        raise ValueError("the padding bits after the last example must be zero")
    return packed


def outcomes_from_bytes(packed: bytes) -> int:
    """Packed outcomes as an integer bit set (the zero padding changes no pair count)."""
    return int.from_bytes(packed, "big")


def decode_outcomes(encoded: str, size: int) -> int:
    """``packed_outcomes`` as an integer bit set, ready for ``discordant_pairs``."""
    return outcomes_from_bytes(packed_outcomes(encoded, size))


def discordant_pairs(base: int, new: int) -> tuple[int, int]:
    """(broken, fixed) between two outcome bit sets over the same examples."""
    return (base & ~new).bit_count(), (~base & new).bit_count()


def _check_rate(rate, n):
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a rate must lie in [0, 1], not {rate}")
    if n < 1:
        raise ValueError(f"a sample size must be at least 1, not {n}")


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (any real df > 0), from the
    regularised incomplete beta function: P(|T| > |t|) = I_x(df/2, 1/2), x = df / (df + t^2)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    if math.isinf(df):
        return normal_sf(t)
    two_sided = _regularised_beta(df / (df + t * t), df / 2, 0.5)
    return two_sided / 2 if t > 0 else 1 - two_sided / 2


def student_t_ppf(p: float, df: float) -> float:
    """The t with P(T <= t) = p, by bisection on ``student_t_sf`` (60 halvings: exact to the
    last digits a double holds; microseconds, called once per replicate set)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), not {p}")
    if p < 0.5:
        return -student_t_ppf(1 - p, df)
    low, high = 0.0, 1.0
    while student_t_sf(high, df) > 1 - p:
        low, high = high, high * 2
    for _ in range(60):
        middle = (low + high) / 2
        if student_t_sf(middle, df) > 1 - p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _regularised_beta(x, a, b):
    """I_x(a, b) (Numerical Recipes, 3rd ed., sec. 6.4: the continued fraction converges
    fast for x < (a + 1) / (a + b + 2), else by the symmetry I_x(a, b) = 1 - I_1-x(b, a))."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
        + b * math.log1p(-x)
    )  # fmt: skip
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x, a, b, tiny=1e-300, epsilon=1e-15):
    """The incomplete beta function's continued fraction by the modified Lentz method."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < epsilon:
            break
    return fraction


def welch_worse_pvalue(
    base: tuple[float, float, int], new: tuple[float, float, int], *, margin: float = 0.0,
    higher_is_better: bool = True,
) -> tuple[float, float, float]:  # fmt: skip
    """One-sided Welch t-test that the new mean is worse than the base mean by more than
    ``margin``; each side is (mean, sample standard deviation, replicates). Answers (p-value,
    t, Welch-Satterthwaite degrees of freedom).

    A side of a single replicate has no spread of its own: it is taken as one draw with the
    other side's seed spread (the only estimate there is), and the degrees of freedom are the
    other side's k - 1, since the whole variance then rests on that one estimate."""
    (base_mean, base_sd, base_k), (new_mean, new_sd, new_k) = base, new
    if base_k < 2 and new_k < 2:
        raise ValueError("a Welch test needs at least one side of two or more replicates")
    if base_k < 2:
        base_sd = new_sd
    if new_k < 2:
        new_sd = base_sd
    base_term, new_term = base_sd**2 / base_k, new_sd**2 / new_k
    variance = base_term + new_term
    if base_k < 2 or new_k < 2:
        df = float(max(base_k, new_k) - 1)
    elif variance > 0:
        df = variance**2 / (base_term**2 / (base_k - 1) + new_term**2 / (new_k - 1))
    else:
        df = float(base_k + new_k - 2)
    worse_by = base_mean - new_mean if higher_is_better else new_mean - base_mean
    excess = worse_by - margin
    if variance <= 0:
        return (0.0 if excess > 0 else 1.0), math.copysign(math.inf, excess), df
    t = excess / math.sqrt(variance)
    return student_t_sf(t, df), t, df

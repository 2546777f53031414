"""The gate's statistics, checked against SciPy's reference implementations."""

import base64
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from trackerclient import stats


@pytest.mark.parametrize("p", [1e-10, 0.001, 0.02, 0.025, 0.3, 0.5, 0.77, 0.975, 0.999, 1 - 1e-9])
def test_normal_quantile_matches_scipy(p):
    assert stats.normal_ppf(p) == pytest.approx(scipy_stats.norm.ppf(p), abs=1e-9)


@pytest.mark.parametrize("z", [-3.0, -0.5, 0.0, 1.2, 4.0])
def test_normal_tail_matches_scipy(z):
    assert stats.normal_sf(z) == pytest.approx(scipy_stats.norm.sf(z), rel=1e-12)


def test_half_point_accuracy_drop_is_noise_on_200_examples_but_significant_on_200000():
    small = stats.proportion_drop_pvalue(0.931, 200, 0.926, 200)
    large = stats.proportion_drop_pvalue(0.931, 200_000, 0.926, 200_000)

    assert small > 0.4
    assert large < 1e-9


def test_proportion_drop_matches_a_pooled_z_test():
    base, new, n1, n2 = 0.90, 0.88, 5000, 4000
    pooled = (base * n1 + new * n2) / (n1 + n2)
    z = (base - new) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))

    assert stats.proportion_drop_pvalue(base, n1, new, n2) == pytest.approx(
        scipy_stats.norm.sf(z), rel=1e-9
    )


def test_direction_decides_what_a_regression_is():
    rise = dict(base_rate=0.10, base_n=10_000, new_rate=0.12, new_n=10_000)

    assert stats.proportion_drop_pvalue(**rise, higher_is_better=True) > 0.99
    assert stats.proportion_drop_pvalue(**rise, higher_is_better=False) < 1e-5


def test_improvement_is_never_significant_as_a_drop():
    assert stats.proportion_drop_pvalue(0.80, 1000, 0.95, 1000) > 0.999


@pytest.mark.parametrize(("rate", "n"), [(0.93, 200), (0.5, 10), (0.0, 50), (1.0, 50)])
def test_wilson_interval_matches_the_formula_with_scipy_quantiles(rate, n):
    z = scipy_stats.norm.ppf(0.975)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))

    low, high = stats.wilson_interval(rate, n)

    assert low == pytest.approx(max(0, centre - half), abs=1e-9)
    assert high == pytest.approx(min(1, centre + half), abs=1e-9)
    assert low <= rate <= high


@pytest.mark.parametrize(("broken", "fixed"), [(0, 0), (5, 0), (12, 4), (30, 30), (3, 40)])
def test_mcnemar_matches_scipy_binomial_test(broken, fixed):
    expected = (
        1.0
        if broken + fixed == 0
        else scipy_stats.binomtest(broken, broken + fixed, 0.5, alternative="greater").pvalue
    )

    assert stats.mcnemar_worse_pvalue(broken, fixed) == pytest.approx(expected, rel=1e-12)


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(7)
    pvalues = list(np.concatenate([rng.uniform(size=45), [1e-5, 2e-4, 0.001, 0.003, 0.02]]))

    adjusted = stats.benjamini_hochberg(pvalues)

    expected = scipy_stats.false_discovery_control(pvalues, method="bh")
    assert adjusted == pytest.approx(list(expected), rel=1e-12)


def test_outcomes_round_trip_through_numpy_packbits():
    rng = np.random.default_rng(3)
    base = rng.uniform(size=10_003) < 0.93
    new = base.copy()
    flip_to_wrong = rng.choice(np.flatnonzero(base), size=40, replace=False)
    flip_to_right = rng.choice(np.flatnonzero(~base), size=15, replace=False)
    new[flip_to_wrong] = False
    new[flip_to_right] = True

    def encode(bits):
        return base64.b64encode(np.packbits(bits).tobytes()).decode()

    decoded_base = stats.decode_outcomes(encode(base), 10_003)
    decoded_new = stats.decode_outcomes(encode(new), 10_003)

    assert decoded_base.bit_count() == int(base.sum())
    assert stats.discordant_pairs(decoded_base, decoded_new) == (40, 15)
    assert len(encode(base[:10_000])) <= 1_700  # about 1.3 kB for 10,000 examples


def test_outcomes_of_the_wrong_length_are_refused():
    packed = base64.b64encode(np.packbits(np.ones(100, dtype=bool)).tobytes()).decode()

    with pytest.raises(ValueError, match="there are 200 examples"):
        stats.decode_outcomes(packed, 200)
    with pytest.raises(ValueError, match="padding"):
        stats.decode_outcomes(packed, 97)
    with pytest.raises(ValueError, match="base64"):
        stats.decode_outcomes("not base64!", 100)


def exact_tails(n):
    """P(X >= k) for every k in 0..n, X ~ Binomial(n, 1/2), summed in integers."""
    coefficients = [math.comb(n, 0)]
    for i in range(n):
        coefficients.append(coefficients[-1] * (n - i) // (i + 1))
    tails, running = [0] * (n + 2), 0
    for k in range(n, -1, -1):
        running += coefficients[k]
        tails[k] = running
    return [tail / 2**n for tail in tails]


@pytest.mark.parametrize("n", [1, 2, 7, 64, 999, 1000, 1001, 1024, 1777, 2500, 4999, 5000])
def test_binomial_tail_matches_the_exact_integer_sum(n):
    tails = exact_tails(n)
    ks = sorted({*range(0, n + 2, max(1, n // 150)), *range(n // 2 - 40, n // 2 + 40),
                 *range(n - 5, n + 2), 1, 2})  # fmt: skip

    for k in (k for k in ks if 0 <= k <= n + 1):
        expected, got = tails[k], stats.binomial_tail(k, n)
        if expected >= 1e-300:
            assert got == pytest.approx(expected, rel=1e-9, abs=0), (k, n)
        else:  # far in the tail: 0, or as small as the exact value
            assert got <= 1e-300, (k, n, got, expected)


@pytest.mark.parametrize("n", [10_000, 40_000, 100_000, 1_000_000, 10_000_000, 12_345_677])
def test_binomial_tail_matches_scipy_at_large_counts_down_to_1e_300(n):
    sigma = math.sqrt(n) / 2
    smallest = 1.0
    for offset in (-30, -5, -1, -0.2, 0, 0.5, 1, 2, 3, 5, 8, 13, 21, 30, 34, 36):
        k = round(n / 2 + offset * sigma)
        expected = scipy_stats.binom.sf(k - 1, n, 0.5)

        assert stats.binomial_tail(k, n) == pytest.approx(expected, rel=1e-9, abs=0), (k, n)
        smallest = min(smallest, expected)
    assert smallest < 1e-250  # the grid reached the far tail


@pytest.mark.parametrize("n", [10_000, 1_000_000, 10_000_000])
def test_binomial_tail_underflows_to_zero_beyond_the_smallest_float(n):
    k = round(n / 2 + 40 * math.sqrt(n) / 2)  # tail about 1e-350

    assert scipy_stats.binom.sf(k - 1, n, 0.5) == 0.0
    assert stats.binomial_tail(k, n) == 0.0
    assert stats.binomial_tail(n, n) == 0.0
    assert stats.binomial_tail(1, n) == 1.0
    assert stats.binomial_tail(n + 1, n) == 0.0


@pytest.mark.parametrize(("broken", "fixed"), [(20_400, 19_600), (21_000, 19_000), (19_900, 20_100),
                                               (600_000, 400_000), (500_010, 499_990)])  # fmt: skip
def test_mcnemar_matches_scipy_binomial_test_at_large_counts(broken, fixed):
    expected = scipy_stats.binomtest(broken, broken + fixed, 0.5, alternative="greater").pvalue

    assert stats.mcnemar_worse_pvalue(broken, fixed) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("t", "df"),
    [(0.0, 1), (0.5, 3), (2.3, 1), (-1.2, 7.3), (10.0, 2.5), (40.0, 200), (3.0, 0.5), (1.5, 1e4),
     (-30.0, 2)],
)  # fmt: skip
def test_student_t_tail_matches_scipy(t, df):
    assert stats.student_t_sf(t, df) == pytest.approx(scipy_stats.t.sf(t, df), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("p", "df"), [(0.975, 1), (0.975, 2), (0.975, 999), (0.6, 3.3), (0.01, 4)])
def test_student_t_quantile_matches_scipy(p, df):
    assert stats.student_t_ppf(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9)


@pytest.mark.parametrize(
    ("base", "new", "higher"),
    [([0.91, 0.92, 0.915], [0.90, 0.895, 0.905, 0.9], True),
     ([0.91, 0.92], [0.93, 0.925, 0.94], True),
     ([41.0, 44.5, 40.2, 43.1], [47.0, 45.2, 49.9], False)],
)  # fmt: skip
def test_welch_matches_scipy(base, new, higher):
    p, t, df = stats.welch_worse_pvalue(
        (np.mean(base), np.std(base, ddof=1), len(base)),
        (np.mean(new), np.std(new, ddof=1), len(new)),
        higher_is_better=higher,
    )
    reference = scipy_stats.ttest_ind(
        base, new, equal_var=False, alternative="greater" if higher else "less"
    )
    assert p == pytest.approx(reference.pvalue, rel=1e-9)
    assert abs(t) == pytest.approx(abs(reference.statistic))
    assert df == pytest.approx(reference.df)


def test_welch_takes_a_single_run_as_one_draw_with_the_sets_spread():
    p, t, df = stats.welch_worse_pvalue((0.91, 0.01, 4), (0.88, 0.0, 1))
    assert df == 3
    assert t == pytest.approx(0.03 / math.sqrt(0.01**2 / 4 + 0.01**2))
    assert p == pytest.approx(scipy_stats.t.sf(t, 3), rel=1e-9)

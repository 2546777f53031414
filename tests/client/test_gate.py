"""Gate verdicts: each rule kind in both directions, budgets, many comparisons, paired tests."""

import base64

import numpy as np
import pytest

from trackerclient import stats
from trackerclient.gate import Baseline, Result, Rule, evaluate

LOWER = "lower_is_better"


def baseline(*results, dataset_version="v1"):
    return Baseline(version="1.3.0", dataset_version=dataset_version,
                    results={r.key: r for r in results})  # fmt: skip


def verdict(candidate, base=None, rules=(), dataset_version="v1"):
    return evaluate(
        candidate=list(candidate), baseline=base, rules=list(rules), dataset="holdout",
        dataset_version=dataset_version,
    )  # fmt: skip


def only(checks, rule):
    found = [check for check in checks if check.rule == rule]
    assert len(found) == 1, checks
    return found[0]


def test_no_baseline_and_no_rules_is_no_baseline():
    result = verdict([Result("accuracy", 0.9)])

    assert (result.status, result.checks) == ("no_baseline", [])


@pytest.mark.parametrize(
    ("value", "rule", "status"),
    [
        (0.91, Rule("accuracy", min=0.90), "passed"),
        (0.89, Rule("accuracy", min=0.90), "failed"),
        (0.90, Rule("accuracy", min=0.90), "passed"),
        (119.0, Rule("latency_p99_ms", max=120), "passed"),
        (121.0, Rule("latency_p99_ms", max=120), "failed"),
    ],
)
def test_absolute_floor_and_ceiling_apply_without_a_baseline(value, rule, status):
    direction = LOWER if rule.metric.startswith("latency") else "higher_is_better"

    result = verdict([Result(rule.metric, value, direction)], rules=[rule])

    assert result.status == status
    assert only(result.checks, "min" if rule.min is not None else "max").status == status


@pytest.mark.parametrize(
    ("direction", "base_value", "new_value", "status"),
    [
        ("higher_is_better", 0.931, 0.925, "passed"),  # 0.6 points down, 1 allowed
        ("higher_is_better", 0.931, 0.915, "failed"),  # 1.6 points down
        ("higher_is_better", 0.931, 0.990, "passed"),  # better
        (LOWER, 40.0, 40.9, "passed"),  # 0.9 ms slower, 1 allowed
        (LOWER, 40.0, 41.5, "failed"),  # 1.5 ms slower
        (LOWER, 40.0, 30.0, "passed"),  # faster
    ],
)
def test_max_drop_respects_the_direction(direction, base_value, new_value, status):
    allowed = 0.01 if direction == "higher_is_better" else 1.0
    rules = [Rule("m", max_drop=allowed)]

    result = verdict(
        [Result("m", new_value, direction)], baseline(Result("m", base_value, direction)), rules
    )

    assert result.status == status
    check = only(result.checks, "max_drop")
    assert check.baseline == base_value
    assert check.delta == pytest.approx(new_value - base_value)


def test_max_drop_message_reads_like_a_sentence():
    result = verdict(
        [Result("accuracy", 0.912, n=10000)],
        baseline(Result("accuracy", 0.931, n=10000)),
        [Rule("accuracy", max_drop=0.01)],
    )

    assert only(result.checks, "max_drop").message == (
        "accuracy 0.912 < baseline 0.931 - 0.01 on holdout (n=10000)"
    )


@pytest.mark.parametrize(
    ("direction", "new_value", "status"),
    [("higher_is_better", 0.95, "passed"), ("higher_is_better", 0.94, "failed"),
     (LOWER, 1.04, "passed"), (LOWER, 1.06, "failed")],
)  # fmt: skip
def test_max_drop_pct_is_relative_to_the_baseline(direction, new_value, status):
    base_value = 1.0
    rules = [Rule("m", max_drop_pct=5)]

    result = verdict(
        [Result("m", new_value, direction)], baseline(Result("m", base_value, direction)), rules
    )

    assert result.status == status


def test_half_point_drop_passes_on_200_examples_and_fails_on_200000():
    rule = [Rule("accuracy", significance=0.05)]

    def run(n):
        return verdict(
            [Result("accuracy", 0.926, n=n)], baseline(Result("accuracy", 0.931, n=n)), rule
        )

    small, large = run(200), run(200_000)

    assert small.status == "passed"
    assert only(small.checks, "significance").p_value > 0.4
    assert large.status == "failed"
    assert only(large.checks, "significance").p_value < 1e-9
    assert "two-proportion z-test" in only(large.checks, "significance").message


def test_non_inferiority_with_significance_tolerates_a_drop_within_the_margin():
    rule = [Rule("accuracy", max_drop=0.01, significance=0.05)]
    base = baseline(Result("accuracy", 0.931, n=200_000))

    within = verdict([Result("accuracy", 0.926, n=200_000)], base, rule)
    beyond = verdict([Result("accuracy", 0.915, n=200_000)], base, rule)

    assert within.status == "passed"
    assert beyond.status == "failed"
    assert only(beyond.checks, "max_drop").limit == pytest.approx(0.921)


def test_significance_from_posted_intervals():
    rule = [Rule("bleu", significance=0.05)]
    base = baseline(Result("bleu", 31.0, ci_low=30.5, ci_high=31.5))

    clear = verdict([Result("bleu", 29.0, ci_low=28.5, ci_high=29.5)], base, rule)
    overlapping = verdict([Result("bleu", 30.8, ci_low=30.1, ci_high=31.5)], base, rule)

    assert clear.status == "failed"
    assert overlapping.status == "passed"
    assert only(clear.checks, "significance").method == "z-test from 95% intervals"


def test_significance_without_any_evidence_is_insufficient_and_does_not_fail():
    result = verdict(
        [Result("bleu", 20.0)], baseline(Result("bleu", 31.0)), [Rule("bleu", significance=0.05)]
    )

    assert result.status == "passed"
    assert only(result.checks, "significance").status == "insufficient"


def test_budget_fails_once_small_steps_add_up():
    anchor = {("accuracy", "overall"): 0.931}
    rule = Rule("accuracy", max_drop=0.005, budget=0.012, anchor=anchor, anchor_version="1.0.0")
    value, statuses = 0.931, []
    previous = 0.931
    for _ in range(10):
        value -= 0.002  # every release 0.2 points below the one before
        result = verdict(
            [Result("accuracy", value)], baseline(Result("accuracy", previous)), [rule]
        )
        statuses.append(
            (only(result.checks, "max_drop").status, only(result.checks, "budget").status)
        )
        previous = value

    assert all(step == "passed" for step, _ in statuses)
    assert [budget for _, budget in statuses] == ["passed"] * 6 + ["failed"] * 4
    final = only(result.checks, "budget")
    assert final.budget_used == pytest.approx(0.02 / 0.012)
    assert "since 1.0.0" in final.message


def test_budget_for_lower_is_better_counts_rises():
    rule = Rule("latency_p99_ms", budget=10, anchor={("latency_p99_ms", "overall"): 100.0})

    ok = verdict([Result("latency_p99_ms", 109, LOWER)], rules=[rule])
    over = verdict([Result("latency_p99_ms", 111, LOWER)], rules=[rule])

    assert (ok.status, over.status) == ("passed", "failed")


def test_fifty_metric_suites_with_no_real_change_rarely_fail_thanks_to_fdr():
    rng = np.random.default_rng(11)
    n, suites = 2000, 100
    failed_suites = suites_with_a_raw_p_below_alpha = 0
    for _ in range(suites):
        base_rates = rng.binomial(n, 0.8, size=50) / n
        new_rates = rng.binomial(n, 0.8, size=50) / n
        result = verdict(
            [Result("accuracy", float(v), slice=f"s{i}", n=n) for i, v in enumerate(new_rates)],
            baseline(
                *[
                    Result("accuracy", float(v), slice=f"s{i}", n=n)
                    for i, v in enumerate(base_rates)
                ]
            ),
            [Rule("accuracy", significance=0.05)],
        )
        failed_suites += result.status == "failed"
        suites_with_a_raw_p_below_alpha += any(c.p_value <= 0.05 for c in result.checks)

    # With every metric unchanged, BH keeps the chance that a suite fails at about alpha;
    # judged one p-value at a time, most suites of 50 metrics would fail by chance.
    assert failed_suites <= 10
    assert suites_with_a_raw_p_below_alpha >= 80


def test_a_real_drop_among_fifty_metrics_still_fails():
    base = [Result("accuracy", 0.80, slice=f"s{i}", n=50_000) for i in range(50)]
    new = [Result("accuracy", 0.80, slice=f"s{i}", n=50_000) for i in range(49)]
    new.append(Result("accuracy", 0.78, slice="s49", n=50_000))

    result = verdict(new, baseline(*base), [Rule("accuracy", significance=0.05)])

    assert result.status == "failed"
    assert [c.slice for c in result.checks if c.status == "failed"] == ["s49"]


def outcomes(bits):
    return stats.decode_outcomes(base64.b64encode(np.packbits(bits).tobytes()).decode(), len(bits))


def test_mcnemar_on_paired_outcomes_finds_what_unpaired_sizes_miss():
    rng = np.random.default_rng(5)
    base_bits = rng.uniform(size=2000) < 0.9
    new_bits = base_bits.copy()
    new_bits[rng.choice(np.flatnonzero(base_bits), size=14, replace=False)] = False
    base_rate, new_rate = base_bits.mean(), new_bits.mean()
    rule = [Rule("accuracy", significance=0.05)]

    paired = verdict(
        [Result("accuracy", new_rate, n=2000, outcomes=outcomes(new_bits))],
        baseline(Result("accuracy", base_rate, n=2000, outcomes=outcomes(base_bits))), rule,
    )  # fmt: skip
    unpaired = verdict(
        [Result("accuracy", new_rate, n=2000)],
        baseline(Result("accuracy", base_rate, n=2000)),
        rule,
    )

    assert only(paired.checks, "significance").method == "McNemar 14 vs 0"
    assert paired.status == "failed"
    assert unpaired.status == "passed"


def test_missing_metric_fails():
    base = baseline(Result("accuracy", 0.9), Result("f1", 0.8, slice="country=DE"))

    result = verdict([Result("accuracy", 0.9)], base, [Rule("accuracy", max_drop=0.01)])

    assert result.status == "failed"
    missing = only(result.checks, "missing")
    assert (missing.metric, missing.slice) == ("f1", "country=DE")
    assert "missing" in missing.message


def test_other_dataset_version_is_not_comparable_and_names_both():
    base = baseline(Result("accuracy", 0.95), dataset_version="2024-06")

    result = verdict(
        [Result("accuracy", 0.5)],
        base,
        [Rule("accuracy", max_drop=0.01)],
        dataset_version="2024-09",
    )

    check = only(result.checks, "max_drop")
    assert check.status == "not_comparable"
    assert "2024-06" in check.message and "2024-09" in check.message
    assert result.status == "passed"


def test_the_baseline_version_passes_trivially():
    result = evaluate(
        candidate=[Result("accuracy", 0.1)], baseline=baseline(Result("accuracy", 0.9)),
        rules=[Rule("accuracy", max_drop=0.01)], is_baseline=True,
    )  # fmt: skip

    assert result.status == "passed"


def test_default_rule_is_significance_at_five_percent():
    base = baseline(Result("accuracy", 0.931, n=200_000))

    result = verdict([Result("accuracy", 0.926, n=200_000)], base)

    assert result.status == "failed"
    assert only(result.checks, "significance").alpha == 0.05


def test_rule_for_one_slice_leaves_other_slices_to_the_default():
    base = baseline(Result("f1", 0.8, slice="country=DE"), Result("f1", 0.8, slice="country=FR"))
    rules = [Rule("f1", slice="country=DE", max_drop=0.5)]

    result = verdict(
        [Result("f1", 0.1, slice="country=DE"), Result("f1", 0.1, slice="country=FR")], base, rules
    )

    by_slice = {(c.slice, c.rule): c.status for c in result.checks}
    assert by_slice[("country=DE", "max_drop")] == "failed"
    assert by_slice[("country=FR", "significance")] == "insufficient"


def test_budget_is_not_counted_across_dataset_versions():
    rule = Rule("accuracy", budget=0.01, anchor={("accuracy", "overall"): 0.95})
    base = baseline(Result("accuracy", 0.95), dataset_version="2024-06")

    result = verdict([Result("accuracy", 0.5)], base, [rule], dataset_version="2024-09")

    assert only(result.checks, "budget").status == "not_comparable"
    assert result.status == "passed"


def hanley_mcneil_se(auc, n_pos, n_neg):
    """Hanley & McNeil (1982), eq. 2, written out again independently of trackerclient."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return np.sqrt(
        (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2))
        / (n_pos * n_neg)
    )


def test_auc_standard_error_matches_hanley_mcneils_worked_figure():
    # A = 0.9, 50 positives, 50 negatives, by hand: Q1 = 0.9 / 1.1 = 0.81818,
    # Q2 = 1.62 / 1.9 = 0.85263; variance = (0.09 + 49 * 0.00818 + 49 * 0.04263) / 2500
    # = 0.0010319, so SE = 0.03212.
    assert stats.auc_standard_error(0.9, 50, 50) == pytest.approx(0.03212, abs=5e-6)
    for auc, n_pos, n_neg in [(0.75, 120, 880), (0.93, 2000, 8000), (0.5, 10, 10)]:
        assert stats.auc_standard_error(auc, n_pos, n_neg) == pytest.approx(
            hanley_mcneil_se(auc, n_pos, n_neg), rel=1e-12
        )


def test_a_small_auc_gain_with_only_a_sample_size_is_insufficient_not_significant():
    base = Result("auc_roc", 0.912, n=10_000)
    new = Result("auc_roc", 0.909, n=10_000)

    result = verdict([new], baseline(base))

    check = only(result.checks, "significance")
    assert (result.status, check.status, check.p_value) == ("passed", "insufficient", None)
    assert "an AUC is not a proportion" in check.message


def test_auc_is_tested_by_hanley_mcneil_from_positives_and_negatives():
    base = Result("auc_roc", 0.912, n_pos=500, n_neg=9500)
    new = Result("auc_roc", 0.909, n_pos=500, n_neg=9500)

    check = only(verdict([new], baseline(base)).checks, "significance")

    variance = hanley_mcneil_se(0.912, 500, 9500) ** 2 + hanley_mcneil_se(0.909, 500, 9500) ** 2
    expected = stats.normal_sf(0.003 / np.sqrt(variance))
    assert (check.method, check.status) == ("Hanley-McNeil z-test", "passed")
    assert check.p_value == pytest.approx(expected, rel=1e-9)
    assert check.p_value > 0.3  # a proportion test on n=10000 called this p<0.0001


def test_auc_with_intervals_is_tested_on_the_intervals():
    base = Result("auc_roc", 0.912, ci_low=0.902, ci_high=0.922)
    new = Result("auc_roc", 0.880, ci_low=0.870, ci_high=0.890)

    check = only(verdict([new], baseline(base)).checks, "significance")

    assert (check.method, check.status) == ("z-test from 95% intervals", "failed")


@pytest.mark.parametrize(
    "metric", ["f1", "bleu", "rouge_l", "ndcg_at_10", "perplexity", "mae", "latency_p95", "val_acc"]
)
def test_metrics_that_are_not_proportions_get_no_proportion_test(metric):
    direction = (
        "lower_is_better" if metric in ("perplexity", "mae", "latency_p95") else "higher_is_better"
    )
    base = Result(metric, 0.5, direction, n=100_000)
    new = Result(metric, 0.6 if direction == LOWER else 0.4, direction, n=100_000)

    check = only(verdict([new], baseline(base)).checks, "significance")

    assert (check.status, check.method) == ("insufficient", None)
    assert "not a proportion" in check.message


@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "error_rate"])
def test_declared_proportions_keep_the_two_proportion_test(metric):
    direction = LOWER if metric == "error_rate" else "higher_is_better"
    base = Result(metric, 0.20 if direction == LOWER else 0.80, direction, n=10_000)
    new = Result(metric, 0.22 if direction == LOWER else 0.78, direction, n=10_000)

    check = only(verdict([new], baseline(base)).checks, "significance")

    assert (check.method, check.status) == ("two-proportion z-test", "failed")


def test_outcomes_of_a_metric_that_is_not_a_proportion_are_not_paired_tested():
    bits = np.ones(1000, dtype=bool)
    worse = bits.copy()
    worse[:100] = False
    base = Result("f1", 0.9, n=1000, outcomes=outcomes(bits))
    new = Result("f1", 0.8, n=1000, outcomes=outcomes(worse))

    check = only(verdict([new], baseline(base)).checks, "significance")

    assert check.status == "insufficient"

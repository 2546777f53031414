"""The regression gate: a candidate version's results against a baseline and threshold rules.

Pure and standard-library only: the server answers every post with ``evaluate(...)`` and the CI
client runs the same function offline against a committed baseline file.

Rules (any combination per metric, optionally narrowed to a slice):
- ``min`` / ``max``: absolute floor or ceiling on the value.
- ``max_drop`` / ``max_drop_pct``: non-inferiority, how much worse than the baseline the
  candidate may be, in the metric's units or in percent of the baseline value.
- ``significance`` (alpha): fail only when the drop beyond the allowed margin (0 without
  ``max_drop``) is statistically significant. The test fits the metric
  (``metric_catalog.test_for``): for a proportion, McNemar's exact test when both versions
  posted per-example outcomes on the same dataset version (and the margin is 0), else a
  two-proportion z-test when both have sample sizes; for AUC-ROC, a z-test on posted
  intervals, else on Hanley-McNeil standard errors from the numbers of positives and
  negatives; for any metric, a z-test on the standard errors implied by posted 95% intervals.
  Without what its test needs a check is ``insufficient``, never a proportion test of a metric
  that is not a proportion. Across all significance checks of one
  evaluation, p-values are adjusted with Benjamini-Hochberg, so a large suite does not fail by
  chance; a check fails when its adjusted p-value (q) is at most its alpha.
- ``budget``: the total erosion allowed since the rule's anchor (the baseline when the budget
  started), so many small steps that each pass still fail once their sum passes the budget.

Directions are respected everywhere: for lower-is-better metrics a rise is the regression.
With no rule for a metric, the default is a significance rule at alpha 0.05 (see
``DEFAULT_ALPHA``): only a statistically clear drop fails. A metric the baseline has and the
candidate lacks fails. Results on another dataset version than the baseline's are never
compared: their checks say ``not_comparable``.
"""

import math
from dataclasses import dataclass, field

from . import metric_catalog, stats

HIGHER = "higher_is_better"
DEFAULT_ALPHA = 0.05
Z_95 = 1.959963984540054

PASSED, FAILED, INSUFFICIENT, NOT_COMPARABLE = "passed", "failed", "insufficient", "not_comparable"


@dataclass(frozen=True)
class Result:
    """One metric result of a version, on one slice."""

    metric: str
    value: float
    direction: str = HIGHER
    slice: str = "overall"
    n: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    outcomes: int | None = None  # per-example outcomes, see stats.decode_outcomes
    # Positives and negatives an AUC-ROC was measured on, for Hanley-McNeil's standard error.
    n_pos: int | None = None
    n_neg: int | None = None
    # A replicate set (trackerclient.replicates): value is the seeds' mean, sd their spread.
    replicates: int = 1
    sd: float | None = None

    @property
    def key(self):
        return (self.metric, self.slice)


@dataclass(frozen=True)
class Rule:
    metric: str
    slice: str | None = None  # None: every slice of the metric
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_drop_pct: float | None = None
    significance: float | None = None
    budget: float | None = None
    # The values the budget is counted from, by (metric, slice), and their version.
    anchor: dict = field(default_factory=dict, compare=False)
    anchor_version: str | None = None

    def applies_to(self, key):
        return self.metric == key[0] and self.slice in (None, key[1])


@dataclass
class Check:
    metric: str
    slice: str
    rule: str  # min, max, max_drop, max_drop_pct, significance, budget, missing
    status: str
    message: str
    value: float | None = None
    baseline: float | None = None
    limit: float | None = None
    delta: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    method: str | None = None
    budget_used: float | None = None
    alpha: float | None = None
    # Seeds averaged on each side and their spreads, when a replicate set was compared.
    replicates: int | None = None
    baseline_replicates: int | None = None
    sd: float | None = None
    baseline_sd: float | None = None
    # (result, baseline result, margin, dataset) for the message written after adjustment.
    context: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def passed(self):
        return self.status != FAILED


@dataclass
class Verdict:
    status: str  # passed, failed, no_baseline
    checks: list[Check]


@dataclass(frozen=True)
class Baseline:
    version: str
    dataset_version: str
    results: dict  # (metric, slice) -> Result


def evaluate(*, candidate, baseline, rules, dataset="", dataset_version="", is_baseline=False):
    """The verdict on ``candidate`` (a list of Result) given ``baseline`` (a Baseline or None)
    and ``rules`` (a list of Rule)."""
    results = {result.key: result for result in candidate}
    if is_baseline:
        return Verdict(PASSED, [])
    checks = []
    by_metric = {}  # a suite has a thousand results and a few rules: look them up by metric
    for rule in rules:
        by_metric.setdefault(rule.metric, []).append(rule)
    for key, result in sorted(results.items()):
        matching = [rule for rule in by_metric.get(key[0], ()) if rule.applies_to(key)]
        base = baseline.results.get(key) if baseline else None
        for rule in matching or ([Rule(metric=key[0], significance=DEFAULT_ALPHA)] if base else []):
            checks += _checks_for(rule, result, base, dataset, dataset_version, baseline)
    if baseline is not None:
        for key, base in sorted(baseline.results.items()):
            if key not in results:
                checks.append(_missing(base, dataset))
    _adjust_for_many_comparisons(checks)
    if baseline is None and not checks:
        return Verdict("no_baseline", [])
    failed = any(check.status == FAILED for check in checks)
    return Verdict(FAILED if failed else PASSED, checks)


def _checks_for(rule, result, base, dataset, dataset_version, baseline):
    comparable = baseline is None or baseline.dataset_version == dataset_version
    checks = []
    if rule.min is not None:
        checks.append(_bound(result, rule.min, "min", result.value >= rule.min, "<"))
    if rule.max is not None:
        checks.append(_bound(result, rule.max, "max", result.value <= rule.max, ">"))
    relative = [
        (kind, limit)
        for kind, limit in (("max_drop", rule.max_drop), ("max_drop_pct", rule.max_drop_pct))
        if limit is not None
    ]
    if rule.significance is not None and not relative:
        relative = [("significance", None)]
    for kind, limit in relative:
        if base is None:
            continue
        if not comparable:
            checks.append(_not_comparable(result, kind, dataset, dataset_version, baseline))
        else:
            checks.append(_drop_check(result, base, kind, limit, rule.significance, dataset))
    if rule.budget is not None:
        if comparable:
            checks.append(_budget_check(result, rule, dataset))
        else:
            checks.append(_not_comparable(result, "budget", dataset, dataset_version, baseline))
    return checks


def _bound(result, limit, kind, ok, sign):
    unit_word = "floor" if kind == "min" else "ceiling"
    message = (
        f"{_name(result)} {_fmt(result.value)} {'meets' if ok else sign} {unit_word} {_fmt(limit)}"
    )
    return Check(
        metric=result.metric, slice=result.slice, rule=kind, status=PASSED if ok else FAILED,
        message=message, value=result.value, limit=limit, delta=result.value - limit,
    )  # fmt: skip


def drop(base_value, new_value, direction):
    """How much worse the new value is (positive = worse) given the direction."""
    return base_value - new_value if direction == HIGHER else new_value - base_value


def _drop_check(result, base, kind, limit, alpha, dataset):
    margin = 0.0 if kind == "significance" else limit
    if kind == "max_drop_pct":
        margin = abs(base.value) * limit / 100
    worse_by = drop(base.value, result.value, result.direction)
    check = Check(
        metric=result.metric, slice=result.slice, rule=kind, status=PASSED, message="",
        value=result.value, baseline=base.value, delta=result.value - base.value,
        limit=_limit_value(base.value, margin, result.direction), alpha=alpha,
        context=(result, base, margin, dataset),
    )  # fmt: skip
    if result.replicates > 1 or base.replicates > 1:
        check.replicates, check.baseline_replicates = result.replicates, base.replicates
        check.sd, check.baseline_sd = result.sd, base.sd
    if alpha is None:
        check.status = FAILED if worse_by > margin + 1e-12 else PASSED
        check.message = _drop_message(check)
        return check
    tested = drop_test(base, result, margin)
    if tested is None:
        check.status = INSUFFICIENT
        check.message = (
            f"{_name(result)} {_fmt(result.value)} vs baseline {_fmt(base.value)} on {dataset}: "
            f"{_NOT_TESTABLE[metric_catalog.test_for(result.metric)]}"
        )
        return check
    check.p_value, check.method = tested
    # Status and message follow once every p-value of the evaluation is adjusted.
    return check


# Why a check could not be tested, by the tests its metric admits.
_NOT_TESTABLE = {
    metric_catalog.PROPORTION: "no sample sizes, intervals or outcomes to test significance",
    metric_catalog.AUC: "an AUC is not a proportion: no 95% intervals, or numbers of positives "
    "and negatives, to test significance",
    metric_catalog.INTERVAL_ONLY: "not a proportion: no 95% intervals to test significance",
}


def drop_test(base, new, margin=0.0):
    """(p-value, method) for "new is worse than base by more than margin", or None when the
    two results lack what the metric's test needs."""
    if new.replicates > 1 or base.replicates > 1:
        return _welch_test(base, new, margin)
    test = metric_catalog.test_for(new.metric)
    if test == metric_catalog.PROPORTION:
        tested = _proportion_test(base, new, margin)
        if tested is not None:
            return tested
    if None not in (base.ci_low, base.ci_high, new.ci_low, new.ci_high):
        variance = _interval_se(base) ** 2 + _interval_se(new) ** 2
        return _z_pvalue(drop(base.value, new.value, new.direction) - margin, variance), (
            "z-test from 95% intervals"
        )
    if test == metric_catalog.AUC and None not in (base.n_pos, base.n_neg, new.n_pos, new.n_neg):
        # Treated as independent: the same examples correlate the two AUCs positively, which
        # makes this variance an overestimate and the test conservative.
        variance = (
            stats.auc_standard_error(base.value, base.n_pos, base.n_neg) ** 2
            + stats.auc_standard_error(new.value, new.n_pos, new.n_neg) ** 2
        )
        return _z_pvalue(drop(base.value, new.value, new.direction) - margin, variance), (
            "Hanley-McNeil z-test"
        )
    return None


def _welch_test(base, new, margin):
    """Welch's t-test of two replicate sets (or of one and a single run, taken as one draw
    with the set's spread)."""
    p, _, df = stats.welch_worse_pvalue(
        (base.value, base.sd or 0.0, base.replicates),
        (new.value, new.sd or 0.0, new.replicates),
        margin=margin,
        higher_is_better=new.direction == HIGHER,
    )
    return p, f"Welch t-test, {new.replicates} vs {base.replicates} seeds, df={df:.3g}"


def _proportion_test(base, new, margin):
    """McNemar on paired outcomes, else a (non-inferiority) z-test of two proportions."""
    if margin == 0 and base.outcomes is not None and new.outcomes is not None:
        broken, fixed = stats.discordant_pairs(base.outcomes, new.outcomes)
        return stats.mcnemar_worse_pvalue(broken, fixed), f"McNemar {broken} vs {fixed}"
    if not (base.n and new.n and 0 <= base.value <= 1 and 0 <= new.value <= 1):
        return None
    if margin == 0:
        higher = new.direction == HIGHER
        p = stats.proportion_drop_pvalue(
            base.value, base.n, new.value, new.n, higher_is_better=higher
        )
        return p, "two-proportion z-test"
    variance = base.value * (1 - base.value) / base.n + new.value * (1 - new.value) / new.n
    return _z_pvalue(drop(base.value, new.value, new.direction) - margin, variance), (
        "non-inferiority z-test"
    )


def _interval_se(result):
    return (result.ci_high - result.ci_low) / (2 * Z_95)


def _z_pvalue(excess, variance):
    if variance <= 0:
        return 0.0 if excess > 0 else 1.0
    return stats.normal_sf(excess / math.sqrt(variance))


def _adjust_for_many_comparisons(checks):
    tested = [check for check in checks if check.p_value is not None]
    qvalues = stats.benjamini_hochberg([check.p_value for check in tested])
    for check, q in zip(tested, qvalues, strict=True):
        check.q_value = q
        check.status = FAILED if q <= check.alpha else PASSED
        adjusted = f", q={_fmt_p(q)} over {len(tested)} tests" if len(tested) > 1 else ""
        check.message = _drop_message(
            check, f"{check.method}, p={_fmt_p(check.p_value)}{adjusted}, alpha={check.alpha}"
        )


def _budget_check(result, rule, dataset):
    anchor = rule.anchor.get(result.key)
    if anchor is None:
        return Check(
            metric=result.metric, slice=result.slice, rule="budget", status=INSUFFICIENT,
            message=f"{_name(result)}: no anchor value to count the budget of {_fmt(rule.budget)} "
            "from",
            value=result.value, limit=rule.budget,
        )  # fmt: skip
    erosion = max(0.0, drop(anchor, result.value, result.direction))
    used = erosion / rule.budget if rule.budget > 0 else (math.inf if erosion > 0 else 0.0)
    ok = erosion <= rule.budget + 1e-12
    since = f" since {rule.anchor_version}" if rule.anchor_version else ""
    message = (
        f"{_name(result)} {_fmt(result.value)} has eroded {_fmt(erosion)} of a budget of "
        f"{_fmt(rule.budget)}{since} ({used:.0%} used) on {dataset}"
    )
    return Check(
        metric=result.metric, slice=result.slice, rule="budget", status=PASSED if ok else FAILED,
        message=message, value=result.value, baseline=anchor, limit=rule.budget,
        delta=result.value - anchor, budget_used=used,
    )  # fmt: skip


def _missing(base, dataset):
    return Check(
        metric=base.metric, slice=base.slice, rule="missing", status=FAILED,
        message=f"{_name(base)} is in the baseline but missing from this run on {dataset}",
        baseline=base.value,
    )  # fmt: skip


def _not_comparable(result, kind, dataset, dataset_version, baseline):
    return Check(
        metric=result.metric, slice=result.slice, rule=kind, status=NOT_COMPARABLE,
        message=f"{_name(result)}: this run is on {dataset}@{dataset_version or '(unversioned)'}"
        f", the baseline {baseline.version} on {dataset}@"
        f"{baseline.dataset_version or '(unversioned)'}; not compared",
        value=result.value,
    )  # fmt: skip


def _limit_value(base_value, margin, direction):
    return base_value - margin if direction == HIGHER else base_value + margin


def _drop_message(check, test=""):
    """ "accuracy 0.912 < baseline 0.931 - 0.01 on holdout (n=10000, <test>)" """
    result, base, margin, dataset = check.context
    higher = result.direction == HIGHER
    worse = check.status == FAILED
    relation = ("<" if higher else ">") if worse else (">=" if higher else "<=")
    allowed = f" {'-' if higher else '+'} {_fmt(margin)}" if margin else ""
    details = [f"n={result.n}"] if result.n else []
    if check.replicates is not None:
        details.append(f"{_seeds(result)} vs {_seeds(base)}")
    if check.rule == "max_drop_pct":
        details.append(f"{_fmt(margin / abs(base.value) * 100)}% allowed")
    if test:
        details.append(test)
    suffix = f" ({', '.join(details)})" if details else ""
    return (
        f"{_name(result)} {_fmt(result.value)} {relation} baseline {_fmt(base.value)}{allowed}"
        f" on {dataset}{suffix}"
    )


def _seeds(result):
    """ "mean of 3 seeds ± 0.004" for a replicate set, "1 run" for a single run."""
    if result.replicates < 2:
        return "1 run"
    return f"mean of {result.replicates} seeds ± {_fmt(result.sd)}"


def _name(result):
    return result.metric if result.slice == "overall" else f"{result.metric}[{result.slice}]"


def _fmt(value):
    return f"{value:.4g}" if value is not None else "—"


def _fmt_p(p):
    return f"{p:.2g}"

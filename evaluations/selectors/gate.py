"""Reads for the regression gate: baselines (pins), rules, stored results, comparisons."""

from collections import OrderedDict
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.http import Http404

from evaluations.models import (
    BaselinePin,
    Branch,
    ChangeMark,
    EvaluationDataset,
    EvaluationRun,
    MetricDefinition,
    MetricResult,
    ModelVersion,
    Series,
    ThresholdRule,
)
from trackerclient import gate, stats

from .replicates import values_as_sets, with_replicate_sets


def pins_for(*, model, dataset_name, branch):
    """The baseline's history on a dataset and branch, newest first (the first is the
    baseline)."""
    return (
        BaselinePin.objects.filter(model=model, dataset_name=dataset_name, branch__name=branch)
        .select_related("model_version", "run__dataset", "branch")
        .order_by("-pinned_at", "-id")
    )


def current_pin(*, model, dataset_name, branch) -> BaselinePin | None:
    return pins_for(model=model, dataset_name=dataset_name, branch=branch).first()


def pin_at(*, model, dataset_name, branch, moment) -> BaselinePin | None:
    """The baseline as it was at ``moment``; the earliest one if none was pinned yet."""
    pins = pins_for(model=model, dataset_name=dataset_name, branch=branch)
    return pins.filter(pinned_at__lte=moment).first() or pins.order_by("pinned_at", "id").first()


class PinRow(NamedTuple):
    pinned_at: datetime
    run_id: int
    version: str
    dataset_version: str
    run_created_at: datetime | None = None  # with run_id, names the run in baseline_results
    seed: int | None = None  # the pinned run's: a seeded run may stand in a replicate set


# The reads of every post's gate (pins, rules, baseline values) are written in SQL: building
# and compiling their ORM queries cost several times the CPU of running them.


def pin_rows(*, model, dataset_name, branch, limit) -> list[PinRow]:
    """The latest ``limit`` pins as plain rows, newest first (the gate's hot path)."""
    rows = _fetch(
        f"""
        SELECT p.pinned_at, p.run_id, v.label, d.version, r.created_at, r.seed
        FROM {_table(BaselinePin)} p
        JOIN {_table(ModelVersion)} v ON v.id = p.model_version_id
        JOIN {_table(EvaluationRun)} r ON r.id = p.run_id
        JOIN {_table(EvaluationDataset)} d ON d.id = r.dataset_id
        JOIN {_table(Branch)} b ON b.id = p.branch_id
        WHERE p.model_id = %s AND p.dataset_name = %s AND b.name = %s
        ORDER BY p.pinned_at DESC, p.id DESC
        LIMIT %s
        """,
        [model.pk, dataset_name, branch, limit],
    )
    return [
        PinRow(_aware(pinned_at), run_id, version, dataset_version, _aware(created_at), seed)
        for pinned_at, run_id, version, dataset_version, created_at, seed in rows
    ]


def rules_for(*, model, dataset_name=None):
    """A model's threshold rules; with ``dataset_name``, those that apply on that dataset."""
    rules = ThresholdRule.objects.filter(model=model).defer("created_at", "updated_at")
    if dataset_name is not None:
        rules = rules.filter(dataset_name__in=["", dataset_name])
    return rules.order_by("metric", "dataset_name", "slice")


class RuleRow(NamedTuple):
    metric: str
    slice: str
    min: float | None
    max: float | None
    max_drop: float | None
    max_drop_pct: float | None
    significance: float | None
    budget: float | None
    budget_since: datetime
    marked_since_budget: bool  # an intended-change mark made since budget_since


def gate_rule_rows(*, model, dataset_name) -> list[RuleRow]:
    """The rules that apply on ``dataset_name`` as plain rows, ordered like ``rules_for``,
    each saying whether the model has an intended-change mark made since its budget was set
    (only then must the budget's anchor be looked for among the marks)."""
    rows = _fetch(
        f"""
        SELECT t.metric, t.slice, t.min, t.max, t.max_drop, t.max_drop_pct, t.significance,
               t.budget, t.budget_since,
               EXISTS (SELECT 1 FROM {_table(ChangeMark)} c
                       WHERE c.model_id = t.model_id AND c.created_at >= t.budget_since)
        FROM {_table(ThresholdRule)} t
        WHERE t.model_id = %s AND t.dataset_name IN ('', %s)
        ORDER BY t.metric, t.dataset_name, t.slice
        """,
        [model.pk, dataset_name],
    )
    return [
        RuleRow(*row[:8], budget_since=_aware(row[8]), marked_since_budget=bool(row[9]))
        for row in rows
    ]


def result_values(*, run_id) -> list[dict]:
    """A run's results as plain values (``outcomes`` as the stored packed bytes or None)."""
    fields = (
        "metric", "direction", "slice", "value", "n", "n_pos", "n_neg", "ci_low", "ci_high",
        "outcomes",
    )  # fmt: skip
    rows = _fetch(
        f"""
        SELECT m.name, m.direction, s.slice, r.value, r.n, r.n_pos, r.n_neg, r.ci_low, r.ci_high,
               r.outcomes
        FROM {_table(MetricResult)} r
        JOIN {_table(Series)} s ON s.id = r.series_id
        JOIN {_table(MetricDefinition)} m ON m.id = s.metric_id
        WHERE r.run_id = %s
        """,
        [run_id],
    )
    return [
        dict(zip(fields, (*row[:-1], None if row[-1] is None else bytes(row[-1])), strict=True))
        for row in rows
    ]


def pinned_values(*, pin) -> list[dict]:
    """The pinned run's ``result_values`` as the gate judges them, each with the seeds'
    ``replicates`` and ``sd``: a seeded run's results as the replicate sets they belong to."""
    values = result_values(run_id=pin.run_id)
    if pin.run.seed is None:
        return [{**value, "replicates": 1, "sd": None} for value in values]
    return values_as_sets(run_id=pin.run_id, values=values)


def _fetch(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _table(model_cls):
    return model_cls._meta.db_table


def _aware(moment):
    """A time read in SQL: SQLite's driver answers it without its zone (UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def gate_results(*, run_id) -> list[gate.Result]:
    """A stored run's results as the gate takes them."""
    return [
        gate.Result(
            **{
                **values,
                "outcomes": values["outcomes"] and stats.outcomes_from_bytes(values["outcomes"]),
            }
        )
        for values in result_values(run_id=run_id)
    ]


# A stored run's results never change, and a model's posts are judged against the same
# baseline run post after post: each process remembers the baselines' results (a run of 1,000
# took 4 ms of SQL and as much Python to read), up to this many results in all, the least
# recently used forgotten first. A run is named by its id and creation time together, so that
# an id a rolled-back transaction gave out and SQLite gave again is never taken for another.
REMEMBERED_RESULTS = 100_000
_remembered = OrderedDict()  # (run id, created_at) -> tuple of gate.Result


def baseline_results(*, run_id, created_at) -> tuple[gate.Result, ...]:
    """``gate_results`` of a committed run, remembered (see REMEMBERED_RESULTS)."""
    key = (run_id, created_at)
    results = _remembered.get(key)
    if results is not None:
        _remembered.move_to_end(key)
        return results
    results = tuple(gate_results(run_id=run_id))
    # Remembered once this transaction commits: a run it created is nobody else's to read yet.
    transaction.on_commit(lambda: _remember(key, results))
    return results


def _remember(key, results):
    _remembered[key] = results
    while sum(len(kept) for kept in _remembered.values()) > REMEMBERED_RESULTS:
        _remembered.popitem(last=False)


def forget_baseline_results():
    _remembered.clear()


def latest_run_of(
    *, model, version_label, dataset_name, dataset_version=None, branch=None, environment=None
):
    """The latest run of a version on a dataset (its latest version unless one is named); on
    ``branch`` and in ``environment`` when named."""
    runs = EvaluationRun.objects.filter(
        model_version__model=model, model_version__label=version_label, dataset__name=dataset_name
    )
    if dataset_version is not None:
        runs = runs.filter(dataset__version=dataset_version)
    if branch is not None:
        runs = runs.filter(branch=branch)
    if environment is not None:
        runs = runs.filter(environment=environment)
    return runs.select_related("model_version", "dataset").order_by("-recorded_at", "-id").first()


def branch_head(*, model, branch, dataset_name, dataset_version=None, environment=None):
    """The latest run on ``branch`` on a dataset (in ``environment`` when named)."""
    runs = EvaluationRun.objects.filter(
        model_version__model=model, branch=branch, dataset__name=dataset_name
    )
    if dataset_version is not None:
        runs = runs.filter(dataset__version=dataset_version)
    if environment is not None:
        runs = runs.filter(environment=environment)
    return runs.select_related("model_version", "dataset").order_by("-recorded_at", "-id").first()


def compare_versions(*, model, a, b, dataset_name, dataset_version=None, environment=None) -> dict:
    """Two versions side by side on a dataset: per metric and slice the values, the delta,
    whether it is better or worse given the direction, and its significance when the results
    carry sample sizes, intervals or outcomes. A side names a version, else a branch (its
    latest run: ``a=main&b=feature-x`` compares a pull request's head with the main line's);
    a version of several seeds is compared as its replicate sets (means and spreads)."""
    runs = {}
    for side, label in (("a", a), ("b", b)):
        where = {"dataset_name": dataset_name, "dataset_version": dataset_version,
                 "environment": environment}  # fmt: skip
        runs[side] = latest_run_of(model=model, version_label=label, **where) or branch_head(
            model=model, branch=label, **where
        )
        if runs[side] is None:
            raise Http404(f"{model.name} has no version or branch {label} with a run on "
                          f"{dataset_name}.")  # fmt: skip
    # A seeded side is compared as its replicate sets (their means, by Welch's t-test).
    results = {
        side: {
            r.key: r
            for r in with_replicate_sets(
                run_id=run.pk, seed=run.seed, results=gate_results(run_id=run.pk)
            )
        }
        for side, run in runs.items()
    }
    comparable = runs["a"].dataset_id == runs["b"].dataset_id
    rows = [
        _compare_row(results["a"].get(key), results["b"].get(key), comparable)
        for key in sorted(results["a"].keys() | results["b"].keys())
    ]
    return {
        "model": model.name,
        "dataset": dataset_name,
        "comparable": comparable,
        "metrics": rows,
        **{
            side: {"version": run.model_version.label, "run_id": run.pk,
                   "dataset_version": run.dataset.version, "branch": run.branch,
                   "environment": run.environment}
            for side, run in runs.items()
        },
    }  # fmt: skip


def _compare_row(a, b, comparable):
    either = a or b
    row = {
        "metric": either.metric, "slice": either.slice, "direction": either.direction,
        "a": a.value if a else None, "b": b.value if b else None, "delta": None,
        "relative_delta": None, "change": "only_a" if b is None else "only_b",
        "p_value": None, "method": None, "significant": None,
        # A side of several seeds is its replicate set: how many, and their spread.
        "a_replicates": a.replicates if a else None, "a_sd": a.sd if a else None,
        "b_replicates": b.replicates if b else None, "b_sd": b.sd if b else None,
    }  # fmt: skip
    if a is None or b is None:
        return row
    row["delta"] = b.value - a.value
    row["relative_delta"] = row["delta"] / abs(a.value) if a.value else None
    worse = gate.drop(a.value, b.value, a.direction)
    row["change"] = "same" if worse == 0 else ("worse" if worse > 0 else "better")
    if comparable and worse != 0:
        tested = gate.drop_test(a, b) if worse > 0 else gate.drop_test(b, a)
        if tested is not None:
            row["p_value"], row["method"] = tested
            row["significant"] = row["p_value"] < 0.05
    return row

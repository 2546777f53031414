"""Reads for the regression gate: baselines (pins), rules, stored results, comparisons."""

from datetime import datetime
from typing import NamedTuple

from django.http import Http404

from evaluations.models import BaselinePin, EvaluationRun, MetricResult, ThresholdRule
from trackerclient import gate, stats


def pins_for(*, model, dataset_name):
    """The baseline's history on a dataset, newest first (the first is the baseline)."""
    return (
        BaselinePin.objects.filter(model=model, dataset_name=dataset_name)
        .select_related("model_version", "run__dataset")
        .order_by("-pinned_at", "-id")
    )


def current_pin(*, model, dataset_name) -> BaselinePin | None:
    return pins_for(model=model, dataset_name=dataset_name).first()


def pin_at(*, model, dataset_name, moment) -> BaselinePin | None:
    """The baseline as it was at ``moment``; the earliest one if none was pinned yet."""
    pins = pins_for(model=model, dataset_name=dataset_name)
    return pins.filter(pinned_at__lte=moment).first() or pins.order_by("pinned_at", "id").first()


class PinRow(NamedTuple):
    pinned_at: datetime
    run_id: int
    version: str
    dataset_version: str


def pin_rows(*, model, dataset_name, limit) -> list[PinRow]:
    """The latest ``limit`` pins as plain rows, newest first (the gate's hot path)."""
    rows = (
        BaselinePin.objects.filter(model=model, dataset_name=dataset_name)
        .order_by("-pinned_at", "-id")
        .values_list("pinned_at", "run_id", "model_version__label", "run__dataset__version")
    )
    return [PinRow(*row) for row in rows[:limit]]


def rules_for(*, model, dataset_name=None):
    """A model's threshold rules; with ``dataset_name``, those that apply on that dataset."""
    rules = ThresholdRule.objects.filter(model=model).defer("created_at", "updated_at")
    if dataset_name is not None:
        rules = rules.filter(dataset_name__in=["", dataset_name])
    return rules.order_by("metric", "dataset_name", "slice")


def result_values(*, run_id) -> list[dict]:
    """A run's results as plain values (``outcomes`` as the stored packed bytes or None)."""
    fields = ("metric", "direction", "slice", "value", "n", "ci_low", "ci_high", "outcomes")
    rows = MetricResult.objects.filter(run_id=run_id).values_list(
        "series__metric__name", "series__metric__direction", "series__slice",
        "value", "n", "ci_low", "ci_high", "outcomes",
    )  # fmt: skip
    return [
        dict(zip(fields, (*row[:-1], None if row[-1] is None else bytes(row[-1])), strict=True))
        for row in rows
    ]


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


def latest_run_of(*, model, version_label, dataset_name, dataset_version=None):
    """The latest run of a version on a dataset (its latest version unless one is named)."""
    runs = EvaluationRun.objects.filter(
        model_version__model=model, model_version__label=version_label, dataset__name=dataset_name
    )
    if dataset_version is not None:
        runs = runs.filter(dataset__version=dataset_version)
    return runs.select_related("model_version", "dataset").order_by("-recorded_at", "-id").first()


def compare_versions(*, model, a, b, dataset_name, dataset_version=None) -> dict:
    """Two versions side by side on a dataset: per metric and slice the values, the delta,
    whether it is better or worse given the direction, and its significance when the results
    carry sample sizes, intervals or outcomes."""
    runs = {}
    for side, label in (("a", a), ("b", b)):
        runs[side] = latest_run_of(
            model=model, version_label=label, dataset_name=dataset_name,
            dataset_version=dataset_version,
        )  # fmt: skip
        if runs[side] is None:
            raise Http404(f"{model.name} {label} has no run on {dataset_name}.")
    results = {side: {r.key: r for r in gate_results(run_id=run.pk)} for side, run in runs.items()}
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
                   "dataset_version": run.dataset.version}
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

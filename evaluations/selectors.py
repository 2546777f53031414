"""Reads shaped for the API and pages: runs, models, versions, metric series, baselines."""

from datetime import datetime
from typing import NamedTuple

import orjson
from django.core.cache import cache
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.http import Http404

from evaluations.models import (
    BaselinePin,
    ChangeMark,
    EvaluationRun,
    Finding,
    MetricResult,
    ModelVersion,
    RegisteredModel,
    Series,
    ThresholdRule,
)
from trackerclient import gate, stats

# Bounds how long a read may miss a change made behind the API's back (admin deletions).
SERIES_CACHE_SECONDS = 600


def runs_for(*, project):
    """A project's runs, newest first, with everything a run's answer shows."""
    results = MetricResult.objects.select_related("series__metric").order_by(
        "series__metric__name", "series__slice"
    )
    return (
        EvaluationRun.objects.filter(project=project)
        .select_related("model_version__model", "dataset")
        .prefetch_related(Prefetch("results", queryset=results, to_attr="result_list"))
        .order_by("-recorded_at", "-id")
    )


def get_run(*, project, run_id) -> EvaluationRun:
    run = runs_for(project=project).filter(pk=run_id).first()
    if run is None:
        raise Http404(f"No run {run_id} in this project.")
    return run


def models_for(*, project):
    latest = ModelVersion.objects.filter(model=OuterRef("pk")).order_by("-first_seen_at", "-id")
    return (
        RegisteredModel.objects.filter(project=project)
        .annotate(
            version_count=Count("versions"),
            latest_version_label=Subquery(latest.values("label")[:1]),
            latest_version_at=Subquery(latest.values("first_seen_at")[:1]),
        )
        .order_by("name")
    )


def find_model(*, project, name) -> RegisteredModel | None:
    return RegisteredModel.objects.filter(project=project, name=name).first()


def get_model(*, project, name) -> RegisteredModel:
    model = find_model(project=project, name=name)
    if model is None:
        raise Http404(f"No model named '{name}' in this project.")
    return model


def versions_for(*, model):
    return (
        ModelVersion.objects.filter(model=model)
        .annotate(run_count=Count("runs"))
        .order_by("-first_seen_at", "-id")
    )


def find_series(*, model, metric, dataset=None, dataset_version=None, slice="overall") -> Series:
    """The series of one metric and slice. Without ``dataset`` the model must have been
    evaluated on a single dataset name; without ``dataset_version`` the latest one used."""
    candidates = Series.objects.filter(model=model, metric__name=metric, slice=slice)
    if dataset is not None:
        candidates = candidates.filter(dataset__name=dataset)
    if dataset_version is not None:
        candidates = candidates.filter(dataset__version=dataset_version)
    candidates = list(candidates.select_related("metric", "dataset").order_by("-touched_at"))
    if not candidates:
        raise Http404(_missing_series_message(model, metric, dataset, dataset_version, slice))
    names = {series.dataset.name for series in candidates}
    if len(names) > 1:
        raise AmbiguousDataset(sorted(names))
    return candidates[0]


def series_points(*, series, limit=None) -> list[dict]:
    """The series' results in time order (the latest ``limit`` only, if given)."""
    rows = (
        MetricResult.objects.filter(series=series)
        .order_by("-recorded_at", "-run_id")
        .values_list("model_version_id", "value", "n", "ci_low", "ci_high", "run_id", "recorded_at")
    )
    if limit is not None:
        rows = rows[:limit]
    rows = list(rows)
    # All the model's versions: cheaper than an IN list of thousands of ids.
    labels = dict(ModelVersion.objects.filter(model_id=series.model_id).values_list("pk", "label"))
    # Plain dicts: at 5,000 points a serializer per point costs more than the query.
    return [
        {
            "version": labels[version_id],
            "value": value,
            "n": n,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "run_id": run_id,
            "at": at,
        }
        for version_id, value, n, ci_low, ci_high, run_id, at in reversed(rows)
    ]


def series_points_json(*, series, limit=None) -> bytes:
    """``series_points`` as JSON, cached until a run touches the series again (its
    ``touched_at`` is part of the key), so a dashboard's repeated reads skip the query."""
    key = f"series-points:{series.pk}:{series.touched_at.timestamp()}:{limit}"
    payload = cache.get(key)
    if payload is None:
        points = series_points(series=series, limit=limit)
        payload = orjson.dumps(points, option=orjson.OPT_UTC_Z)
        cache.set(key, payload, timeout=SERIES_CACHE_SECONDS)
    return payload


class AmbiguousDataset(Exception):
    def __init__(self, names):
        super().__init__(names)
        self.names = names


def _missing_series_message(model, metric, dataset, dataset_version, slice):
    where = f" on {dataset}" if dataset else ""
    if dataset_version:
        where += f"@{dataset_version}"
    return f"No results for {metric}{where} (slice '{slice}') of model '{model.name}'."


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


def findings_for(*, project):
    """A project's findings, the most recently seen first."""
    return (
        Finding.objects.filter(series__model__project=project)
        .select_related(
            "series__model", "series__dataset", "series__metric", "start_version", "end_version"
        )
        .order_by("-last_seen_at", "-id")
    )


def get_finding(*, project, finding_id) -> Finding:
    finding = findings_for(project=project).filter(pk=finding_id).first()
    if finding is None:
        raise Http404(f"No finding {finding_id} in this project.")
    return finding


def marks_for(*, model):
    return (
        ChangeMark.objects.filter(model=model)
        .select_related("model_version")
        .order_by("-created_at")
    )

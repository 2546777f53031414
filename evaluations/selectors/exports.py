"""Reads for file exports: a series' points, a model's runs' results and a comparison of two
versions as tables of plain values, their columns named and typed here once. Rows are read
with a server-side cursor (``.iterator()``), so that an export of any size holds a few
thousand rows in memory at a time and costs one query."""

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Subquery

from evaluations.models import EvaluationRun, MetricResult, ModelVersion

from .replicates import replicate_sets

# Rows fetched from the database at a time.
CHUNK_ROWS = 2000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text", "int", "float", "time" (UTC) or "bool"


@dataclass(frozen=True)
class Table:
    """Rows of plain values under ``columns``, and the words its file is named after."""

    name: tuple[str, ...]
    columns: tuple[Column, ...]
    rows: Iterable[tuple]


def _columns(spec: str) -> tuple[Column, ...]:
    return tuple(Column(*item.split(":")) for item in spec.split())


# The point's fields as the series API answers them (a replicate set's: its mean, with its
# seeds' count and spread), then its run's commit and the series' key.
SERIES_COLUMNS = _columns(
    "version:text run_id:int at:time value:float n:int ci_low:float ci_high:float "
    "replicates:int sd:float commit:text branch:text environment:text model:text "
    "metric:text dataset:text dataset_version:text slice:text"
)

# One row per result, runs newest first and their results by metric and slice, as the runs
# list orders them: every run, a replicate set's members each as posted (``seed`` tells them
# apart).
RUN_COLUMNS = _columns(
    "run_id:int recorded_at:time model:text version:text commit:text branch:text "
    "environment:text dataset:text dataset_version:text external_id:text seed:int "
    "metric:text slice:text value:float n:int n_pos:int n_neg:int ci_low:float ci_high:float "
    "direction:text kind:text unit:text"
)

# One row per metric and slice, as the compare API answers them, then each side's run.
COMPARE_COLUMNS = _columns(
    "metric:text slice:text direction:text a:float b:float delta:float relative_delta:float "
    "change:text p_value:float method:text significant:bool a_version:text a_run_id:int "
    "a_dataset_version:text a_branch:text b_version:text b_run_id:int b_dataset_version:text "
    "b_branch:text model:text dataset:text environment:text a_replicates:int a_sd:float "
    "b_replicates:int b_sd:float"
)


# What each row reads: the columns of SERIES_COLUMNS up to the series' key, and RUN_COLUMNS.
_SERIES_FIELDS = (
    "model_version__label", "run_id", "recorded_at", "value", "n", "ci_low", "ci_high",
    "run__commit",
)  # fmt: skip
_RUN_FIELDS = (
    "run_id", "recorded_at", "model_version__model__name", "model_version__label",
    "run__commit", "run__branch", "run__environment", "run__dataset__name",
    "run__dataset__version", "run__external_id", "run__seed", "series__metric__name",
    "series__slice", "value", "n", "n_pos", "n_neg", "ci_low", "ci_high",
    "series__metric__direction", "series__metric__kind", "series__metric__unit",
)  # fmt: skip


def series_table(*, model, series, limit=None) -> Table:
    """The points of ``model``'s ``series`` in time order (the latest ``limit`` only, if
    given), as ``series_points`` reads them: each replicate set one point in its members'
    place."""
    sets = replicate_sets(series_ids=[series.pk]).get(series.pk, []) if series.replicated else []
    results = MetricResult.objects.filter(series=series)
    if sets:
        members = EvaluationRun.objects.filter(
            model_version_id__in={s.model_version_id for s in sets}, seed__isnull=False
        )
        results = results.exclude(run_id__in=members.values("pk"))
    if limit is not None:
        latest = results.order_by("-recorded_at", "-run_id").values("pk")[:limit]
        results = MetricResult.objects.filter(pk__in=Subquery(latest))
    rows = (
        (*row[:7], 1, None, row[7])
        for row in results.order_by("recorded_at", "run_id")
        .values_list(*_SERIES_FIELDS)
        .iterator(chunk_size=CHUNK_ROWS)
    )
    if sets:
        count = results.count() if limit is not None else None
        rows = _with_sets(rows, sets, limit, count)
    key = (
        series.branch.name, series.environment, model.name, series.metric.name,
        series.dataset.name, series.dataset.version, series.slice,
    )  # fmt: skip
    name = (model.name, series.metric.name, series.dataset.name, series.slice)
    return Table(name, SERIES_COLUMNS, (row + key for row in rows))


def _with_sets(rows, sets, limit, count):
    """``rows`` (the points of a series' other runs, in time order) with its replicate sets'
    points merged in their places; the latest ``limit`` of them (``count``: how many
    ``rows`` there are) when given."""
    labels = dict(ModelVersion.objects.filter(pk__in={s.model_version_id for s in sets})
                  .values_list("pk", "label"))  # fmt: skip
    commits = dict(EvaluationRun.objects.filter(pk__in={s.run_id for s in sets})
                   .values_list("pk", "commit"))  # fmt: skip
    points = sorted(
        ((labels[s.model_version_id], s.run_id, s.recorded_at, s.value, s.n, s.ci_low,
          s.ci_high, s.replicates, s.sd, commits[s.run_id]) for s in sets),
        key=_place,
    )  # fmt: skip
    merged = heapq.merge(rows, points, key=_place)
    if limit is None:
        return merged
    return itertools.islice(merged, max(count + len(points) - limit, 0), None)


def _place(row):
    return row[2], row[1]  # at, run id


class TooManyRows(Exception):
    """An export over ``settings.EXPORT_MAX_ROWS`` rows."""

    def __init__(self, count, limit):
        super().__init__(
            f"This export has {count:,} results, over the limit of {limit:,}: narrow it by "
            "model, version, dataset, branch or environment."
        )


def run_results_table(*, runs, name: tuple[str, ...], capped=True) -> Table:
    """Every result of ``runs`` (a queryset of runs, filtered as the caller needs), one row
    each: newest run first, its results by metric and slice (a run's rows together). When
    ``capped`` (a download, which must end within a request's time), counted first:
    TooManyRows over ``settings.EXPORT_MAX_ROWS``."""
    results = MetricResult.objects.filter(run__in=runs.values("pk"))
    count = results.count() if capped else 0
    if count > settings.EXPORT_MAX_ROWS:
        raise TooManyRows(count, settings.EXPORT_MAX_ROWS)
    rows = (
        results.order_by("-recorded_at", "-run_id", "series__metric__name", "series__slice")
        .values_list(*_RUN_FIELDS)
        .iterator(chunk_size=CHUNK_ROWS)
    )
    return Table(name, RUN_COLUMNS, rows)


def comparison_table(comparison: dict) -> Table:
    """A comparison (``compare_versions``'s answer) one row per metric and slice."""
    a, b = comparison["a"], comparison["b"]
    sides = (
        a["version"], a["run_id"], a["dataset_version"], a["branch"],
        b["version"], b["run_id"], b["dataset_version"], b["branch"],
        comparison["model"], comparison["dataset"], a["environment"],
    )  # fmt: skip
    fields = [column.name for column in COMPARE_COLUMNS[:11]]
    spreads = ("a_replicates", "a_sd", "b_replicates", "b_sd")  # last: the columns came later
    rows = (
        tuple(row[field] for field in fields) + sides + tuple(row[field] for field in spreads)
        for row in comparison["metrics"]
    )
    name = (comparison["model"], comparison["dataset"], a["version"], "vs", b["version"])
    return Table(name, COMPARE_COLUMNS, rows)


def runs_of(*, model, branch, environment, dataset=None, dataset_version=None):
    """A model's runs on one line of history (and dataset, when named): what its page shows."""
    runs = EvaluationRun.objects.filter(
        model_version__model=model, branch=branch, environment=environment
    )
    if dataset is not None:
        runs = runs.filter(dataset__name=dataset)
    if dataset_version is not None:
        runs = runs.filter(dataset__version=dataset_version)
    return runs

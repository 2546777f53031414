"""What the trend analysis reads: each series' latest points and its limits, in a fixed
number of queries however many series a job or a sweep covers."""

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from evaluations.models import (
    BaselinePin,
    ChangeMark,
    MetricResult,
    ModelVersion,
    ReplicateSet,
    Series,
    ThresholdRule,
)

from .replicates import Row, merged_rows, replicate_sets


@dataclass
class AnalysisInput:
    """One series as the trend analysis takes it: its latest points since the model's latest
    intended-change mark, and the limits the forecast measures against."""

    series: Series
    version_ids: list = field(default_factory=list)
    versions: list = field(default_factory=list)
    values: list = field(default_factory=list)
    n: list = field(default_factory=list)
    ci_low: list = field(default_factory=list)
    ci_high: list = field(default_factory=list)
    baseline: float | None = None
    floor: float | None = None
    budget: float | None = None


def analysis_inputs(*, series_ids, points, skip_analysed_since=None) -> list[AnalysisInput]:
    """The latest ``points`` points of each series and what they are judged against, in a
    fixed number of queries however many series there are; without the series analysed and
    clean since ``skip_analysed_since``, if given."""
    wanted = Series.objects.filter(pk__in=series_ids, watched=True)
    if skip_analysed_since is not None:
        wanted = wanted.exclude(dirty=False, analysed_at__gte=skip_analysed_since)
    # The project too: its sensitivity setting judges each series.
    series_rows = list(wanted.select_related("metric", "dataset", "model__project"))
    if not series_rows:
        return []
    inputs = {row.pk: AnalysisInput(series=row) for row in series_rows}
    model_ids = {row.model_id for row in series_rows}
    rows = [Row(*row) for row in _latest_points(inputs, points)]
    replicated = [row.pk for row in series_rows if row.replicated]
    if replicated:  # a version's seeds are one point, its noise their spread
        rows = merged_rows(rows, replicate_sets(series_ids=replicated))
    # The labels of the versions read: a model's thousands of others are not needed.
    labels = dict(
        ModelVersion.objects.filter(pk__in={row.version_id for row in rows}).values_list(
            "pk", "label"
        )
    )
    marks = _latest_marks(model_ids)
    for series_id, version_id, _, _, value, n, low, high in rows:
        item = inputs[series_id]
        if version_id == marks.get(item.series.model_id):
            # The marked version starts a new segment: what came before is another regime.
            item.version_ids, item.values, item.n, item.ci_low, item.ci_high = [], [], [], [], []
        item.version_ids.append(version_id)
        item.values.append(value)
        item.n.append(n)
        item.ci_low.append(low)
        item.ci_high.append(high)
    for item in inputs.values():
        item.versions = [labels[version_id] for version_id in item.version_ids]
    _attach_limits(list(inputs.values()), model_ids)
    return list(inputs.values())


def _latest_points(inputs, points):
    """(series, version, run, recorded_at, value, n, ci_low, ci_high) of each series' latest
    points, oldest first within a series."""
    if connection.vendor == "postgresql":
        # Each series' latest points straight off the end of the covering history index
        # (a backward index-only scan, LIMIT points): the cost of a job stays flat however
        # long its series' histories grow, where ranking every point of each series first
        # read all of them.
        with connection.cursor() as cursor:
            cursor.execute(_LATEST_POINTS_SQL, [sorted(inputs), points])
            return cursor.fetchall()
    return _ranked_points(inputs, points)


def _ranked_points(inputs, points):
    """``_latest_points`` by ranking every point of each series (SQLite has no LATERAL)."""
    ranked = (
        MetricResult.objects.filter(series_id__in=inputs.keys())
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("series_id")],
                order_by=[F("recorded_at").desc(), F("run_id").desc()],
            )
        )
        .filter(rank__lte=points)
        .order_by("series_id", "recorded_at", "run_id")
    )
    return ranked.values_list(
        "series_id", "model_version_id", "run_id", "recorded_at", "value", "n", "ci_low", "ci_high"
    )


_LATEST_POINTS_SQL = f"""
    SELECT s.id, r.model_version_id, r.run_id, r.recorded_at, r.value, r.n, r.ci_low,
           r.ci_high
    FROM unnest(%s::bigint[]) AS s(id)
    CROSS JOIN LATERAL (
        SELECT model_version_id, value, n, ci_low, ci_high, recorded_at, run_id
        FROM {MetricResult._meta.db_table}
        WHERE series_id = s.id
        ORDER BY recorded_at DESC, run_id DESC
        LIMIT %s
    ) AS r
    ORDER BY s.id, r.recorded_at, r.run_id
"""


def _latest_marks(model_ids):
    marks = {}
    for model_id, version_id in (
        ChangeMark.objects.filter(model_id__in=model_ids)
        .order_by("created_at")
        .values_list("model_id", "model_version_id")
    ):
        marks[model_id] = version_id  # the latest wins
    return marks


def _attach_limits(inputs, model_ids):
    """Baseline value (when the baseline ran on the series' dataset version), floor and budget."""
    latest_pins = {}
    for pin in BaselinePin.objects.filter(model_id__in=model_ids).order_by("pinned_at", "id"):
        latest_pins[(pin.model_id, pin.dataset_name, pin.branch_id)] = pin
    # The pinned run's value of the series' metric and slice, on the series' dataset version
    # and in its environment (the pinned run may have been posted on another branch: its
    # results are in that branch's series).
    rows = MetricResult.objects.filter(
        run_id__in={pin.run_id for pin in latest_pins.values()}
    ).values_list(
        "run_id", "value", "series__dataset_id", "series__metric_id", "series__slice",
        "series__environment", "series_id", "model_version_id", "run__seed",
    )  # fmt: skip
    rows = list(rows)
    means = _set_means({(row[6], row[7]) for row in rows if row[8] is not None})
    baseline_values = {row[:1] + row[2:6]: means.get(row[6:8], row[1]) for row in rows}
    rules = list(ThresholdRule.objects.filter(model_id__in=model_ids))
    for item in inputs:
        series = item.series
        pin = latest_pins.get((series.model_id, series.dataset.name, series.branch_id))
        if pin is not None:
            item.baseline = baseline_values.get(
                (pin.run_id, series.dataset_id, series.metric_id, series.slice, series.environment)
            )
        higher = series.metric.direction == "higher_is_better"
        for rule in rules:
            if (
                rule.model_id == series.model_id
                and rule.metric == series.metric.name
                and rule.dataset_name in ("", series.dataset.name)
                and rule.slice in ("", series.slice)
            ):
                item.floor = (
                    item.floor if item.floor is not None else (rule.min if higher else rule.max)
                )
                item.budget = item.budget if item.budget is not None else rule.budget


def _set_means(keys):
    """{(series, version): mean} of the replicate sets among ``keys``: a pinned seeded run
    stands for its set, as in the gate."""
    if not keys:
        return {}
    rows = ReplicateSet.objects.filter(series_id__in={series for series, _ in keys})
    return {
        (series, version): mean
        for series, version, mean in rows.values_list("series_id", "model_version_id", "value")
        if (series, version) in keys
    }


def failing_analyses(*, model) -> list[dict]:
    """The model's series whose latest analysis failed, for its page: what failed, how often
    since when, and when it is tried again."""
    return [
        {
            "metric": row.metric.name,
            "dataset": f"{row.dataset.name}@{row.dataset.version}",
            "slice": row.slice,
            "failures": row.analysis_failures,
            "error": row.analysis_error,
            "failed_at": row.analysis_failed_at,
            "retry_at": row.retry_at,
        }
        for row in Series.objects.filter(model=model, analysis_failures__gt=0)
        .select_related("metric", "dataset")
        .order_by("metric__name", "dataset__name", "slice")
    ]

"""Reads of metric series: which series, its points, and their cached JSON."""

from datetime import datetime
from typing import NamedTuple

import orjson
from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.http import Http404

from evaluations.models import EvaluationRun, MetricResult, ModelVersion, ReplicateSet, Series
from evaluations.models.points import (
    POINT_FIELDS,
    REPLICATE_FIELDS,
    encode_point,
    with_single_run,
)

from .replicates import merged_points, replicate_sets

# Bounds how long a read may miss a change made behind the API's back (admin deletions).
SERIES_CACHE_SECONDS = 3600


def find_series(
    *, model, metric, dataset=None, dataset_version=None, slice="overall", branch=None,
    environment="offline",
) -> Series:  # fmt: skip
    """The series of one metric and slice, on ``branch`` (the project's default unless named)
    and in ``environment``. Without ``dataset`` the model must have been evaluated on a single
    dataset name; without ``dataset_version`` the latest one used."""
    branch = branch or model.project.default_branch
    candidates = Series.objects.filter(
        model=model, metric__name=metric, slice=slice, branch__name=branch,
        environment=environment,
    )  # fmt: skip
    if dataset is not None:
        candidates = candidates.filter(dataset__name=dataset)
    if dataset_version is not None:
        candidates = candidates.filter(dataset__version=dataset_version)
    candidates = list(
        candidates.select_related("metric", "dataset", "branch").order_by("-touched_at")
    )
    if not candidates:
        raise Http404(
            _missing_series_message(
                model, metric, dataset, dataset_version, slice, branch, environment
            )
        )
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
    sets = replicate_sets(series_ids=[series.pk]) if series.replicated else {}
    # With sets, members fall out of the rows: the limit applies after the merge.
    if limit is not None and not sets:
        rows = rows[:limit]
    rows = list(rows)
    # All the model's versions: cheaper than an IN list of thousands of ids.
    labels = dict(ModelVersion.objects.filter(model_id=series.model_id).values_list("pk", "label"))
    single = dict(zip(REPLICATE_FIELDS, (1, None), strict=True))
    # Plain dicts: at 5,000 points a serializer per point costs more than the query.
    points = [
        {**dict(zip(POINT_FIELDS, (labels[version_id], *rest), strict=True)), **single}
        for version_id, *rest in reversed(rows)
    ]
    if sets:
        points = merged_points(points, sets.get(series.pk, []), labels)
        points = points[-limit:] if limit is not None else points
    return points


def series_points_json(*, series, limit=None) -> bytes:
    """``series_points`` as JSON, cached with the series' ``touched_at`` (which every run that
    adds a point moves), so a dashboard's repeated reads skip the query. One entry per series
    (and limit) holds the JSON with its length and last point: the read after a post appends
    the new points to it instead of reading the whole history again."""
    key = f"series-points:2:{series.pk}:{limit}"  # 2: entries carry the replicated flag
    touched = series.touched_at.timestamp()
    cached = cache.get(key)
    if cached is not None and cached[0] == touched:
        return cached[-1]
    # A replicated series is read whole: a new seed changes a point already cached; and so
    # is one whose cached points were read while it had sets (they merged seeds since gone).
    appendable = cached is not None and limit is None and not (series.replicated or cached[1])
    known = Known(*cached[2:]) if appendable else None
    fresh = _appended(series, known) if known is not None else None
    fresh = fresh if fresh is not None else _points_json(series, limit)
    cache.set(key, (touched, series.replicated, *fresh), timeout=SERIES_CACHE_SECONDS)
    return fresh.payload


class Known(NamedTuple):
    """A series' points as JSON, with what tells which points came after them."""

    count: int
    last: tuple | None  # (time, run id) of the last point
    payload: bytes


def _points_json(series, limit) -> Known:
    if connection.vendor == "postgresql":
        return _points_json_from_sql(series, limit)
    points = series_points(series=series, limit=limit)
    last = (points[-1]["at"], points[-1]["run_id"]) if points else None
    return Known(len(points), last, orjson.dumps(points, option=orjson.OPT_UTC_Z))


def _json_number(column):
    # float8's text is the shortest that reads back the same (PostgreSQL 12 and later); a
    # whole number gets its ".0", as orjson writes it, so that clients still read a float.
    return (
        f"CASE WHEN {column} IS NULL THEN 'null' WHEN {column} = trunc({column}) "
        f"THEN {column}::numeric(1000, 1)::text ELSE {column}::text END"
    )


# A point as orjson writes it (see series_points): the same keys in the same order, times in
# UTC with a Z and microseconds only when there are any.
_POINT_SQL = f"""
    '{{"version":' || to_json(v.label)::text
    || ',"value":' || ({_json_number("r.value")})
    || ',"n":' || coalesce(r.n::text, 'null')
    || ',"ci_low":' || ({_json_number("r.ci_low")})
    || ',"ci_high":' || ({_json_number("r.ci_high")})
    || ',"run_id":' || r.run_id
    || ',"at":"' || to_char(r.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_trunc('second', r.recorded_at) = r.recorded_at THEN ''
            ELSE to_char(r.recorded_at AT TIME ZONE 'UTC', '.US') END
    || 'Z"}}'
"""


def _points_json_from_sql(series, limit):
    """The points' JSON as ingestion stored it, in one index scan of the series' rows; a row
    stored without one has PostgreSQL write it (its version label read then, by id). The
    count and the last point come from the same rows, hence the same snapshot. The
    query reads only the series' own rows: a join to the versions here, on tables not yet
    analysed (a bulk load a minute old), led the planner to a nested loop that read the whole
    series once per version (0.4 s at 5,000 points)."""
    points = _merged_from_sql(series, limit) if series.replicated else _stored(series, limit)
    if not points:
        return Known(0, None, b"[]")
    points.reverse()
    last = orjson.loads(points[-1])
    payload = ("[" + ",".join(points) + "]").encode()
    return Known(len(points), (datetime.fromisoformat(last["at"]), last["run_id"]), payload)


def _stored(series, limit):
    results, versions = MetricResult._meta.db_table, ModelVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT coalesce(r.point, (SELECT {_POINT_SQL} FROM {versions} AS v
                                      WHERE v.id = r.model_version_id))
            FROM {results} AS r
            WHERE r.series_id = %s
            ORDER BY r.recorded_at DESC, r.run_id DESC
            LIMIT %s
            """,
            [series.pk, limit],
        )
        return [with_single_run(point) for (point,) in cursor.fetchall()]


def _merged_from_sql(series, limit):
    """A replicated series' points, newest first: its results but those of a replicate set's
    members (a seeded run of a version that has a set here: a hashed list of run ids, read
    once, rather than a lookup per row), and the sets' stored points."""
    results, versions = MetricResult._meta.db_table, ModelVersion._meta.db_table
    sets, runs = ReplicateSet._meta.db_table, EvaluationRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT point, merged FROM (
                SELECT coalesce(r.point, (SELECT {_POINT_SQL} FROM {versions} AS v
                                          WHERE v.id = r.model_version_id)) AS point,
                       false AS merged, r.recorded_at, r.run_id
                FROM {results} AS r
                WHERE r.series_id = %s AND r.run_id NOT IN (
                    SELECT ru.id FROM {sets} AS s
                    JOIN {runs} AS ru ON ru.model_version_id = s.model_version_id
                    WHERE s.series_id = %s AND ru.seed IS NOT NULL)
                UNION ALL
                SELECT point, true, recorded_at, run_id FROM {sets} WHERE series_id = %s
            ) AS points
            ORDER BY recorded_at DESC, run_id DESC
            LIMIT %s
            """,
            [series.pk, series.pk, series.pk, limit],
        )
        return [point if merged else with_single_run(point) for point, merged in cursor]


def _appended(series, known: Known) -> Known | None:
    """``known`` with the points recorded after its last one, or None when the history
    changed otherwise (a backfill before it, a deletion): then it is read whole."""
    results = MetricResult.objects.filter(series=series)
    newer = results
    if known.last is not None:
        at, run_id = known.last
        newer = results.filter(Q(recorded_at__gt=at) | Q(recorded_at=at, run_id__gt=run_id))
    rows = list(
        newer.order_by("recorded_at", "run_id").values_list(
            "model_version__label", "value", "n", "ci_low", "ci_high", "run_id", "recorded_at"
        )
    )
    if results.count() != known.count + len(rows):
        return None
    if not rows:
        return known
    added = [with_single_run(encode_point(*row).decode()).encode() for row in rows]
    old = known.payload[1:-1]
    joined = b"[" + b",".join([old, *added] if old else added) + b"]"
    return Known(known.count + len(rows), (rows[-1][-1], rows[-1][-2]), joined)


class AmbiguousDataset(Exception):
    def __init__(self, names):
        super().__init__(names)
        self.names = names


def _missing_series_message(model, metric, dataset, dataset_version, slice, branch, environment):
    where = f" on {dataset}" if dataset else ""
    if dataset_version:
        where += f"@{dataset_version}"
    return (
        f"No results for {metric}{where} (slice '{slice}', branch '{branch}', {environment}) "
        f"of model '{model.name}'."
    )

"""Reads of metric series: which series, its points, and their cached JSON."""

from datetime import datetime

import orjson
from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.http import Http404

from evaluations.models import MetricResult, ModelVersion, Series

# Bounds how long a read may miss a change made behind the API's back (admin deletions).
SERIES_CACHE_SECONDS = 3600
POINT_FIELDS = ("version", "value", "n", "ci_low", "ci_high", "run_id", "at")


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
        dict(zip(POINT_FIELDS, (labels[version_id], *rest), strict=True))
        for version_id, *rest in reversed(rows)
    ]


def series_points_json(*, series, limit=None) -> bytes:
    """``series_points`` as JSON, cached until a run touches the series again (its
    ``touched_at`` is part of the key), so a dashboard's repeated reads skip the query. The
    whole series is also kept with its length and last point, so that the read after a post
    appends the new points instead of reading the whole history again."""
    key = f"series-points:{series.pk}:{series.touched_at.timestamp()}:{limit}"
    payload = cache.get(key)
    if payload is not None:
        return payload
    payload = _whole_series(series) if limit is None else _points_json(series, limit)[0]
    cache.set(key, payload, timeout=SERIES_CACHE_SECONDS)
    return payload


def _whole_series(series) -> bytes:
    latest_key = f"series-points-latest:{series.pk}"
    known = cache.get(latest_key)
    payload = _appended(series, *known) if known is not None else None
    if payload is None:
        payload, count, last = _points_json(series, None)
    else:
        payload, count, last = payload
    cache.set(latest_key, (count, last, payload), timeout=SERIES_CACHE_SECONDS)
    return payload


def _points_json(series, limit):
    """(JSON of the points, their count, (time, run id) of the last one or None)."""
    if connection.vendor == "postgresql":
        return _points_json_from_sql(series, limit)
    points = series_points(series=series, limit=limit)
    last = (points[-1]["at"], points[-1]["run_id"]) if points else None
    return orjson.dumps(points, option=orjson.OPT_UTC_Z), len(points), last


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
    """PostgreSQL writes each point's JSON: at 5,000 points, turning rows into Python objects
    and writing them out again cost twice the query. The count and the last point come from
    the same rows, hence the same snapshot."""
    results, versions = MetricResult._meta.db_table, ModelVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {_POINT_SQL}
            FROM {results} AS r
            JOIN {versions} AS v ON v.id = r.model_version_id AND v.model_id = %s
            WHERE r.series_id = %s
            ORDER BY r.recorded_at DESC, r.run_id DESC
            LIMIT %s
            """,
            [series.model_id, series.pk, limit],
        )
        points = [point for (point,) in cursor.fetchall()]
    points.reverse()
    payload = ("[" + ",".join(points) + "]").encode()
    if not points:
        return payload, 0, None
    last = orjson.loads(points[-1])
    return payload, len(points), (datetime.fromisoformat(last["at"]), last["run_id"])


def _appended(series, count, last, payload):
    """(payload, count, last) with the points recorded after ``last``, or None when the
    history changed otherwise (a backfill before it, a deletion): then read it whole."""
    results = MetricResult.objects.filter(series=series)
    newer = (
        results
        if last is None
        else results.filter(Q(recorded_at__gt=last[0]) | Q(recorded_at=last[0], run_id__gt=last[1]))
    )
    rows = list(
        newer.order_by("recorded_at", "run_id").values_list(
            "model_version__label", "value", "n", "ci_low", "ci_high", "run_id", "recorded_at"
        )
    )
    if results.count() != count + len(rows):
        return None
    if not rows:
        return payload, count, last
    points = [dict(zip(POINT_FIELDS, row, strict=True)) for row in rows]
    added = orjson.dumps(points, option=orjson.OPT_UTC_Z)
    joined = added if payload == b"[]" else payload[:-1] + b"," + added[1:]
    return joined, count + len(rows), (rows[-1][-1], rows[-1][-2])


class AmbiguousDataset(Exception):
    def __init__(self, names):
        super().__init__(names)
        self.names = names


def _missing_series_message(model, metric, dataset, dataset_version, slice):
    where = f" on {dataset}" if dataset else ""
    if dataset_version:
        where += f"@{dataset_version}"
    return f"No results for {metric}{where} (slice '{slice}') of model '{model.name}'."

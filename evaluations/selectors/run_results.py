"""Runs' results as the runs list writes them: one JSON array per run, its results by metric
and slice with the fields of ``MetricResultSerializer`` in its order, byte for byte as the
serializer and the JSON renderer (orjson) write them.

On PostgreSQL the database writes the arrays of a page's runs in one query. Each result's
numbers come from the point ingestion stored beside it (``MetricResult.point``, written by
orjson: ``evaluations/models/points.py``), as the series read takes them, so that every float
reads as orjson writes it, which PostgreSQL's own float text does not (``1e-05`` where orjson
writes ``0.00001``, ``1e+15`` for ``1000000000000000.0``); the strings are escaped by
``to_json``, which escapes as orjson does (tests/test_runs_list.py checks every ASCII
character). The runs it cannot write so (a result stored without a point, by other means or
before points were stored), and every run on SQLite, are written in Python, to the same bytes.
"""

from datetime import datetime

import orjson
from django.core.cache import cache
from django.db import connection

from evaluations.models import MetricDefinition, MetricResult, Series

from .series import SERIES_CACHE_SECONDS

# Bounds how long a read may miss a change made behind the API's back, as for the series.
RESULTS_CACHE_SECONDS = SERIES_CACHE_SECONDS

RESULT_KEYS = (
    "name", "slice", "value", "n", "n_pos", "n_neg", "ci_low", "ci_high", "direction", "kind",
    "unit",
)  # fmt: skip


# Each result's JSON, field for field, with the runs' arrays aggregated from them:
# - page: the page's results, with the numbers of each one's point. A point reads
#   '{"version":"...","value":V,"n":N,"ci_low":L,"ci_high":H,"run_id":...}': inside its
#   version's JSON string every quote is escaped, so its first ',"value":' is the value's own.
#   A result that has no point, or whose point holds -0.0, is written in Python: results
#   stored before they were copied in hold 0 there (psycopg2 sent -0.0 as the expression
#   -0.0), which the serializer writes 0.0. (The cheap strpos() spares most results the
#   exact test.) The class counts go in between
#   "n" and "ci_low"; n_pos and n_neg are both NULL or both set.
# - heads: what each series and metric says of a result, escaped once per series rather than
#   once per result, and the series' rank by metric name and slice (the serializer's order,
#   in the columns' collation): sorting 60 series by text, then 6,000 results by number, is
#   cheaper than sorting the results by text.
_RESULTS_SQL = f"""
    WITH page AS (
        SELECT run_id, series_id, n_pos, n_neg, numbers,
               point IS NULL OR CASE WHEN strpos(numbers, '-0.0') = 0 THEN false
                                     ELSE ':' || numbers || ',' LIKE '%%:-0.0,%%' END
               AS unwritten
        FROM (SELECT run_id, series_id, n_pos, n_neg, point,
                     split_part(split_part(point, ',"value":', 2), ',"run_id":', 1) AS numbers
              FROM {MetricResult._meta.db_table}
              WHERE run_id = ANY(%s)) AS results
    ), heads AS (
        SELECT s.id, row_number() OVER (ORDER BY m.name, s.slice) AS rank,
               '{{"name":' || to_json(m.name)::text || ',"slice":' || to_json(s.slice)::text
               || ',"value":' AS head,
               ',"direction":' || to_json(m.direction)::text || ',"kind":'
               || to_json(m.kind)::text || ',"unit":' || to_json(m.unit)::text || '}}' AS tail
        FROM {Series._meta.db_table} AS s
        JOIN {MetricDefinition._meta.db_table} AS m ON m.id = s.metric_id
        WHERE s.id IN (SELECT series_id FROM page)
    )
    SELECT p.run_id,
           '[' || string_agg(
               h.head
               || CASE WHEN p.n_pos IS NULL
                       THEN replace(p.numbers, ',"ci_low":', ',"n_pos":null,"n_neg":null,"ci_low":')
                       ELSE replace(p.numbers, ',"ci_low":', ',"n_pos":' || p.n_pos || ',"n_neg":'
                                    || p.n_neg || ',"ci_low":') END
               || h.tail,
               ',' ORDER BY h.rank
           ) || ']'
    FROM page AS p JOIN heads AS h ON h.id = p.series_id
    GROUP BY p.run_id
    HAVING NOT bool_or(p.unwritten)
"""


def results_json(*, runs: dict[int, datetime]) -> dict[int, bytes]:
    """Each run's results as a JSON array, by run id, of the runs ``runs`` names (by id, with
    their creation times); a run without results is left out. Cached: a run's results never
    change once posted, so a page read again (or a run on another page) is read from the
    cache, and only the runs not in it from the database."""
    keys = {run_id: _cache_key(run_id, created_at) for run_id, created_at in runs.items()}
    cached = cache.get_many(keys.values())
    found = {run_id: cached[key] for run_id, key in keys.items() if key in cached}
    rest = [run_id for run_id in runs if run_id not in found]
    fresh = {}
    if connection.vendor == "postgresql" and rest:
        fresh = _results_json_from_sql(rest)
        rest = [run_id for run_id in rest if run_id not in fresh]
    if rest:
        fresh |= _results_json_in_python(rest)
    cache.set_many({keys[run_id]: text for run_id, text in fresh.items()}, RESULTS_CACHE_SECONDS)
    return found | fresh


def _cache_key(run_id, created_at):
    # With the creation time: SQLite may give a deleted run's id to the next run.
    return f"run-results:{run_id}:{created_at.timestamp()}"


def _results_json_from_sql(run_ids) -> dict[int, bytes]:
    """The arrays PostgreSQL writes, in one query; a run with a result it cannot write from
    a point is left out (for Python to write)."""
    with connection.cursor() as cursor:
        cursor.execute(_RESULTS_SQL, [list(run_ids)])
        return {run_id: text.encode() for run_id, text in cursor.fetchall()}


_RESULT_FIELDS = (
    "run_id", "series__metric__name", "series__slice", "value", "n", "n_pos", "n_neg",
    "ci_low", "ci_high", "series__metric__direction", "series__metric__kind",
    "series__metric__unit",
)  # fmt: skip


def _results_json_in_python(run_ids) -> dict[int, bytes]:
    """The same arrays, from plain rows in one query: a dictionary per result, which costs
    far less than an object and a serializer call."""
    rows = (
        MetricResult.objects.filter(run_id__in=run_ids)
        .order_by("run_id", "series__metric__name", "series__slice")
        .values_list(*_RESULT_FIELDS)
    )
    by_run = {}
    for run_id, name, slice_, value, n, n_pos, n_neg, low, high, *definition in rows:
        numbers = (float(value), _int(n), _int(n_pos), _int(n_neg), _float(low), _float(high))
        fields = (name, slice_, *numbers, *definition)
        by_run.setdefault(run_id, []).append(dict(zip(RESULT_KEYS, fields, strict=True)))
    return {run_id: orjson.dumps(results) for run_id, results in by_run.items()}


def _int(value):
    return None if value is None else int(value)


def _float(value):
    return None if value is None else float(value)

"""A big export streams: a series of 100,000 points leaves the server in chunks, read from a
server-side cursor, without the whole file or all its rows in memory at once."""

import tracemalloc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations import downloads
from evaluations.models import EvaluationRun, MetricResult, ModelVersion

POINTS = 100_000
VERSIONS = 1_000
SERIES = "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout"


def _clone(model_cls, source_pk, count, overrides):
    """``count`` copies of one row, made in SQL (``g`` is the copy's number, from 1), with
    the columns in ``overrides`` set by their SQL expressions."""
    table = model_cls._meta.db_table
    columns = [f.column for f in model_cls._meta.concrete_fields if f.column != "id"]
    values = [overrides.get(column, f"s.{column}") for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM {table} s, generate_series(1, %s) g WHERE s.id = %s",
            [count, source_pk],
        )


@pytest.fixture
def long_series(post_run, run_body):
    """fraud-detector's accuracy on holdout: the posted run and 100,000 more a minute apart,
    on 1,000 versions (written in SQL: posting them would take minutes)."""
    run_body["metrics"] = [{"name": "accuracy", "value": 0.9, "n": 10000}]
    assert post_run(run_body).status_code == 201
    run = EvaluationRun.objects.get()
    result = MetricResult.objects.get()
    _clone(ModelVersion, run.model_version_id, VERSIONS, {
        "label": "'2.' || g", "first_seen_at": "s.first_seen_at + g * interval '1 minute'",
    })  # fmt: skip
    version = (
        f"(SELECT v.id FROM {ModelVersion._meta.db_table} v WHERE v.model_id = "
        f"{run.model_version.model_id} AND v.label = '2.' || (1 + g %% {VERSIONS}))"
    )
    _clone(EvaluationRun, run.pk, POINTS - 1, {
        "model_version_id": version,
        "recorded_at": "s.recorded_at + g * interval '1 minute'", "external_id": "NULL",
    })  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {MetricResult._meta.db_table}
                (run_id, series_id, model_version_id, value, n, n_pos, n_neg, ci_low, ci_high,
                 recorded_at)
            SELECT r.id, %s, r.model_version_id, 0.9 + (r.id %% 97) / 1000.0, 10000, NULL,
                   NULL, 0.85, 0.95, r.recorded_at
            FROM {EvaluationRun._meta.db_table} r WHERE r.id <> %s
            """,
            [result.series_id, run.pk],
        )
        cursor.execute("ANALYZE")


def streamed(api, file_format):
    """The export read chunk by chunk as a client would, keeping only its size: (bytes, rows,
    chunks, peak of Python memory allocated meanwhile, the SQL run)."""
    size = lines = chunks = 0
    with CaptureQueriesContext(connection) as queries:
        tracemalloc.start()
        try:
            response = api.get(f"{SERIES}&format={file_format}")
            for chunk in response.streaming_content:
                size, lines, chunks = size + len(chunk), lines + chunk.count(b"\n"), chunks + 1
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return size, lines, chunks, peak, [q["sql"] for q in queries.captured_queries]


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_a_100000_point_series_streams_in_bounded_memory(api, long_series):
    size, lines, chunks, peak, queries = streamed(api, "csv")

    assert lines == POINTS + 1  # the header and every point
    assert chunks > POINTS // downloads.CSV_FLUSH_ROWS
    # About 12 MB of CSV; all its rows as Python tuples would take several times that.
    assert size > 10_000_000
    assert peak < 4_000_000, f"peak {peak / 1e6:.1f} MB for a file of {size / 1e6:.1f} MB"
    assert any(sql.startswith("DECLARE") for sql in queries)  # a server-side cursor
    print(f"\nCSV: {size / 1e6:.1f} MB in {chunks} chunks, peak Python memory {peak / 1e6:.2f} MB")

    if downloads.parquet_available():
        size, _, chunks, peak, _ = streamed(api, "parquet")

        assert chunks > POINTS // downloads.PARQUET_GROUP_ROWS
        # Row groups of 10,000 rows: the rows of one group at a time.
        assert peak < 16_000_000, f"peak {peak / 1e6:.1f} MB"
        print(f"Parquet: {size / 1e6:.2f} MB in {chunks} chunks, peak {peak / 1e6:.2f} MB")

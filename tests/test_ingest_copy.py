"""Results are written set-based (COPY on PostgreSQL, one multi-row statement per 5,000 rows
elsewhere), without an ORM object per result: what lands in the table is exactly what the body
said, whatever its characters, and the stored point is the one the series API writes."""

import base64
import random
from datetime import datetime, timedelta, timezone

import pytest
from django.db import IntegrityError, connection

from evaluations.models import EvaluationRun, MetricResult, ModelVersion, Series
from evaluations.models.points import encode_point, point_encoder
from evaluations.services import ingest

# Labels and slices the validators let through that COPY's text format must escape or carry.
ODD = ["back\\slash", 'quo"te', "ünïcødé 🙂", "line\u2028sep", "\\N", "\\x00", "tab\\t"]


def body():
    metrics = [
        {"name": "accuracy", "slice": odd, "value": 0.1 * index, "n": 10}
        for index, odd in enumerate(ODD)
    ]
    metrics += [
        {"name": "tiny", "value": 5e-324},
        {"name": "huge", "value": -1.7976931348623157e308},
        {"name": "negative_zero", "value": -0.0},
        {"name": "whole", "value": 3, "n": 10**12},
        {"name": "auc_roc", "value": 0.81, "n": 1000, "n_pos": 400, "n_neg": 600},
        {"name": "f1", "value": 0.5, "ci_low": 0.25, "ci_high": 0.75},
        {"name": "exact_match", "value": 0.5, "n": 20,
         "outcomes": base64.b64encode(bytes([0b10101010, 0b11110000, 0b00110000])).decode()},
    ]  # fmt: skip
    return {
        "model": "copy-model",
        "version": 'v\\1 "quoted" ünï',
        "dataset": {"name": "holdout", "version": "2024-06"},
        "metrics": metrics,
    }


def stored(run_id):
    rows = MetricResult.objects.filter(run_id=run_id).select_related("series__metric")
    return {(r.series.metric.name, r.series.slice): r for r in rows}


def check_stored_as_posted(answer):
    results = stored(answer["id"])
    assert len(results) == len(body()["metrics"]) == len(answer["metrics"])
    for posted in body()["metrics"]:
        row = results[(posted["name"], posted.get("slice", "overall"))]
        assert row.value == posted["value"]  # exactly: 5e-324 and -DBL_MAX too
        for field in ("n", "n_pos", "n_neg", "ci_low", "ci_high"):
            assert getattr(row, field) == posted.get(field), (posted, field)
        if "outcomes" in posted:
            assert bytes(row.outcomes) == bytes([0b10101010, 0b11110000, 0b00110000])
        else:
            assert row.outcomes is None
        assert row.recorded_at.isoformat() == answer["recorded_at"].replace("Z", "+00:00")
        version = answer["version"]
        expected = encode_point(
            version, float(posted["value"]), posted.get("n"), posted.get("ci_low"),
            posted.get("ci_high"), answer["id"], row.recorded_at,
        )  # fmt: skip
        assert row.point == expected.decode()
    assert {r.model_version.label for r in results.values()} == {answer["version"]}


def test_the_columns_written_are_every_column_of_the_results_table_but_its_id():
    columns = {f.column for f in MetricResult._meta.concrete_fields if not f.primary_key}
    assert set(ingest.RESULT_COLUMNS) == columns
    assert len(ingest.RESULT_COLUMNS) == len(columns)


@pytest.mark.parametrize("vendor", ["postgresql", "other"])
def test_what_is_stored_is_what_was_posted(api, monkeypatch, vendor):
    """COPY on PostgreSQL; the other databases' path (SQLite in the demo) runs here too, by
    taking PostgreSQL for another database."""
    if vendor == "other":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    response = api.post("/api/v1/runs/", body(), format="json")
    assert response.status_code == 201, response.json()
    answer = response.json()
    check_stored_as_posted(answer)
    # The series API reads the stored points back as it would have written them.
    series = api.get(
        "/api/v1/models/copy-model/series/",
        {"metric": "accuracy", "dataset": "holdout", "slice": "back\\slash"},
    )
    assert series.status_code == 200, series.content
    (point,) = series.json()["points"]
    assert point["version"] == 'v\\1 "quoted" ünï' and point["run_id"] == answer["id"]


def test_a_result_the_database_refuses_stores_nothing_of_the_post(api, monkeypatch):
    """A row that breaks a constraint only the database checks fails the whole post, as the
    ORM insert did: the run, its version and its other results are not kept."""
    real = ingest._result_rows

    def with_a_broken_interval(runs):
        rows = real(runs)
        rows[-1] = (*rows[-1][:7], 0.9, 0.1, *rows[-1][9:])  # ci_low above ci_high
        return rows

    monkeypatch.setattr(ingest, "_result_rows", with_a_broken_interval)
    with pytest.raises(IntegrityError, match="result_ci_ordered"):
        api.post("/api/v1/runs/", body(), format="json")
    assert not MetricResult.objects.exists()
    assert not EvaluationRun.objects.exists()
    assert not ModelVersion.objects.exists()


def test_deleting_a_run_or_a_version_still_deletes_its_results(api):
    """The results' run and version have no constraint in the database: Django's cascade
    deletes their results."""
    first = api.post("/api/v1/runs/", body(), format="json").json()
    second = api.post("/api/v1/runs/", {**body(), "version": "2"}, format="json").json()
    assert MetricResult.objects.count() == 2 * len(body()["metrics"])

    EvaluationRun.objects.get(pk=first["id"]).delete()
    assert set(MetricResult.objects.values_list("run_id", flat=True)) == {second["id"]}
    ModelVersion.objects.get(label="2").delete()
    assert not MetricResult.objects.exists()


def test_a_runs_point_encoder_writes_the_bytes_encode_point_writes():
    rng = random.Random(3)
    at = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=-5)))
    values = [0.0, -0.0, 1.0, 3, 1e16, 1e-7, 5e-324, -1.7976931348623157e308, 2**53, 0.1]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-300, 300) for _ in range(500)]
    for label, run_id in (('v\\1 "quoted" ünï', 7), ("1.0", 2**62)):
        encode = point_encoder(label, run_id, at)
        for value in values:
            n = rng.choice([None, 0, 1, 10**12])
            low, high = rng.choice([(None, None), (value - 1, value + 1), (None, 0.5)])
            assert (
                encode(value, n, low, high)
                == encode_point(label, value, n, low, high, run_id, at).decode()
            )


@pytest.mark.parametrize("vendor", ["postgresql", "other"])
def test_a_run_is_stored_as_posted(api, monkeypatch, vendor):
    if vendor == "other":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    metadata = {"ünï": ["ok", 2**63 - 1, -1.5e-300, None, True], "nested": {"a": {"b": "\\\\"}}}
    runs = [
        {**body(), "version": "a", "seed": 2**63 - 1, "external_id": "ci-1", "commit": "abc",
         "branch": "feature/x", "environment": "shadow", "metadata": metadata,
         "started_at": "2026-11-20T09:00:00+02:00", "finished_at": "2026-11-20T10:00:00.25Z",
         "ci_url": "https://ci.example.com/1"},
        {**body(), "version": "b", "seed": -(2**63)},
    ]  # fmt: skip
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()
    first, second = (EvaluationRun.objects.get(pk=item["id"]) for item in response.json()["runs"])
    assert (first.seed, first.external_id, first.commit, first.branch, first.environment) == (
        2**63 - 1, "ci-1", "abc", "feature/x", "shadow",
    )  # fmt: skip
    assert first.metadata == metadata and first.ci_url == "https://ci.example.com/1"
    assert first.started_at.isoformat() == "2026-11-20T07:00:00+00:00"
    assert first.finished_at == first.recorded_at
    assert first.recorded_at.isoformat() == "2026-11-20T10:00:00.250000+00:00"
    assert first.gate_verdict is not None and len(first.payload_digest) == 64
    assert (second.seed, second.external_id, second.started_at, second.metadata) == (
        -(2**63), None, None, {},
    )  # fmt: skip
    assert second.recorded_at == second.created_at
    assert first.model_version.label == "a" and second.model_version.label == "b"
    assert MetricResult.objects.filter(run=first).count() == len(body()["metrics"])


@pytest.mark.django_db(transaction=True)  # series are remembered once their post commits
def test_a_post_to_series_deleted_since_they_were_remembered_recreates_them(api, run_body):
    assert api.post("/api/v1/runs/", run_body, format="json").status_code == 201
    Series.objects.all().delete()  # as deleting the model does, behind this process' back

    again = {**run_body, "version": "2.0", "external_id": None}
    response = api.post("/api/v1/runs/", again, format="json")

    assert response.status_code == 201, response.json()
    series = set(Series.objects.values_list("pk", flat=True))
    stored = set(MetricResult.objects.values_list("series_id", flat=True))
    assert stored and stored <= series
    assert len(response.json()["metrics"]) == MetricResult.objects.count()

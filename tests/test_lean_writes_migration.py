"""The migrations that make writes lean keep every fact: verdicts stored as jsonb read back the
same as json, results keep their runs, versions and series (now without constraints in the
database), and series lose only indexes."""

import pytest
from django.db import connection

BEFORE = [("evaluations", "0020_heartbeats")]
AFTER = [("evaluations", "0026_results_without_series_constraint")]
VERDICT = {
    "status": "failed",
    "base_branch": "main",
    "checks": [{"metric": "ünï", "slice": "overall", "rule": "min", "status": "failed",
                "passed": False, "message": 'a "quoted" \\ message', "value": 0.5,
                "limit": 1e-300, "delta": None}],
}  # fmt: skip


@pytest.mark.postgres
def test_verdicts_runs_and_results_survive_the_migrations(migrator):
    old = migrator.migrate(BEFORE)
    get = old.get_model
    project = get("evaluations", "Project").objects.create(name="acme")
    model = get("evaluations", "RegisteredModel").objects.create(project=project, name="m")
    dataset = get("evaluations", "EvaluationDataset").objects.create(project=project, name="h")
    metric = get("evaluations", "MetricDefinition").objects.create(
        project=project, name="accuracy", direction="higher_is_better"
    )
    branch = get("evaluations", "Branch").objects.create(model=model, name="main")
    series = get("evaluations", "Series").objects.create(
        model=model, dataset=dataset, metric=metric, branch=branch
    )
    version = get("evaluations", "ModelVersion").objects.create(model=model, label="1.0")
    runs = [
        get("evaluations", "EvaluationRun").objects.create(
            project=project, model_version=version, dataset=dataset, payload_digest=str(i),
            gate_verdict=verdict,
        )
        for i, verdict in enumerate([VERDICT, None])
    ]  # fmt: skip
    result = get("evaluations", "MetricResult").objects.create(
        run=runs[0],
        series=series,
        model_version=version,
        value=0.5,
        recorded_at=runs[0].recorded_at,
    )

    new = migrator.migrate(AFTER)

    Run = new.get_model("evaluations", "EvaluationRun")
    assert Run.objects.get(pk=runs[0].pk).gate_verdict == VERDICT
    assert Run.objects.get(pk=runs[1].pk).gate_verdict is None
    assert Run.objects.filter(gate_verdict__isnull=True).count() == 1
    stored = new.get_model("evaluations", "MetricResult").objects.get(pk=result.pk)
    assert (stored.run_id, stored.series_id, stored.model_version_id) == (
        runs[0].pk, series.pk, version.pk,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'evaluations_series'")
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'evaluations_series'")
        options = cursor.fetchone()[0]
        cursor.execute(
            "SELECT atttypid::regtype::text, attcompression FROM pg_attribute "
            "WHERE attrelid = 'evaluations_evaluationrun'::regclass AND attname = 'gate_verdict'"
        )
        verdict_column = cursor.fetchone()
        cursor.execute(
            "SELECT contype FROM pg_constraint "
            "WHERE conrelid = 'evaluations_metricresult'::regclass AND contype = 'f'"
        )
        result_foreign_keys = cursor.fetchall()
    assert len(indexes) == 4, indexes  # id, the key, due, failing
    assert options == ["fillfactor=70"]
    assert verdict_column == ("json", "l")  # lz4, which this server has
    assert result_foreign_keys == []  # run, version and series: checked by ingestion

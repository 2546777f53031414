"""POST /api/v1/runs/: storing what CI posts, and replays."""

import pytest

from evaluations.models import (
    EvaluationDataset,
    EvaluationRun,
    MetricDefinition,
    MetricResult,
    ModelVersion,
    RegisteredModel,
    Series,
)
from tests.conftest import client_for


def test_post_run_stores_everything_and_answers_201_with_the_run(post_run, run_body, project):
    response = post_run(run_body)

    assert response.status_code == 201, response.json()
    body = response.json()
    run = EvaluationRun.objects.get()
    assert body["id"] == run.pk
    assert body["url"] == f"http://127.0.0.1:8000/runs/{run.pk}/"
    assert body["model"] == "fraud-detector"
    assert body["version"] == "1.4.0"
    assert body["dataset"] == {"name": "holdout", "version": "2024-06", "size": 10000}
    assert body["environment"] == "offline"
    assert body["external_id"] == "ci-run-881-attempt-1"
    assert body["seed"] == 42
    assert body["commit"] == "abc123"
    assert body["ci_url"] == "https://ci.example.com/runs/881"
    assert body["recorded_at"] == "2026-11-20T10:00:00Z"
    assert body["gate"] == {"status": "no_baseline", "base_branch": "main", "checks": []}
    metrics = {(m["name"], m["slice"]): m for m in body["metrics"]}
    assert metrics[("accuracy", "overall")]["value"] == 0.931
    assert metrics[("accuracy", "overall")]["n"] == 10000
    assert metrics[("f1", "country=DE")]["value"] == 0.88
    assert metrics[("latency_p95_ms", "overall")]["direction"] == "lower_is_better"
    assert metrics[("latency_p95_ms", "overall")]["unit"] == "ms"

    assert run.project == project
    assert run.model_version.commit == "abc123"
    assert run.model_version.branch == "main"
    assert MetricResult.objects.filter(run=run).count() == 3
    assert Series.objects.count() == 3


def test_metrics_shorthand_object_and_dataset_name_string(post_run):
    response = post_run(
        {"model": "m", "version": "2", "dataset": "holdout", "metrics": {"accuracy": 0.9, "mae": 3}}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["dataset"] == {"name": "holdout", "version": "", "size": None}
    assert {m["name"]: m["value"] for m in body["metrics"]} == {"accuracy": 0.9, "mae": 3.0}


def test_new_metrics_take_direction_from_body_then_catalogue_then_name_rule(post_run):
    response = post_run(
        {
            "model": "m",
            "version": "1",
            "dataset": "d",
            "metrics": [
                {"name": "custom_score", "value": 1, "direction": "lower_is_better"},
                {"name": "rmse", "value": 1},
                {"name": "bleu", "value": 30},
                {"name": "val_loss", "value": 0.2},
                {"name": "eval_error_rate", "value": 0.1},
                {"name": "helpfulness", "value": 4.1},
            ],
        }
    )

    assert response.status_code == 201, response.json()
    stored = dict(MetricDefinition.objects.values_list("name", "direction"))
    assert stored == {
        "custom_score": "lower_is_better",
        "rmse": "lower_is_better",
        "bleu": "higher_is_better",
        "val_loss": "lower_is_better",
        "eval_error_rate": "lower_is_better",
        "helpfulness": "higher_is_better",
    }
    kinds = dict(MetricDefinition.objects.values_list("name", "kind"))
    assert kinds["rmse"] == "regression"
    assert kinds["bleu"] == "nlp"


def test_a_second_version_reuses_model_dataset_metrics_and_series(post_run, run_body):
    post_run(run_body)
    run_body.update(version="1.5.0", external_id="ci-run-882")

    assert post_run(run_body).status_code == 201
    assert RegisteredModel.objects.count() == 1
    assert ModelVersion.objects.count() == 2
    assert EvaluationDataset.objects.count() == 1
    assert MetricDefinition.objects.count() == 3
    assert Series.objects.count() == 3
    assert MetricResult.objects.count() == 6


def test_replay_with_same_external_id_and_body_returns_same_run_with_200(post_run, run_body):
    first = post_run(run_body)
    # The order of keys does not make it another body.
    replay = post_run(dict(reversed(list(run_body.items()))))

    assert first.status_code == 201
    assert replay.status_code == 200, replay.json()
    assert replay.json()["id"] == first.json()["id"]
    assert EvaluationRun.objects.count() == 1
    assert MetricResult.objects.count() == 3


def test_same_external_id_with_different_body_answers_409_and_writes_nothing(post_run, run_body):
    first = post_run(run_body).json()
    run_body["metrics"][0]["value"] = 0.5

    response = post_run(run_body)

    assert response.status_code == 409
    assert "external_id" in response.json()
    assert response.json()["run_id"] == first["id"]
    assert MetricResult.objects.get(series__metric__name="accuracy").value == 0.931


def test_runs_without_external_id_are_never_deduplicated(post_run, run_body):
    run_body.pop("external_id")

    assert post_run(run_body).status_code == 201
    assert post_run(run_body).status_code == 201
    assert EvaluationRun.objects.count() == 2


def test_external_ids_are_scoped_to_the_project(post_run, run_body, other_api):
    assert post_run(run_body).status_code == 201
    assert post_run(run_body, client=other_api).status_code == 201
    assert EvaluationRun.objects.count() == 2


def test_run_without_finished_at_is_placed_at_its_arrival(post_run, run_body):
    run_body.pop("finished_at")

    body = post_run(run_body).json()

    run = EvaluationRun.objects.get()
    assert body["finished_at"] is None
    assert run.recorded_at == run.created_at


def test_dataset_size_may_be_added_later_but_not_changed(post_run):
    base = {"model": "m", "version": "1", "metrics": {"accuracy": 0.9}}
    assert post_run({**base, "dataset": {"name": "d", "version": "v1"}}).status_code == 201
    assert (
        post_run({**base, "version": "2", "dataset": {"name": "d", "version": "v1", "size": 500}})
    ).status_code == 201
    assert EvaluationDataset.objects.get().size == 500

    response = post_run(
        {**base, "version": "3", "dataset": {"name": "d", "version": "v1", "size": 9}}
    )

    assert response.status_code == 400
    assert "size" in response.json()["dataset"]
    assert ModelVersion.objects.filter(label="3").count() == 0


def test_direction_contradicting_the_stored_metric_is_refused(post_run):
    base = {"model": "m", "dataset": "d"}
    post_run({**base, "version": "1", "metrics": {"accuracy": 0.9}})

    response = post_run(
        {
            **base,
            "version": "2",
            "metrics": [{"name": "accuracy", "value": 0.9, "direction": "lower_is_better"}],
        }
    )

    assert response.status_code == 400
    assert "direction" in response.json()["metrics"][0]
    assert EvaluationRun.objects.count() == 1


def test_batch_stores_many_runs_in_one_transaction(api):
    runs = [
        {"model": "m", "version": str(i), "dataset": "d", "external_id": f"r{i}",
         "metrics": {"accuracy": 0.9 + i / 1000}}
        for i in range(5)
    ]  # fmt: skip

    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")

    assert response.status_code == 201, response.json()
    assert [r["created"] for r in response.json()["runs"]] == [True] * 5
    assert EvaluationRun.objects.count() == 5
    replay = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert replay.status_code == 200
    assert [r["created"] for r in replay.json()["runs"]] == [False] * 5
    assert [r["id"] for r in replay.json()["runs"]] == [r["id"] for r in response.json()["runs"]]


def test_batch_with_one_bad_run_names_it_and_writes_nothing(api):
    runs = [
        {"model": "m", "version": "1", "dataset": "d", "metrics": {"accuracy": 0.9}},
        {"model": "m", "version": "2", "dataset": "d", "metrics": {"accuracy": "high"}},
    ]

    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")

    assert response.status_code == 400
    assert response.json()["runs"]["1"]["metrics"]["accuracy"]["value"]
    assert EvaluationRun.objects.count() == 0
    assert RegisteredModel.objects.count() == 0


def test_storing_a_run_gets_each_touched_series_analysed(
    post_run, run_body, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_run(run_body)

    assert Series.objects.count() == 3
    assert set(Series.objects.values_list("analysis_count", "dirty")) == {(1, False)}


def test_a_burst_of_posts_is_analysed_once_per_series(
    post_run, run_body, django_capture_on_commit_callbacks
):
    run_body.pop("external_id")
    # Three posts arrive before any queued job has run:
    with django_capture_on_commit_callbacks() as held:
        for version in ("1.0", "1.1", "1.2"):
            assert post_run({**run_body, "version": version}).status_code == 201
    assert set(Series.objects.values_list("dirty", flat=True)) == {True}
    for callback in held:
        callback()

    assert set(Series.objects.values_list("analysis_count", "dirty")) == {(1, False)}

    with django_capture_on_commit_callbacks(execute=True):
        post_run({**run_body, "version": "1.3"})

    assert set(Series.objects.values_list("analysis_count", "dirty")) == {(2, False)}


@pytest.mark.django_db(transaction=True)
def test_a_post_after_its_model_was_deleted_recreates_it(project, token, run_body):
    api = client_for(token)
    api.post("/api/v1/runs/", run_body, format="json")
    # Deleted behind the service's back (admin): the rows it remembers are gone.
    RegisteredModel.objects.all().delete()
    run_body["external_id"] = "ci-run-882"

    response = api.post("/api/v1/runs/", run_body, format="json")

    assert response.status_code == 201, response.content
    assert RegisteredModel.objects.count() == 1
    assert MetricResult.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_dataset_size_set_elsewhere_is_seen(project, token):
    def post_run(body):
        return client_for(token).post("/api/v1/runs/", body, format="json")

    base = {"model": "m", "metrics": {"accuracy": 0.9}}
    post_run({**base, "version": "1", "dataset": {"name": "d"}})
    # As if another server process had stored a size meanwhile:
    EvaluationDataset.objects.update(size=500)

    response = post_run({**base, "version": "2", "dataset": {"name": "d", "size": 9}})

    assert response.status_code == 400
    assert "size 500" in response.json()["dataset"]["size"][0]

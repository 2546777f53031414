"""Reading back: models, versions, runs (filtered, paginated) and metric series."""

import random
from datetime import UTC, datetime, timedelta

import pytest


@pytest.fixture
def history(api):
    """fraud-detector versions 1.0.0 .. 1.4.0 on holdout, one a day, plus a canary run."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    runs = [
        {
            "model": "fraud-detector",
            "version": f"1.{i}.0",
            "dataset": {"name": "holdout", "version": "2024-06"},
            "finished_at": (start + timedelta(days=i)).isoformat(),
            "metrics": [
                {"name": "accuracy", "value": 0.90 + i / 100, "n": 1000},
                {"name": "accuracy", "value": 0.80 + i / 100, "slice": "country=DE",
                 "ci_low": 0.7, "ci_high": 0.9},
            ],
        }
        for i in range(5)
    ]  # fmt: skip
    runs.append(
        {"model": "fraud-detector", "version": "1.4.0", "dataset": "live",
         "environment": "canary", "metrics": {"accuracy": 0.5}}
    )  # fmt: skip
    runs.append({"model": "churn", "version": "7", "dataset": "holdout", "metrics": {"mae": 3}})
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["runs"]


def test_models_list_shows_latest_version_and_count(api, history):
    body = api.get("/api/v1/models/").json()

    assert body["count"] == 2
    by_name = {m["name"]: m for m in body["results"]}
    assert by_name["fraud-detector"]["version_count"] == 5
    assert by_name["churn"]["latest_version"]["label"] == "7"


def test_versions_list_newest_first_with_run_counts(api, history):
    body = api.get("/api/v1/models/fraud-detector/versions/").json()

    assert body["count"] == 5
    labels = [v["label"] for v in body["results"]]
    assert labels == sorted(labels, reverse=True)
    assert {v["label"]: v["run_count"] for v in body["results"]}["1.4.0"] == 2


def test_versions_of_unknown_model_answer_404(api, history):
    response = api.get("/api/v1/models/nope/versions/")

    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_runs_list_filters_and_paginates(api, history):
    # Without a branch or environment: the default branch, offline.
    assert api.get("/api/v1/runs/").json()["count"] == 6
    assert api.get("/api/v1/runs/?environment=*").json()["count"] == 7
    assert api.get("/api/v1/runs/?model=fraud-detector").json()["count"] == 5
    assert api.get("/api/v1/runs/?model=fraud-detector&version=1.4.0").json()["count"] == 1
    query = "model=fraud-detector&version=1.4.0&environment=*"
    assert api.get(f"/api/v1/runs/?{query}").json()["count"] == 2
    assert api.get("/api/v1/runs/?dataset=live").json()["count"] == 0
    assert api.get("/api/v1/runs/?environment=canary").json()["count"] == 1
    assert api.get("/api/v1/runs/?branch=main").json()["count"] == 6
    assert api.get("/api/v1/runs/?branch=feature").json()["count"] == 0

    page = api.get("/api/v1/runs/?page_size=2").json()
    assert len(page["results"]) == 2
    assert page["next"]
    assert api.get(page["next"]).json()["previous"]


def test_runs_list_refuses_unknown_environment_by_name(api, history):
    response = api.get("/api/v1/runs/?environment=staging")

    assert response.status_code == 400
    assert "environment" in response.json()


def test_run_detail_has_metrics_and_unknown_run_is_404(api, history):
    body = api.get(f"/api/v1/runs/{history[0]['id']}/").json()

    assert body["version"] == "1.0.0"
    assert {(m["slice"], m["value"]) for m in body["metrics"]} == {
        ("overall", 0.9),
        ("country=DE", 0.8),
    }
    assert api.get("/api/v1/runs/999999/").status_code == 404


def test_series_returns_points_in_time_order(api, history):
    response = api.get(
        "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout&slice=overall"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "fraud-detector"
    assert body["metric"] == "accuracy"
    assert body["direction"] == "higher_is_better"
    assert body["dataset"] == {"name": "holdout", "version": "2024-06", "size": None}
    assert body["slice"] == "overall"
    assert [p["version"] for p in body["points"]] == [f"1.{i}.0" for i in range(5)]
    assert [p["value"] for p in body["points"]] == pytest.approx([0.90, 0.91, 0.92, 0.93, 0.94])
    first = body["points"][0]
    assert first["n"] == 1000
    assert first["at"] == "2026-11-01T00:00:00Z"
    assert first["run_id"] == history[0]["id"]
    assert set(first) == {
        "version", "value", "n", "ci_low", "ci_high", "run_id", "at", "replicates", "sd",
    }  # fmt: skip
    assert (first["replicates"], first["sd"]) == (1, None)  # one run, no seeds to spread
    assert (body["trend"], body["findings"], body["marks"]) == (None, [], [])
    assert body["alert_precision"]["precision"] is None


def test_series_read_again_after_a_new_run_has_its_point(api, history):
    path = "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout"
    assert len(api.get(path).json()["points"]) == 5

    api.post(
        "/api/v1/runs/",
        {"model": "fraud-detector", "version": "1.5.0",
         "dataset": {"name": "holdout", "version": "2024-06"}, "metrics": {"accuracy": 0.99}},
        format="json",
    )  # fmt: skip

    points = api.get(path).json()["points"]
    assert [p["version"] for p in points][-2:] == ["1.4.0", "1.5.0"]
    assert points[-1]["value"] == 0.99


def test_series_of_a_slice_carries_intervals(api, history):
    body = api.get(
        "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout&slice=country=DE"
    ).json()

    assert [(p["ci_low"], p["ci_high"]) for p in body["points"]] == [(0.7, 0.9)] * 5


def test_series_limit_keeps_the_latest_points(api, history):
    body = api.get(
        "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout&limit=2"
    ).json()

    assert [p["version"] for p in body["points"]] == ["1.3.0", "1.4.0"]


def test_series_needs_dataset_when_the_model_has_several(api, history):
    body = {"model": "fraud-detector", "version": "1.4.0", "dataset": "live",
            "metrics": {"accuracy": 0.5}}  # fmt: skip
    assert api.post("/api/v1/runs/", body, format="json").status_code == 201

    response = api.get("/api/v1/models/fraud-detector/series/?metric=accuracy")

    assert response.status_code == 400
    assert "holdout" in response.json()["dataset"][0]
    assert "live" in response.json()["dataset"][0]


def test_series_dataset_is_optional_when_the_model_has_one(api, history):
    response = api.get("/api/v1/models/churn/series/?metric=mae")

    assert response.status_code == 200
    assert response.json()["direction"] == "lower_is_better"


def test_series_errors_name_what_is_missing(api, history):
    assert "metric" in api.get("/api/v1/models/churn/series/").json()
    missing = api.get("/api/v1/models/churn/series/?metric=accuracy&dataset=holdout")
    assert missing.status_code == 404
    assert "accuracy" in missing.json()["detail"]
    assert api.get("/api/v1/models/churn/series/?metric=mae&limit=0").status_code == 400


@pytest.mark.postgres
def test_series_read_uses_a_bounded_number_of_queries(api, history, django_assert_max_num_queries):
    # Token, model, series, points, version labels, findings, marks, alert precision.
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout")
    assert response.status_code == 200


@pytest.mark.postgres
def test_runs_list_uses_a_bounded_number_of_queries(api, history, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/runs/?page_size=50&environment=*")
    assert len(response.json()["results"]) == 7


def test_a_series_read_after_posts_matches_a_fresh_read(api, history):
    from django.core.cache import cache

    path = "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout"
    latest_two = f"{path}&limit=2"
    api.get(path)
    api.get(latest_two)

    def post(version, finished_at):
        api.post(
            "/api/v1/runs/",
            {"model": "fraud-detector", "version": version, "finished_at": finished_at,
             "dataset": {"name": "holdout", "version": "2024-06"}, "metrics": {"accuracy": 0.97}},
            format="json",
        )  # fmt: skip

    def read_then_fresh():
        cached = api.get(path).json()["points"]
        cache.clear()
        fresh = api.get(path).json()["points"]
        return cached, fresh

    post("1.5.0", "2026-12-01T00:00:00Z")  # appended at the end
    appended, fresh = read_then_fresh()
    assert appended == fresh
    assert appended[-1]["version"] == "1.5.0"
    assert [p["version"] for p in api.get(latest_two).json()["points"]][-1] == "1.5.0"

    post("0.9.0", "2026-10-01T00:00:00Z")  # a backfill before the others
    backfilled, fresh = read_then_fresh()
    assert backfilled == fresh
    assert backfilled[0]["version"] == "0.9.0"


def test_a_cached_series_read_after_appends_backfills_and_ties_reads_as_fresh(api, monkeypatch):
    from django.core.cache import cache

    from evaluations.models import EvaluationRun
    from evaluations.selectors import series as series_selectors

    whole_reads = []
    read_whole = series_selectors._points_json
    monkeypatch.setattr(series_selectors, "_points_json",
                        lambda *args: whole_reads.append(args) or read_whole(*args))  # fmt: skip

    rng = random.Random(3)
    path = "/api/v1/models/m/series/?metric=accuracy"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Labels that need escaping in JSON, or look like the text between two points.
    labels = ['v,{"version":', "v\\", "vé", 'v"}', "v"]
    times = []
    for i in range(40):
        kind = rng.choice(["append", "append", "backfill", "tie"])
        if kind == "append" or not times:
            at = start + timedelta(hours=len(times) * 10)
        elif kind == "backfill":
            at = start - timedelta(hours=rng.randint(1, 500), microseconds=rng.randint(0, 9))
        else:  # the same time as an earlier point: the run id orders them
            at = rng.choice(times)
        times.append(at)
        body = {"model": "m", "version": f"{rng.choice(labels)}{i}", "dataset": "holdout",
                "finished_at": at.isoformat(), "metrics": {"accuracy": rng.random()}}  # fmt: skip
        assert api.post("/api/v1/runs/", body, format="json").status_code == 201
        if i == 30:  # a run deleted behind the API's back: the next post's read notices
            EvaluationRun.objects.filter(pk=rng.choice(list(EvaluationRun.objects.values_list(
                "pk", flat=True)))).delete()  # fmt: skip
            continue
        whole_reads.clear()
        cached = api.get(path).json()["points"]
        # A point that comes last is appended to the cached history; after a backfill or a
        # deletion (at i == 30) the history is read whole.
        if kind == "append" and i not in (0, 31):
            assert not whole_reads, i
        cache.clear()
        fresh = api.get(path).json()["points"]
        assert cached == fresh, (i, kind)
        assert [p["at"] for p in fresh] == sorted(p["at"] for p in fresh)
    assert len(fresh) == 39


def test_a_series_of_a_model_on_two_datasets_needs_its_dataset_named(api, history):
    """Without ``dataset``, a model evaluated on two datasets is ambiguous: the series and a
    missed mark answer 400 naming the field and the datasets to choose from."""
    other = {"model": "fraud-detector", "version": "1.4.0", "dataset": "stress",
             "metrics": {"accuracy": 0.7}}  # fmt: skip
    assert api.post("/api/v1/runs/", other, format="json").status_code == 201
    mark = {"metric": "accuracy", "version": "1.4.0", "note": "missed"}

    for response in (
        api.get("/api/v1/models/fraud-detector/series/?metric=accuracy"),
        api.post("/api/v1/models/fraud-detector/missed/", mark, format="json"),
    ):
        assert response.status_code == 400, response.content
        (message,) = response.json()["dataset"]
        assert message.startswith("Required: this model has results on")
        assert "holdout" in message and "stress" in message
    assert api.get("/api/v1/models/fraud-detector/missed/").json()["count"] == 0

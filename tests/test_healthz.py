"""GET /healthz: database and broker status for load balancers and compose; beat, worker and
analysis as their heartbeats and backlog show them."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from evaluations.models import (
    Branch,
    EvaluationDataset,
    Heartbeat,
    MetricDefinition,
    RegisteredModel,
    Series,
)
from tests.conftest import ROOT, database_url_for_processes, wait_until
from trackerapp.celery import app as celery_app


def test_healthz_reports_ok(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] in ("ok", "in-process")
    assert body["status"] == "ok"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")  # nothing listens there

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "database": "unavailable",
        "broker": response.json()["broker"],
    }
    connection.close()


def test_healthz_reports_a_dead_broker_as_degraded(client, db, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    # Celery reads the broker URL from this variable before its settings.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"] == "unavailable"
    assert response.json()["status"] == "degraded"


@pytest.mark.worker
def test_healthz_reaches_the_real_broker(client, db):
    response = client.get("/healthz")

    assert response.json()["broker"] == "ok"


def test_without_a_broker_beat_and_worker_are_in_process(client, db):
    body = client.get("/healthz").json()

    assert body["beat"] == {"state": "in-process"}
    assert body["worker"] == {"state": "in-process"}
    assert body["analysis"] == {"state": "ok", "due": 0, "oldest_due_seconds": 0, "failing": 0}


@pytest.fixture
def with_broker(monkeypatch):
    """Tasks go through a broker (whether it answers or not): beat and workers are needed."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)


def seen(process, seconds_ago):
    Heartbeat.objects.update_or_create(
        process=process, defaults={"at": timezone.now() - timedelta(seconds=seconds_ago)}
    )


def test_beat_and_worker_never_seen_are_stale(client, db, with_broker):
    body = client.get("/healthz").json()

    assert body["beat"] == {"state": "stale", "age_seconds": None}
    assert body["worker"] == {"state": "stale", "age_seconds": None}
    assert body["status"] == "degraded"


def test_a_dead_worker_is_stale_while_beat_is_fresh(client, db, with_broker, settings):
    settings.HEARTBEAT_STALE_SECONDS = 120
    seen("beat", 10)
    seen("worker", 600)

    response = client.get("/healthz")

    assert response.status_code == 200  # the web still serves: not for a load balancer
    body = response.json()
    assert body["beat"] == {"state": "ok", "age_seconds": 10}
    assert body["worker"] == {"state": "stale", "age_seconds": 600}
    assert body["status"] == "degraded"


def test_fresh_heartbeats_are_ok(client, db, with_broker, settings):
    settings.HEARTBEAT_STALE_SECONDS = 120
    seen("beat", 5)
    seen("worker", 7)

    body = client.get("/healthz").json()

    assert body["beat"] == {"state": "ok", "age_seconds": 5}
    assert body["worker"] == {"state": "ok", "age_seconds": 7}


def lagging_series(project, seconds):
    model = RegisteredModel.objects.create(project=project, name="fraud")
    series = Series.objects.create(
        model=model,
        dataset=EvaluationDataset.objects.create(project=project, name="holdout"),
        metric=MetricDefinition.objects.create(
            project=project, name="recall", direction="higher_is_better"
        ),
        branch=Branch.objects.create(model=model, name="main"),
        dirty=True,
        due_since=timezone.now() - timedelta(seconds=seconds),
    )
    return series


def test_a_series_waiting_past_the_lag_limit_is_lagging(client, project, settings):
    settings.ANALYSIS_LAG_SECONDS = 480
    lagging_series(project, 900)

    response = client.get("/healthz")

    assert response.status_code == 200
    analysis = response.json()["analysis"]
    assert analysis["state"] == "lagging"
    assert analysis["due"] == 1
    assert 900 <= analysis["oldest_due_seconds"] < 960
    assert response.json()["status"] == "degraded"


def test_strict_answers_503_for_anything_short_of_ok(client, project, settings):
    settings.ANALYSIS_LAG_SECONDS = 480
    assert client.get("/healthz?strict=1").status_code == 200

    lagging_series(project, 900)

    assert client.get("/healthz?strict=1").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_healthz_costs_a_few_queries(client, project, with_broker, django_assert_max_num_queries):
    lagging_series(project, 60)
    seen("beat", 1)

    with django_assert_max_num_queries(3):
        client.get("/healthz")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_running_beat_and_worker_show_fresh_heartbeats(client, celery_worker_process, tmp_path):
    """Beat, as deployed, sends heartbeats every second to the tests' worker."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_processes(),
        "CELERY_TASK_DEFAULT_QUEUE": celery_app.conf.task_default_queue,
        "HEARTBEAT_INTERVAL_SECONDS": "1",
        "SWEEP_INTERVAL_SECONDS": "3600",
    }
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trackerapp", "beat", "--loglevel", "info",
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def both_fresh():
            body = client.get("/healthz").json()
            return body if body["beat"]["state"] == body["worker"]["state"] == "ok" else None

        body = wait_until(both_fresh, timeout=60, interval=0.5)
    finally:
        beat.terminate()
        beat.wait(timeout=20)

    assert body, client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["beat"]["age_seconds"] <= 5
    assert body["worker"]["age_seconds"] <= 5


def test_a_failing_series_is_counted_apart_and_does_not_make_the_analysis_lag(
    client, project, settings
):
    settings.ANALYSIS_LAG_SECONDS = 480
    series = lagging_series(project, 3600)
    Series.objects.filter(pk=series.pk).update(analysis_failures=2, analysis_error="boom")

    analysis = client.get("/healthz").json()["analysis"]

    assert analysis == {"state": "ok", "due": 0, "oldest_due_seconds": 0, "failing": 1}

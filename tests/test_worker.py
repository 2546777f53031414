"""A real Celery worker runs the analysis job that storing a run enqueues."""

import time

import numpy as np
import pytest

from evaluations.models import Series
from evaluations.services import projects
from evaluations.tasks import sweep_series
from tests.conftest import client_for, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_posting_a_run_gets_each_touched_series_analysed_by_the_worker(
    celery_worker_process, run_body, settings
):
    settings.ANALYSIS_DELAY_SECONDS = 1
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])

    assert client.post("/api/v1/runs/", run_body, format="json").status_code == 201

    assert Series.objects.count() == 3
    analysed = wait_until(lambda: Series.objects.filter(analysis_count__gte=1).count() == 3)
    assert analysed, list(Series.objects.values("analysis_count", "dirty"))
    assert not Series.objects.filter(dirty=True).exists()
    assert celery_worker_process.poll() is None


def test_sweep_requeues_series_left_dirty(celery_worker_process, run_body, settings):
    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    client.post("/api/v1/runs/", run_body, format="json")
    wait_until(lambda: not Series.objects.filter(dirty=True).exists())
    # As if the broker had lost the jobs of a later run:
    Series.objects.update(dirty=True)
    settings.SWEEP_GRACE_SECONDS = 0

    sweep_series()  # what beat runs; the jobs it queues go to the worker

    assert wait_until(lambda: not Series.objects.filter(dirty=True).exists())
    assert set(Series.objects.values_list("analysis_count", flat=True)) == {2}


def test_a_burst_of_posts_gets_one_analysis_per_series(celery_worker_process, run_body, settings):
    settings.ANALYSIS_DELAY_SECONDS = 2
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    run_body.pop("external_id")

    for version in ("1.0", "1.1", "1.2", "1.3"):
        response = client.post("/api/v1/runs/", {**run_body, "version": version}, format="json")
        assert response.status_code == 201

    assert wait_until(lambda: not Series.objects.filter(dirty=True).exists())
    assert set(Series.objects.values_list("analysis_count", flat=True)) == {1}


def test_a_planted_drift_posted_through_the_api_becomes_a_finding_on_the_worker(
    celery_worker_process, settings
):
    from evaluations.models import Finding
    from tests.test_analysis_jobs import history, planted_drift

    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    rng = np.random.default_rng(8)
    flat = history(0.93 + rng.normal(0, 0.004, 60), model="stable-model")

    for runs in (history(planted_drift()), flat):
        response = client.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
        assert response.status_code == 201

    assert wait_until(lambda: Series.objects.filter(analysis_count__gte=1).count() == 2)
    assert wait_until(lambda: Finding.objects.exists())
    (finding,) = Finding.objects.select_related("series__model")
    assert (finding.kind, finding.series.model.name) == ("drift", "fraud-detector")


def test_an_smtp_outage_on_the_worker_delays_mail_and_delivers_each_once(
    celery_worker_process, settings, smtp
):
    from evaluations.models import Channel, Notification
    from tests.test_analysis_jobs import history, planted_drift

    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    Channel.objects.create(
        project=project, name="oncall", emails=["ana@example.com", "bo@example.com"]
    )
    client = client_for(projects.create_token(project=project)[1])
    smtp.stop()

    response = client.post("/api/v1/runs/batch/", {"runs": history(planted_drift())},
                           format="json")  # fmt: skip
    assert response.status_code == 201
    assert wait_until(lambda: Notification.objects.filter(attempts__gte=1).count() == 2)
    assert not Notification.objects.filter(state="sent").exists()
    smtp.start()

    assert wait_until(lambda: Notification.objects.filter(state="sent").count() == 2, timeout=60)
    time.sleep(1)  # a duplicate would arrive now
    assert sorted(rcpt for rcpts, _ in smtp.messages for rcpt in rcpts) == [
        "ana@example.com", "bo@example.com",
    ]  # fmt: skip


def test_an_experiment_rollback_reaches_subscribers_through_the_worker_despite_an_smtp_outage(
    celery_worker_process, settings, smtp
):
    from evaluations.models import Channel, Notification
    from tests.experiment_bodies import CANARY, canary_window

    settings.ALERT_DIGEST_SECONDS = 0  # the API queues the mail here, not on the worker
    project, _ = projects.ensure_project(name="acme")
    Channel.objects.create(project=project, name="oncall", emails=["ana@example.com"])
    client = client_for(projects.create_token(project=project)[1])
    smtp.stop()

    experiment = client.post("/api/v1/experiments/", CANARY, format="json").json()
    for index in range(60):
        window = canary_window(index, 0.05, error_rate=0.02)
        answer = client.post(f"/api/v1/experiments/{experiment['id']}/windows/", window,
                             format="json").json()  # fmt: skip
        if answer["decision"] != "continue":
            break

    assert answer["decision"] == "rollback"
    assert wait_until(lambda: Notification.objects.filter(attempts__gte=1).exists())
    assert not Notification.objects.filter(state="sent").exists()
    smtp.start()
    assert wait_until(lambda: Notification.objects.filter(state="sent").count() == 1, timeout=60)
    time.sleep(1)  # a duplicate would arrive now
    assert [rcpts for rcpts, _ in smtp.messages] == [["ana@example.com"]]
    assert smtp.messages[0][1]["Subject"].strip().startswith("Canary rolled back")


def test_a_webhook_that_throttles_then_fails_gets_the_alert_through_the_worker(
    celery_worker_process, settings
):
    from evaluations.models import Channel, Notification
    from tests.far_end import FarEnd, Reply
    from tests.test_analysis_jobs import history, planted_drift

    settings.ANALYSIS_DELAY_SECONDS = 0
    far_end = FarEnd().start()
    far_end.replies = [Reply(429, "slow down", {"Retry-After": "1"}), Reply(502, "bad gateway")]
    try:
        project, _ = projects.ensure_project(name="acme")
        Channel.objects.create(
            project=project, name="hook", kind="webhook", url=far_end.url, secret="x" * 16
        )
        client = client_for(projects.create_token(project=project)[1])

        response = client.post("/api/v1/runs/batch/", {"runs": history(planted_drift())},
                               format="json")  # fmt: skip
        assert response.status_code == 201

        assert wait_until(lambda: Notification.objects.filter(state="sent").exists(), timeout=60)
        time.sleep(1)  # a duplicate would arrive now
        assert [r.headers["X-Tracker-Delivery"] for r in far_end.requests] == [
            str(Notification.objects.get().batch_key)
        ] * 3
        assert Notification.objects.get().attempts == 3
    finally:
        far_end.stop()

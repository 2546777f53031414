"""Analysis is at-least-once per touched series: what a failing, dying or raced job leaves."""

import time
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from evaluations.models import Finding, MetricResult, Series
from evaluations.services import ingest, series_analysis
from tests.test_analysis_jobs import START

pytestmark = pytest.mark.django_db


def runs_of(columns, model="fraud-detector", start=0):
    """One run per row: ``columns`` maps a metric name to its values, oldest first."""
    length = len(next(iter(columns.values())))
    return [
        {
            "model": model,
            "version": f"1.{start + i}",
            "dataset": {"name": "holdout", "version": "v1"},
            "finished_at": (START + timedelta(days=start + i)).isoformat(),
            "metrics": [
                {"name": name, "value": float(values[i]), "direction": "higher_is_better"}
                for name, values in columns.items()
            ],
        }
        for i in range(length)
    ]


def stepped(seed=5, points=30, drop=0.12):
    """A clear step: the last 8 of ``points`` about ``drop`` (relative) below the rest."""
    rng = np.random.default_rng(seed)
    values = 0.9 + rng.normal(0, 0.004, points)
    values[-8:] -= 0.9 * drop
    return values


def poisoned(points=30):
    return np.array([1e308 if i % 2 else -1e308 for i in range(points)])


def post_batch(api, runs, capture):
    with capture(execute=True):
        response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()


def test_a_poisoned_series_fails_alone_and_its_neighbour_gets_its_finding(
    api, client, django_capture_on_commit_callbacks, django_user_model, project
):
    runs = runs_of({"accuracy": stepped(), "score": poisoned()})

    post_batch(api, runs, django_capture_on_commit_callbacks)

    (finding,) = Finding.objects.select_related("series__metric")
    assert (finding.kind, finding.series.metric.name) == ("step", "accuracy")
    healthy = Series.objects.get(metric__name="accuracy")
    assert (healthy.dirty, healthy.analysis_failures) == (False, 0)
    bad = Series.objects.get(metric__name="score")
    assert bad.dirty and bad.analysis_failures == 1
    assert "cannot be analysed" in bad.analysis_error
    assert bad.retry_at > timezone.now() + timedelta(seconds=50)
    health = client.get("/healthz").json()["analysis"]
    # Counted as failing, not as waiting: it waits out its backoff, the queue is not stuck.
    assert (health["failing"], health["due"], health["state"]) == (1, 0, "ok")
    user = django_user_model.objects.create_user("ana", password="pw")
    project.members.add(user)
    client.force_login(user)
    page = client.get("/projects/acme/models/fraud-detector/").content.decode()
    assert "Analysis failing on 1 series" in page
    assert "score" in page and "cannot be analysed" in page


def test_a_failing_series_is_retried_only_after_a_growing_backoff(
    api, django_capture_on_commit_callbacks, settings
):
    settings.SWEEP_GRACE_SECONDS = 0
    post_batch(api, runs_of({"score": poisoned()}), django_capture_on_commit_callbacks)
    bad = Series.objects.get()

    assert series_analysis.claim_due_series() == []  # still backing off
    Series.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
    assert series_analysis.claim_due_series() == [bad.pk]
    series_analysis.analyse_series(series_ids=[bad.pk])

    bad.refresh_from_db()
    assert bad.analysis_failures == 2
    delay = (bad.retry_at - bad.analysis_failed_at).total_seconds()
    assert delay == pytest.approx(2 * series_analysis.RETRY_FIRST_SECONDS)


def test_a_series_that_analyses_again_clears_its_failure(
    api, django_capture_on_commit_callbacks, settings
):
    settings.SWEEP_GRACE_SECONDS = 0
    post_batch(api, runs_of({"score": poisoned()}), django_capture_on_commit_callbacks)
    assert Series.objects.get().analysis_failures == 1
    MetricResult.objects.update(value=0.9)  # an operator corrected the stored values
    Series.objects.update(retry_at=timezone.now())

    series_analysis.analyse_series(series_ids=series_analysis.claim_due_series())

    series = Series.objects.get()
    assert (series.dirty, series.analysis_failures, series.analysis_error) == (False, 0, "")
    assert series.retry_at is None


def test_a_post_landing_while_a_job_runs_keeps_its_series_due(
    api, project, django_capture_on_commit_callbacks, monkeypatch
):
    post_batch(api, runs_of({"accuracy": stepped()}), django_capture_on_commit_callbacks)
    series = Series.objects.get()
    real_inputs = series_analysis.selectors.analysis_inputs

    def inputs_then_a_post(**kwargs):
        read = real_inputs(**kwargs)
        # A post commits after the job read the points, before it stores its analysis.
        (run,) = runs_of({"accuracy": [0.7]}, start=30)
        monkeypatch.setattr(ingest, "_schedule_analysis", lambda ids: None)
        ingest.ingest_run(project=project, payload=_validated(run))
        return read

    monkeypatch.setattr(series_analysis.selectors, "analysis_inputs", inputs_then_a_post)
    outcome = series_analysis.analyse_series(series_ids=[series.pk])

    assert outcome.still_due == [series.pk]
    series.refresh_from_db()
    assert series.dirty
    monkeypatch.setattr(series_analysis.selectors, "analysis_inputs", real_inputs)
    assert series_analysis.analyse_series(series_ids=[series.pk]).analysed == [series.pk]
    assert not Series.objects.get().dirty


class Died(BaseException):
    """What a killed worker leaves: the job stops between two statements."""


def test_a_job_that_dies_before_storing_leaves_every_series_due(
    api, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(series_analysis, "_store_quiet", _die)
    monkeypatch.setattr(series_analysis, "_store_one", _die)
    columns = {f"m{i}": stepped(seed=i) if i % 2 else 0.9 + np.zeros(30) for i in range(6)}

    with pytest.raises(Died):
        post_batch(api, runs_of(columns), django_capture_on_commit_callbacks)

    assert Series.objects.filter(dirty=True).count() == 6
    assert not Series.objects.filter(analysed_at__isnull=False).exists()


def _die(*args, **kwargs):
    raise Died


def test_a_busy_series_whose_job_was_lost_is_swept_while_posts_keep_coming(
    api, project, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.SWEEP_GRACE_SECONDS = 1
    monkeypatch.setattr(ingest, "_schedule_analysis", lambda ids: None)  # the job is lost
    post_batch(api, runs_of({"accuracy": stepped()}), django_capture_on_commit_callbacks)
    series = Series.objects.get()

    swept = []
    for i in range(4):  # a post every 0.4 s: the series is touched far more often than the grace
        (run,) = runs_of({"accuracy": [0.8]}, start=30 + i)
        ingest.ingest_run(project=project, payload=_validated(run))
        swept += series_analysis.claim_due_series()
        time.sleep(0.4)

    assert swept == [series.pk]  # once: the sweep marked it queued
    series_analysis.analyse_series(series_ids=swept)
    assert not Series.objects.get().dirty
    assert Finding.objects.filter(series=series).exists()


def _validated(body):
    from evaluations.api.serializers import RunInputSerializer

    serializer = RunInputSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

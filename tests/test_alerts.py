"""E-mail alerts: a planted drift posted through the API mails each subscriber once."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from evaluations.models import Channel, Finding, Notification, Series
from evaluations.services import alerts, findings, series_analysis
from tests.test_analysis_jobs import history, planted_drift, post_history


@pytest.fixture
def subscribed(project):
    return Channel.objects.create(
        project=project, name="ml-oncall", emails=["ana@example.com", "bo@example.com"]
    )


def drift_posted(api, capture):
    post_history(api, history(planted_drift()), capture)
    return Finding.objects.get()


def test_a_planted_drift_mails_each_subscriber_once(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    post_history(api, history(planted_drift()[:30]), django_capture_on_commit_callbacks)
    api.put("/api/v1/models/fraud-detector/baseline/", {"dataset": "holdout", "version": "1.29"},
            format="json")  # fmt: skip
    api.post("/api/v1/models/fraud-detector/thresholds/", {"metric": "accuracy", "min": 0.9},
             format="json")  # fmt: skip
    post_history(api, history(planted_drift()[30:], start=30), django_capture_on_commit_callbacks)
    finding = Finding.objects.get(kind="drift")

    assert sorted(rcpt for rcpts, _ in smtp.messages for rcpt in rcpts) == [
        "ana@example.com", "bo@example.com",
    ]  # fmt: skip
    _, message = smtp.messages[0]
    # A subject with a non-ASCII character (the minus) is folded after "Subject:"; mail
    # clients drop the whitespace that leaves, the parser keeps it.
    subject = message["Subject"].strip()
    assert subject.startswith("Slow drift: fraud-detector accuracy on holdout \u22120.")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert finding.message in text
    assert "Baseline:" in text and "Threshold: 0.9" in text
    assert f"http://127.0.0.1:8000/findings/{finding.pk}/" in text
    assert f"/findings/{finding.pk}/" in html
    assert message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert set(Notification.objects.values_list("state", "attempts")) == {("sent", 1)}


def test_analysing_the_same_evidence_again_sends_nothing(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    drift_posted(api, django_capture_on_commit_callbacks)
    series = Series.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        series_analysis.analyse_series(series_ids=[series.pk])

    assert len(smtp.messages) == 2
    assert Notification.objects.count() == 2


def test_an_smtp_outage_delays_mail_but_sends_each_once(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    smtp.stop()
    drift_posted(api, django_capture_on_commit_callbacks)  # the sends fail; a task retries
    failed = Notification.objects.filter(state="pending")
    assert failed.count() == 2 and all(n.attempts >= 1 and n.last_error for n in failed)

    smtp.start()
    for notification in Notification.objects.all():
        alerts.send(notification_id=notification.pk)
        alerts.send(notification_id=notification.pk)  # a duplicate delivery of the task

    assert len(smtp.messages) == 2
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


def test_unsubscribe_link_stops_further_mail(
    api, client, subscribed, smtp, django_capture_on_commit_callbacks
):
    link = alerts.unsubscribe_url(subscribed, "bo@example.com")
    path = link.removeprefix("http://127.0.0.1:8000")

    assert client.get(path).status_code == 200  # a confirmation page, no login needed
    assert client.post(path).status_code == 200
    drift_posted(api, django_capture_on_commit_callbacks)

    assert [rcpts for rcpts, _ in smtp.messages] == [["ana@example.com"]]
    assert client.post(path[:-3] + "xyz/").status_code == 400


def test_acknowledged_findings_stay_quiet_and_recovery_is_told_when_asked(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    subscribed.notify_recovered = True
    subscribed.save()
    finding = drift_posted(api, django_capture_on_commit_callbacks)
    api.post(f"/api/v1/findings/{finding.pk}/acknowledge/", format="json")
    smtp.messages.clear()

    post_history(api, history(0.93 + planted_drift()[:40] * 0, start=50),
                 django_capture_on_commit_callbacks)  # fmt: skip

    assert Finding.objects.get().status == "resolved"
    subjects = [message["Subject"] for _, message in smtp.messages]
    assert subjects and all(s.startswith("Recovered:") for s in subjects)


def test_findings_of_the_same_moment_arrive_as_one_digest(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    runs = history(planted_drift())
    for run, other in zip(runs, history(planted_drift(seed=9), metric="f1"), strict=True):
        run["metrics"] += other["metrics"]

    post_history(api, runs, django_capture_on_commit_callbacks)

    assert Finding.objects.count() == 2
    assert sorted(rcpt for rcpts, _ in smtp.messages for rcpt in rcpts) == [
        "ana@example.com", "bo@example.com",
    ]  # fmt: skip
    _, message = smtp.messages[0]
    assert message["Subject"].startswith("2 findings: fraud-detector ")
    assert "accuracy" in message["Subject"] and "f1" in message["Subject"]
    assert message.get_body(preferencelist=("plain",)).get_content().count("/findings/") == 2
    assert Notification.objects.filter(state="sent").count() == 4


def test_a_finding_that_doubles_is_told_once_more(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    finding = drift_posted(api, django_capture_on_commit_callbacks)
    smtp.messages.clear()
    told = finding.magnitude

    worse = history(0.918 - 0.0006 * np.arange(1, 41), start=50)  # the fall goes on
    post_history(api, worse, django_capture_on_commit_callbacks)

    finding.refresh_from_db()
    assert abs(finding.magnitude) >= 2 * abs(told)
    subjects = [message["Subject"].strip() for _, message in smtp.messages]
    assert len(subjects) == 2 and all(s.startswith("Still growing:") for s in subjects)


def test_subscriptions_api_and_notification_history(
    api, other_api, smtp, django_capture_on_commit_callbacks
):
    created = api.post(
        "/api/v1/subscriptions/",
        {"name": "oncall", "emails": ["ana@example.com"], "models": ["fraud-detector"],
         "kinds": ["drift", "step"]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    bad = api.post("/api/v1/subscriptions/", {"name": "x", "emails": ["nope"]}, format="json")
    assert bad.status_code == 400 and "emails" in bad.json()
    empty = api.post("/api/v1/subscriptions/", {"name": "x"}, format="json")
    assert empty.status_code == 400 and "emails" in empty.json()
    assert api.post("/api/v1/subscriptions/", {"name": "x", "emails": ["a@b.c"],
                    "kinds": ["weird"]}, format="json").status_code == 400  # fmt: skip

    finding = drift_posted(api, django_capture_on_commit_callbacks)

    history_ = api.get(f"/api/v1/notifications/?finding={finding.pk}").json()
    assert [(n["recipient"], n["state"], n["event"]) for n in history_["results"]] == [
        ("ana@example.com", "sent", "opened")
    ]
    assert other_api.get("/api/v1/subscriptions/").json()["count"] == 0
    assert other_api.get("/api/v1/notifications/").json()["count"] == 0
    sub_path = f"/api/v1/subscriptions/{created.json()['id']}/"
    assert other_api.delete(sub_path).status_code == 404
    assert api.delete(sub_path).status_code == 204


def test_mail_beyond_the_hourly_limit_is_held_and_summarised_in_the_next(
    api, subscribed, smtp, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_RATE_LIMIT_PER_HOUR = 1
    subscribed.emails = ["ana@example.com"]
    subscribed.save()
    first = drift_posted(api, django_capture_on_commit_callbacks)
    second = findings.record_findings(
        series=first.series, detected=[_step_detected(first), _baseline_detected(first)]
    ).opened  # a drop below the baseline too, when the hour's one mail is already sent
    (held,) = alerts.notify(opened=second)

    with pytest.raises(alerts.RateLimited):
        alerts.send(notification_id=held.pk)

    assert len(smtp.messages) == 1
    assert Notification.objects.get(pk=held.pk).last_error == "held back by the rate limit"
    # An hour later the next alert goes out together with what was held back:
    Notification.objects.filter(state="sent").update(sent_at=timezone.now() - timedelta(hours=2))
    (later,) = alerts.notify(opened=second)
    assert alerts.send(notification_id=later.pk)
    _, digest = smtp.messages[-1]
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert "1 of them held back" in text
    assert not Notification.objects.filter(state="pending").exists()


def _step_detected(finding):
    return findings.Detected(
        kind="step", start_version_id=finding.start_version_id,
        end_version_id=finding.end_version_id, magnitude=-0.01, relative_magnitude=-0.01,
        slope=None, p_value=0.001, confidence=0.999, forecast_versions=None,
        message="accuracy dropped",
    )  # fmt: skip


def _baseline_detected(finding):
    return findings.Detected(**{**_step_detected(finding).__dict__, "kind": "baseline_drop"})


def test_a_threshold_breach_on_the_latest_run_is_a_finding_and_an_alert(
    api, project, smtp, django_capture_on_commit_callbacks
):
    Channel.objects.create(
        project=project, name="gate", emails=["ana@example.com"], kinds=["threshold"],
        notify_recovered=True,
    )  # fmt: skip
    body = {"model": "fraud-detector", "dataset": "holdout", "metrics": {"accuracy": 0.95}}
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/runs/", {**body, "version": "1"}, format="json")
    api.post("/api/v1/models/fraud-detector/thresholds/", {"metric": "accuracy", "min": 0.9},
             format="json")  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        failed = api.post("/api/v1/runs/", {**body, "version": "2", "metrics": {"accuracy": 0.85}},
                          format="json")  # fmt: skip
    assert failed.json()["gate"]["status"] == "failed"
    finding = Finding.objects.get(kind="threshold")
    assert "accuracy 0.85 < floor 0.9" in finding.message
    assert [m["Subject"].strip() for _, m in smtp.messages] == [
        "Threshold breach: fraud-detector accuracy on holdout \u22120.0500"
    ]

    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/runs/", {**body, "version": "3"}, format="json")
    finding.refresh_from_db()
    assert finding.status == "resolved"
    assert smtp.messages[-1][1]["Subject"].startswith("Recovered:")

"""Experiment alerts: a rollback, a guardrail breach or a traffic split off plan mails the
project's alert subscribers once, through the pipeline findings use (a row before any mail,
sent once, held while SMTP is down)."""

import numpy as np
import pytest

from evaluations.models import Channel, Notification
from evaluations.services import alerts
from tests.experiment_bodies import CANARY, canary_window, create, post_window

SITE = "http://127.0.0.1:8000"


@pytest.fixture
def subscribed(project):
    return Channel.objects.create(
        project=project, name="ml-oncall", emails=["ana@example.com", "bo@example.com"]
    )


def post(api, experiment, window, capture, *, execute=True):
    with capture(execute=execute):
        answer = post_window(api, experiment, window)
    assert answer.status_code in (200, 201), answer.json()
    return answer.json()


def roll_back(api, experiment, capture, *, execute=True):
    """Windows with the candidate's errors doubled until the canary rolls back: the windows."""
    windows = []
    for index in range(60):
        windows.append(canary_window(index, 0.05, error_rate=0.02))
        answer = post(api, experiment, windows[-1], capture, execute=execute)
        if answer["decision"] != "continue":
            assert answer["decision"] == "rollback"
            return windows
    raise AssertionError("the canary never rolled back")


def body(message, kind="plain"):
    return message.get_body(preferencelist=(kind,)).get_content()


def test_a_canary_rolled_back_on_a_guardrail_mails_each_subscriber_once(
    api, member, subscribed, smtp, django_capture_on_commit_callbacks
):
    experiment = create(api, CANARY)
    windows = roll_back(api, experiment, django_capture_on_commit_callbacks)

    assert sorted(rcpt for rcpts, _ in smtp.messages for rcpt in rcpts) == [
        "ana@example.com", "bo@example.com",
    ]  # fmt: skip
    _, message = smtp.messages[0]
    assert message["Subject"].strip() == (
        "Canary rolled back, guardrail breached: fraud-detector 1.5.0 vs 1.4.0 (fraud 1.5 canary)"
    )
    text, html = body(message), body(message, "html")
    assert "- error_rate: candidate " in text and "beyond the allowed 0.20 points" in text
    assert "Send the candidate's traffic back to 1.4.0" in text
    assert "the candidate had 5% of traffic" in text
    assert "1.5.0" in text and "approval_rate" in text and "latency_ms" in text
    experiment_link = f"{SITE}/experiments/{experiment['id']}/"
    model_link = f"{SITE}/projects/acme/models/fraud-detector/"
    assert experiment_link in text and experiment_link in html and model_link in text
    assert message["List-Unsubscribe"].strip().startswith(f"<{SITE}/unsubscribe/")
    # Every link the mail carries opens, for a member of the project.
    for link in (experiment_link, model_link):
        assert member.get(link.removeprefix(SITE)).status_code == 200
    assert set(Notification.objects.values_list("state", "attempts", "event")) == {
        ("sent", 1, "experiment")
    }

    # The serving system posts the last window again (a retry): nothing is told twice.
    post(api, experiment, windows[-1], django_capture_on_commit_callbacks)
    assert len(smtp.messages) == 2 and Notification.objects.count() == 2
    listed = api.get("/api/v1/notifications/", {"experiment": experiment["id"]}).json()
    assert [n["experiment"] for n in listed["results"]] == [experiment["id"]] * 2


def test_a_traffic_split_off_plan_is_told_when_it_appears_not_after_every_window(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    experiment = create(api, {**CANARY, "planned_split": {"1.4.0": 95, "1.5.0": 5}})

    decisions = [
        post(api, experiment, canary_window(index, 0.08), django_capture_on_commit_callbacks)
        for index in range(5)
    ]

    assert [d["srm"]["mismatch"] for d in decisions] == [True] * 5
    assert [d["decision"] for d in decisions] == ["continue"] * 5
    subjects = {message["Subject"].strip() for _, message in smtp.messages}
    assert subjects == {
        "Canary traffic split off plan: fraud-detector 1.5.0 vs 1.4.0 (fraud 1.5 canary)"
    }
    assert len(smtp.messages) == 2
    assert "No promotion until the split matches again" in body(smtp.messages[0][1])


def test_subscriptions_narrowed_to_other_kinds_or_models_hear_nothing(
    api, project, smtp, django_capture_on_commit_callbacks
):
    for name, kinds, models in (("drift-only", ["drift"], []),
                                ("srm-only", ["sample_ratio_mismatch"], []),
                                ("other-model", [], ["churn"]),
                                ("rollbacks", ["rollback"], ["fraud-detector"])):  # fmt: skip
        Channel.objects.create(
            project=project, name=name, emails=[f"{name}@example.com"], kinds=kinds,
            model_names=models,
        )  # fmt: skip
    experiment = create(api, CANARY)

    roll_back(api, experiment, django_capture_on_commit_callbacks)

    assert [rcpts for rcpts, _ in smtp.messages] == [["rollbacks@example.com"]]


def test_a_shadow_slower_than_allowed_is_not_safe_and_says_so(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    shadow = {
        **CANARY, "name": "fraud 1.5 shadow", "kind": "shadow",
        "primary_metric": {"name": "agreement", "type": "proportion",
                           "direction": "higher_is_better", "min": 0.9},
        "guardrails": [{"name": "latency_ms", "type": "mean", "direction": "lower_is_better",
                        "max_degradation": 5.0}],
    }  # fmt: skip
    experiment = create(api, shadow)
    rng = np.random.default_rng(4)
    for index in range(50):
        arms = {}
        for label, mean in (("1.4.0", 100.0), ("1.5.0", 112.0)):
            latency = rng.normal(mean, 15, 2_000)
            arms[label] = {"n": 2_000, "metrics": {"latency_ms": {
                "sum": float(latency.sum()), "sum_sq": float((latency**2).sum())}}}  # fmt: skip
        window = {"window_id": f"s{index}", "start": "2026-12-06T00:00:00Z",
                  "end": "2026-12-06T00:10:00Z", "arms": arms,
                  "agreement": {"n": 2_000, "agree": 1_950}}  # fmt: skip
        answer = post(api, experiment, window, django_capture_on_commit_callbacks)
        if answer["decision"] != "continue":
            break

    assert answer["decision"] == "not_safe"
    assert answer["reasons"][0].startswith("latency_ms: candidate 1")
    assert [c["status"] for c in answer["checks"]] == ["cleared", "breached"]
    subjects = {message["Subject"].strip() for _, message in smtp.messages}
    assert subjects == {
        "Shadow not safe to switch, guardrail breached: fraud-detector 1.5.0 vs 1.4.0 "
        "(fraud 1.5 shadow)"
    }
    assert "Keep 1.4.0 serving" in body(smtp.messages[0][1])


def test_an_smtp_outage_delays_an_experiment_alert_but_sends_it_once(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    smtp.stop()
    experiment = create(api, CANARY)
    roll_back(api, experiment, django_capture_on_commit_callbacks)  # the sends fail and retry
    pending = Notification.objects.filter(state="pending")
    assert pending.count() == 2 and all(n.attempts >= 1 and n.last_error for n in pending)

    smtp.start()
    for notification in Notification.objects.all():
        alerts.send(notification_id=notification.pk)
        alerts.send(notification_id=notification.pk)  # a duplicate delivery of the task

    assert len(smtp.messages) == 2
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


def test_experiments_that_roll_back_together_arrive_as_one_digest(
    api, subscribed, smtp, django_capture_on_commit_callbacks
):
    first = create(api, CANARY)
    second = create(api, {**CANARY, "name": "fraud 1.6 canary", "candidates": ["1.6.0"]})
    roll_back(api, first, django_capture_on_commit_callbacks, execute=False)
    for index in range(60):  # the same windows, the second candidate as 1.6.0
        window = canary_window(index, 0.05, error_rate=0.02)
        window["arms"]["1.6.0"] = window["arms"].pop("1.5.0")
        if (
            post(api, second, window, django_capture_on_commit_callbacks, execute=False)["decision"]
            != "continue"
        ):
            break

    alerts.send(notification_id=Notification.objects.order_by("pk").first().pk)

    (rcpts, message), *_ = smtp.messages
    assert rcpts == ["ana@example.com"]
    assert message["Subject"].strip() == (
        "2 alerts: fraud-detector fraud 1.5 canary, fraud-detector fraud 1.6 canary"
    )
    text = body(message)
    assert text.count("Canary rolled back, guardrail breached: fraud-detector") == 2
    assert f"/experiments/{first['id']}/" in text and f"/experiments/{second['id']}/" in text

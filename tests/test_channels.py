"""Alert channels behind one seam: a signed webhook, Slack and Microsoft Teams get what e-mail
gets (once, retried while the far end fails, never lost), against real local HTTP servers that
answer 200, 500, 404, 429 with Retry-After, or hang."""

import hashlib
import hmac
import re
import textwrap
import time
from pathlib import Path

import pytest

from evaluations import links
from evaluations.models import Channel, Finding, Notification
from evaluations.services import alerts
from tests.far_end import FarEnd, Reply
from tests.test_alerts import drift_posted
from tests.test_analysis_jobs import history, planted_drift, post_history

SECRET = "s3cret-of-the-receiver-0123"


@pytest.fixture
def far_end():
    server = FarEnd().start()
    yield server
    server.stop()


def make(api, **body):
    response = api.post("/api/v1/channels/", {"name": "hook", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def verify(received, secret=SECRET):
    """What a receiver does: check the signature over "<t>.<raw body>" and the timestamp."""
    parts = dict(part.split("=", 1) for part in received.headers["X-Tracker-Signature"].split(","))
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + received.body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], mac.hexdigest())
    assert abs(time.time() - int(parts["t"])) < 300


def test_a_webhook_gets_each_finding_once_signed_with_its_delivery_id(
    api, far_end, django_capture_on_commit_callbacks
):
    make(api, kind="webhook", url=far_end.url, secret=SECRET)

    finding = drift_posted(api, django_capture_on_commit_callbacks)

    (received,) = far_end.requests
    verify(received)
    body = received.json()
    (alert,) = body["alerts"]
    assert (alert["kind"], alert["event"], alert["model"], alert["metric"], alert["dataset"]) == (
        "drift", "opened", "fraud-detector", "accuracy", "holdout",
    )  # fmt: skip
    assert alert["change"] == pytest.approx(finding.magnitude)
    assert alert["sentence"] == finding.message
    assert alert["title"].startswith("Slow drift: fraud-detector accuracy on holdout")
    assert alert["links"]["finding"] == f"http://127.0.0.1:8000/findings/{finding.pk}/"
    assert alert["links"]["chart"].startswith("http://127.0.0.1:8000/projects/acme/models/")
    notification = Notification.objects.get()
    assert received.headers["X-Tracker-Delivery"] == body["delivery"] == str(notification.batch_key)
    assert (notification.state, notification.attempts, notification.recipient) == ("sent", 1, "")


def test_a_failing_far_end_gets_the_same_delivery_again_until_it_takes_it(
    api, far_end, django_capture_on_commit_callbacks
):
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    far_end.replies = [Reply(500, "down"), Reply(503, "still down")]

    drift_posted(api, django_capture_on_commit_callbacks)  # the first attempt fails
    notification = Notification.objects.get()
    assert (notification.state, notification.attempts) == ("pending", 1)
    assert notification.last_error.startswith("HTTP 500: down")
    with pytest.raises(alerts.SendFailed):
        alerts.send(notification_id=notification.pk)
    assert alerts.send(notification_id=notification.pk) is True
    assert alerts.send(notification_id=notification.pk) is False  # a duplicate task: nothing

    assert len(far_end.requests) == 3
    ids = {r.headers["X-Tracker-Delivery"] for r in far_end.requests}
    assert ids == {str(Notification.objects.get().batch_key)}
    assert len({r.json()["alerts"][0]["sentence"] for r in far_end.requests}) == 1
    assert Notification.objects.get().state == "sent"


def test_a_429_is_retried_after_the_seconds_it_asks_for(
    api, far_end, django_capture_on_commit_callbacks
):
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    far_end.replies = [Reply(429, "slow down", {"Retry-After": "7"})] * 2

    drift_posted(api, django_capture_on_commit_callbacks)
    with pytest.raises(alerts.SendFailed) as failed:
        alerts.send(notification_id=Notification.objects.get().pk)

    assert failed.value.retry_after == 7.0
    assert Notification.objects.get().state == "pending"


def test_a_4xx_is_a_permanent_failure_shown_on_the_finding(
    api, member, far_end, django_capture_on_commit_callbacks
):
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    far_end.replies = [Reply(404, "no such hook")]

    finding = drift_posted(api, django_capture_on_commit_callbacks)

    notification = Notification.objects.get()
    assert (notification.state, notification.attempts) == ("failed", 1)
    assert alerts.send(notification_id=notification.pk) is False  # never tried again
    assert len(far_end.requests) == 1
    page = member.get(f"/findings/{finding.pk}/").content.decode()
    assert "HTTP 404: no such hook" in page and "failed" in page


def test_a_far_end_that_hangs_costs_one_timeout_and_is_retried(
    api, far_end, settings, django_capture_on_commit_callbacks
):
    settings.CHANNEL_TIMEOUT_SECONDS = 1
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    far_end.replies = [Reply(200, delay=4)]

    started = time.monotonic()
    drift_posted(api, django_capture_on_commit_callbacks)
    notification = Notification.objects.get()

    assert time.monotonic() - started < 3.5
    assert notification.state == "pending" and "Timeout" in notification.last_error
    assert alerts.send(notification_id=notification.pk) is True


def test_findings_of_one_moment_reach_a_webhook_as_one_delivery(
    api, far_end, django_capture_on_commit_callbacks
):
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    runs = history(planted_drift())
    for run, other in zip(runs, history(planted_drift(seed=9), metric="f1"), strict=True):
        run["metrics"] += other["metrics"]

    post_history(api, runs, django_capture_on_commit_callbacks)

    (received,) = far_end.requests
    assert sorted(a["metric"] for a in received.json()["alerts"]) == ["accuracy", "f1"]
    assert len({n.batch_key for n in Notification.objects.all()}) == 1


def test_slack_gets_a_block_kit_message_with_buttons(
    api, far_end, django_capture_on_commit_callbacks
):
    make(api, kind="slack", url=far_end.url.replace("http:", "https:"))
    Channel.objects.update(url=far_end.url)  # the test's far end speaks plain HTTP

    finding = drift_posted(api, django_capture_on_commit_callbacks)

    message = far_end.requests[0].json()
    assert message["text"].startswith("Slow drift: fraud-detector accuracy on holdout")
    section, actions = message["blocks"]
    assert finding.message.replace("<", "&lt;") in section["text"]["text"]
    assert [b["url"] for b in actions["elements"]] == [
        f"http://127.0.0.1:8000/findings/{finding.pk}/",
        links.model_chart_url(finding.series),
    ]
    assert "X-Tracker-Signature" not in far_end.requests[0].headers


def test_teams_gets_an_adaptive_card(api, far_end, django_capture_on_commit_callbacks):
    make(api, kind="teams", url=far_end.url.replace("http:", "https:"))
    Channel.objects.update(url=far_end.url)

    finding = drift_posted(api, django_capture_on_commit_callbacks)

    (attachment,) = far_end.requests[0].json()["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"].startswith("Slow drift:")
    assert card["body"][1]["text"] == finding.message
    assert card["actions"][0]["url"].endswith(f"/findings/{finding.pk}/")


def test_a_channel_never_answers_its_url_or_secret_back(api, far_end):
    slack_url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXsecretZYXW"
    created = make(api, kind="slack", url=slack_url)
    webhook = make(api, name="hook2", kind="webhook", url=far_end.url, secret=SECRET)

    listed = api.get("/api/v1/channels/").content.decode()
    detail = api.get(f"/api/v1/channels/{created['id']}/").json()

    assert "XXXXXXXXsecret" not in listed and SECRET not in listed
    assert detail["url_hint"] == "https://hooks.slack.com/…ZYXW" and "url" not in detail
    assert webhook["secret_set"] is True and "secret" not in webhook
    changed = api.patch(f"/api/v1/channels/{created['id']}/", {"kinds": ["rollback"]},
                        format="json")  # fmt: skip
    assert changed.status_code == 200
    assert Channel.objects.get(pk=created["id"]).url == slack_url  # kept


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "webhook", "url": "https://example.com/h"}, "secret"),
        ({"kind": "webhook", "url": "https://example.com/h", "secret": "short"}, "secret"),
        ({"kind": "webhook", "secret": SECRET}, "url"),
        ({"kind": "slack", "url": "http://hooks.slack.com/services/x"}, "url"),
        ({"kind": "teams", "url": "ftp://example.com/x"}, "url"),
        ({"kind": "slack", "url": "https://hooks.slack.com/x", "secret": SECRET}, "secret"),
        ({"kind": "email", "emails": ["a@example.com"], "url": "https://example.com"}, "url"),
        ({"kind": "email"}, "emails"),
        ({"kind": "pager", "url": "https://example.com"}, "kind"),
        ({"kind": "slack", "url": "https://hooks.slack.com/x", "emails": ["a@b.co"]}, "emails"),
        ({"kind": "email", "emails": ["a@example.com"], "kinds": ["nope"]}, "kinds"),
    ],
)
def test_bad_channels_are_refused_by_field(api, body, field):
    response = api.post("/api/v1/channels/", {"name": "bad", **body}, format="json")

    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Channel.objects.exists()


def test_a_test_message_goes_out_at_once_and_says_whether_it_arrived(api, far_end):
    hook = make(api, kind="webhook", url=far_end.url, secret=SECRET)

    ok = api.post(f"/api/v1/channels/{hook['id']}/test/").json()
    far_end.replies = [Reply(500, "broken")]
    broken = api.post(f"/api/v1/channels/{hook['id']}/test/").json()

    assert ok == {"delivered": True, "destinations": 1, "error": ""}
    assert broken["delivered"] is False and broken["error"].startswith("HTTP 500")
    (alert,) = far_end.requests[0].json()["alerts"]
    assert alert["kind"] == "test" and alert["links"]["project"].endswith("/projects/acme/")
    verify(far_end.requests[0])
    assert not Notification.objects.exists()


def test_an_e_mail_channels_test_reaches_each_address(api, smtp):
    channel = make(api, kind="email", emails=["ana@example.com", "bo@example.com"])

    answer = api.post(f"/api/v1/channels/{channel['id']}/test/").json()

    assert answer == {"delivered": True, "destinations": 2, "error": ""}
    assert sorted(r for rcpts, _ in smtp.messages for r in rcpts) == [
        "ana@example.com", "bo@example.com",
    ]  # fmt: skip
    assert smtp.messages[0][1]["Subject"].startswith("Test alert: channel 'hook' of acme works")


def test_a_webhooks_alerts_beyond_the_hourly_limit_wait(
    api, far_end, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_RATE_LIMIT_PER_HOUR = 1
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    drift_posted(api, django_capture_on_commit_callbacks)
    finding = Finding.objects.get()
    later = Notification.objects.create(
        channel=Channel.objects.get(), recipient="", event=Notification.Event.GREW
    )
    later.findings.add(finding)

    with pytest.raises(alerts.RateLimited):
        alerts.send(notification_id=later.pk)

    assert len(far_end.requests) == 1
    assert Notification.objects.get(pk=later.pk).state == "pending"


def test_e_mail_subscriptions_became_e_mail_channels(migrator):
    old = migrator.migrate([("evaluations", "0018_experiment_alerts")])
    project = old.get_model("evaluations", "Project").objects.create(name="acme")
    subscription = old.get_model("evaluations", "AlertSubscription").objects.create(
        project=project, name="oncall", emails=["ana@example.com"], kinds=["drift"],
        unsubscribed=["bo@example.com"],
    )  # fmt: skip
    old.get_model("evaluations", "Notification").objects.create(
        subscription=subscription, recipient="ana@example.com", event="opened", state="sent"
    )

    new = migrator.migrate([("evaluations", "0019_channels")])

    channel = new.get_model("evaluations", "Channel").objects.get()
    assert (channel.pk, channel.kind, channel.emails, channel.kinds, channel.unsubscribed) == (
        subscription.pk, "email", ["ana@example.com"], ["drift"], ["bo@example.com"],
    )  # fmt: skip
    notification = new.get_model("evaluations", "Notification").objects.get()
    assert notification.channel_id == channel.pk


def test_the_readmes_verification_snippet_accepts_a_delivery_and_refuses_a_forgery(
    api, far_end, django_capture_on_commit_callbacks
):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (snippet,) = re.findall(r"```python\n(\s*import hashlib, hmac, time\n.*?)```", readme, re.S)
    scope = {}
    exec(textwrap.dedent(snippet), scope)
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    drift_posted(api, django_capture_on_commit_callbacks)
    (received,) = far_end.requests
    header = received.headers["X-Tracker-Signature"]

    assert scope["verify"](SECRET, header, received.body)
    assert not scope["verify"](SECRET, header, received.body.replace(b"drift", b"step!"))
    assert not scope["verify"]("another-secret-entirely", header, received.body)


def test_a_digest_costs_the_same_queries_however_many_alerts_it_carries(
    api, far_end, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    make(api, kind="webhook", url=far_end.url, secret=SECRET)
    far_end.replies = [Reply(500, "down")]
    finding = drift_posted(api, django_capture_on_commit_callbacks)  # its delivery failed
    channel = Channel.objects.get()
    for _ in range(30):
        later = Notification.objects.create(channel=channel, event=Notification.Event.GREW)
        later.findings.add(finding)
    first = Notification.objects.order_by("pk").first()
    alerts.send(notification_id=first.pk)  # the failed batch, alone, goes out
    pending = Notification.objects.filter(state="pending").order_by("pk").first()

    with django_assert_max_num_queries(12):
        assert alerts.send(notification_id=pending.pk) is True

    assert len(far_end.requests[-1].json()["alerts"]) == 30
    assert not Notification.objects.filter(state="pending").exists()

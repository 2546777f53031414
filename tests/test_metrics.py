"""GET /metrics: Prometheus' text format, HTTP requests by route (never by raw path), the data's
figures read from the database in a fixed number of queries, and who may read it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from evaluations.models import Channel, Finding, Notification, Series
from evaluations.services import heartbeats


def scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def samples(text):
    """{(name, frozenset(labels)): value} of every sample in an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())))


def notify(project, state, count, kind="email"):
    channel, _ = Channel.objects.get_or_create(
        project=project, name=f"team-{kind}", kind=kind,
        url="" if kind == "email" else "https://hooks.example.com/x",
    )  # fmt: skip
    for _ in range(count):
        Notification.objects.create(
            channel=channel, recipient="ana@example.com" if kind == "email" else "",
            event="opened", state=state,
        )  # fmt: skip


def test_metrics_count_what_is_stored_waiting_and_open(client, post_run, run_body, project):
    assert post_run(run_body).status_code == 201
    run_body["external_id"], run_body["version"] = "ci-run-882", "1.5.0"
    assert post_run(run_body).status_code == 201
    series = Series.objects.order_by("pk")
    Series.objects.update(dirty=False, due_since=None)  # as if analysed
    Series.objects.filter(pk=series[0].pk).update(
        dirty=True, due_since=timezone.now() - timedelta(seconds=600)
    )
    Series.objects.filter(pk=series[1].pk).update(dirty=True, due_since=timezone.now())
    Finding.objects.create(series=series[0], kind="drift", magnitude=0.1, message="drift")
    notify(project, "pending", 2)
    notify(project, "failed", 1)
    notify(project, "sent", 4)
    notify(project, "pending", 3, kind="slack")
    heartbeats.record_heartbeat(process="worker")

    text = scrape(client)

    assert value(text, "tracker_runs_stored") == 2
    assert value(text, "tracker_results_stored") == 6
    assert value(text, "tracker_series_waiting_analysis") == 2
    assert 595 <= value(text, "tracker_series_oldest_waiting_seconds") <= 660
    assert value(text, "tracker_findings_open") == 1
    assert value(text, "tracker_notifications", channel="email", state="pending") == 2
    assert value(text, "tracker_notifications", channel="email", state="failed") == 1
    assert value(text, "tracker_notifications", channel="email", state="sent") is None
    assert value(text, "tracker_notifications", channel="slack", state="pending") == 3
    assert value(text, "tracker_notifications", channel="webhook", state="failed") == 0
    assert 0 <= value(text, "tracker_heartbeat_age_seconds", process="worker") < 60
    assert value(text, "tracker_heartbeat_age_seconds", process="beat") is None


def test_an_empty_service_reports_zeros(client, db):
    text = scrape(client)

    assert value(text, "tracker_runs_stored") == 0
    assert value(text, "tracker_series_waiting_analysis") == 0
    assert value(text, "tracker_series_oldest_waiting_seconds") == 0
    assert value(text, "tracker_notifications", channel="email", state="failed") == 0


def test_a_scrape_costs_a_fixed_number_of_queries(
    client, post_run, run_body, project, django_assert_max_num_queries
):
    for index in range(5):
        run_body["external_id"], run_body["version"] = f"run-{index}", f"1.{index}.0"
        assert post_run(run_body).status_code == 201
    notify(project, "pending", 3)

    with django_assert_max_num_queries(6):
        scrape(client)


def test_requests_are_counted_by_route_and_status_class_never_by_path(client, api, db):
    client.get("/healthz")
    client.get("/healthz")
    api.get("/api/v1/runs/")
    client.get("/no/such/page-4f2a9c/")

    text = scrape(client)

    assert value(text, "tracker_http_requests_total", route="healthz", method="GET",
                 status="2xx") >= 2  # fmt: skip
    assert value(text, "tracker_http_requests_total", route="api-runs", method="GET",
                 status="2xx") >= 1  # fmt: skip
    assert value(text, "tracker_http_requests_total", route="unmatched", method="GET",
                 status="4xx") >= 1  # fmt: skip
    assert value(text, "tracker_http_request_duration_seconds_count", route="healthz",
                 method="GET", status="2xx") >= 2  # fmt: skip
    assert "4f2a9c" not in text


def test_an_unknown_method_is_counted_as_other(client, db):
    client.generic("BREW", "/healthz")

    text = scrape(client)

    assert value(text, "tracker_http_requests_total", route="healthz", method="other",
                 status="4xx") >= 1  # fmt: skip
    assert "BREW" not in text


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    return settings


def test_with_a_token_set_only_its_bearer_reads_the_metrics(client, db, production):
    production.METRICS_TOKEN = "s3cret-metrics-token"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")


def test_with_a_token_set_even_loopback_needs_it(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"  # DEBUG on, loopback: still required

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401


def test_without_a_token_production_answers_loopback_only(client, db, production):
    scrape(client, REMOTE_ADDR="127.0.0.1")
    scrape(client, REMOTE_ADDR="::1")

    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 403
    # A proxy on the same host: the client is elsewhere.
    forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.7")
    assert forwarded.status_code == 403


def test_without_a_token_the_development_server_answers_anyone(client, db, settings):
    settings.DEBUG, settings.METRICS_TOKEN = True, ""

    scrape(client, REMOTE_ADDR="10.0.0.7")

"""GET /metrics: the service's figures in Prometheus' text format.

HTTP requests are counted by each process as they are answered (``trackerapp.http_metrics``);
everything about the data (runs and results stored, series waiting for analysis, notifications,
findings, heartbeats) is read from the database at scrape time, so that any one web process
answers for all of them, workers included, in a fixed number of queries.
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from evaluations import selectors
from evaluations.models import Heartbeat, Notification
from trackerapp import http_metrics

# The states /metrics reports per channel: those someone may have to act on.
NOTIFICATION_STATES = (Notification.State.PENDING, Notification.State.FAILED)


@never_cache
@require_GET
def metrics(request):
    refused = _refusal(request)
    if refused is not None:
        return refused
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DataCollector())
    body = http_metrics.exposition() + generate_latest(registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _refusal(request):
    """None when the caller may read the figures: with ``METRICS_TOKEN`` set, only with it as
    a bearer token; without, in DEBUG or from a loopback address not behind a proxy."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        response = HttpResponse("A bearer token (METRICS_TOKEN) is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if settings.DEBUG or _from_loopback(request):
        return None
    return HttpResponse("Set METRICS_TOKEN to read the metrics from elsewhere.\n", status=403)


def _from_loopback(request):
    # A proxy on the same host makes every client look local: a forwarded request is not.
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


class DataCollector:
    """Gauges read from the database each time the registry is collected."""

    def collect(self):
        now = timezone.now()
        stored = selectors.stored_counts()
        backlog = selectors.analysis_backlog()
        yield _gauge("tracker_runs_stored", "Evaluation runs stored", stored["runs"])
        yield _gauge("tracker_results_stored", "Metric results stored", stored["results"])
        yield _gauge("tracker_findings_open", "Findings open (not yet triaged)",
                     stored["findings_open"])  # fmt: skip
        yield _gauge("tracker_series_waiting_analysis", "Series due for analysis", backlog.due)
        yield _gauge(
            "tracker_series_oldest_waiting_seconds",
            "How long the series waiting longest for its analysis has waited (0 when none)",
            backlog.oldest_due_seconds(now),
        )
        yield _gauge(
            "tracker_series_failing_analysis", "Series whose latest analysis failed",
            backlog.failing,
        )  # fmt: skip
        yield _notifications(selectors.notification_counts())
        yield _heartbeats(selectors.heartbeats(), now)


def _gauge(name, documentation, value):
    return GaugeMetricFamily(name, documentation, value=value)


def _notifications(counts):
    family = GaugeMetricFamily(
        "tracker_notifications", "Notifications pending or failed, by channel",
        labels=["channel", "state"],
    )  # fmt: skip
    channels = {channel for channel, _ in counts} | set(selectors.NOTIFICATION_CHANNELS)
    for channel in sorted(channels):
        for state in NOTIFICATION_STATES:
            family.add_metric([channel, state], counts.get((channel, state), 0))
    return family


def _heartbeats(seen, now):
    family = GaugeMetricFamily(
        "tracker_heartbeat_age_seconds",
        "Seconds since beat last sent its heartbeat and since a worker last handled one "
        "(absent until the first)",
        labels=["process"],
    )
    for process in Heartbeat.Process.values:
        if process in seen:
            family.add_metric([process], max((now - seen[process]).total_seconds(), 0.0))
    return family

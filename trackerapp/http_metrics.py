"""HTTP request counts and latencies for ``/metrics`` (prometheus-client).

Labelled by the route's name (``api-runs``, ``model-page``; the route's pattern when it has no
name; ``unmatched`` for a 404 no route answered), the method and the status class (``2xx``):
never the raw path, so that the number of series stays bounded whatever is requested.

Each gunicorn worker counts its own requests. With ``PROMETHEUS_MULTIPROC_DIR`` set (as
``scripts/web`` sets it) every worker writes its counts to files there and a scrape, answered by
any one worker, sums them all (prometheus-client's multiprocess mode); without it (the
development server, one process) they live in the process's memory.
"""

import os
import time

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LABELS = ("route", "method", "status")

REQUESTS = Counter("tracker_http_requests", "HTTP requests answered", LABELS)
LATENCY = Histogram(
    "tracker_http_request_duration_seconds",
    "Time from a request's arrival in Django to its answer",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class HttpMetricsMiddleware:
    """Counts and times every request that reaches Django (static files, answered by
    WhiteNoise above it, are not)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        labels = (route_of(request), method_of(request), f"{response.status_code // 100}xx")
        REQUESTS.labels(*labels).inc()
        LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


def method_of(request) -> str:
    return request.method if request.method in METHODS else "other"


def exposition() -> bytes:
    """The HTTP metrics of every process (multiprocess mode) or of this one, as text."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)

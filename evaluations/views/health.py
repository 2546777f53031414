"""The health check for load balancers, orchestrators and people.

Only the database makes the web unable to serve, so only its loss answers 503; a dead broker,
a stale beat or worker and a lagging analysis say ``degraded`` with 200 (the pages and the API
still work, and posts are kept), each part's state and age in the body. ``?strict=1`` answers
503 for anything short of ``ok``, for a monitor that should page on any of them.
"""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from evaluations import selectors
from evaluations.models import Heartbeat
from trackerapp.celery import app as celery_app

log = logging.getLogger(__name__)

FINE = ("ok", "in-process")


@never_cache
@require_GET
def healthz(request):
    database = _database_status()
    if database != "ok":
        body = {"status": "down", "database": database, "broker": _broker_status()}
        return JsonResponse(body, status=503)
    body = {"status": "ok", "database": database, "broker": _broker_status()}
    body.update(_processes())
    body["analysis"] = _analysis()
    parts = [body["broker"], body["beat"]["state"], body["worker"]["state"]]
    if any(state not in FINE for state in parts) or body["analysis"]["state"] != "ok":
        body["status"] = "degraded"
    strict = request.GET.get("strict") in ("1", "true")
    return JsonResponse(body, status=503 if strict and body["status"] != "ok" else 200)


def _processes():
    """Beat and the workers, by their heartbeats' age; no broker: tasks run in-process."""
    if celery_app.conf.task_always_eager:
        return {process: {"state": "in-process"} for process in Heartbeat.Process.values}
    now, seen = timezone.now(), selectors.heartbeats()
    states = {}
    for process in Heartbeat.Process.values:
        age = round((now - seen[process]).total_seconds()) if process in seen else None
        fresh = age is not None and age <= settings.HEARTBEAT_STALE_SECONDS
        states[process] = {"state": "ok" if fresh else "stale", "age_seconds": age}
    return states


def _analysis():
    """How far behind the analysis is: series due, how long the oldest has waited, series
    failing (each named, with its error, on its model's page)."""
    backlog = selectors.analysis_backlog()
    oldest = round(backlog.oldest_due_seconds(timezone.now()))
    return {
        "state": "lagging" if oldest > settings.ANALYSIS_LAG_SECONDS else "ok",
        "due": backlog.due,
        "oldest_due_seconds": oldest,
        "failing": backlog.failing,
    }


def _database_status():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means "down"; the reason goes to the log
        log.warning("health check: database unavailable: %s", exc)
        return "unavailable"


def _broker_status():
    if celery_app.conf.task_always_eager:
        return "in-process"
    try:
        with celery_app.connection_for_write(celery_app.conf.broker_url) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return "ok"
    except Exception as exc:
        log.warning("health check: broker unavailable: %s", exc)
        return "unavailable"

"""The health check for load balancers and orchestrators."""

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from evaluations.services import series_analysis
from trackerapp.celery import app as celery_app

log = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    database = _database_status()
    broker = _broker_status()
    healthy = database == "ok"
    body = {
        "status": ("ok" if broker in ("ok", "in-process") else "degraded") if healthy else "down",
        "database": database,
        "broker": broker,
    }
    if healthy:
        # How far behind the analysis is; a series failing its analysis is counted here and
        # named on its model's page.
        body["analysis"] = series_analysis.analysis_health()
    return JsonResponse(body, status=200 if healthy else 503)


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

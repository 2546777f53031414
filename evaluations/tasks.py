"""Celery tasks: thin wrappers that take ids and call services. No other module of the app
imports this one but ``evaluations.apps`` (to register the tasks): work is queued by name
through ``evaluations.queue``."""

import logging
from datetime import datetime, timedelta

from celery import shared_task, signals
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from evaluations.queue import queue_analysis
from evaluations.services import alerts, heartbeats, series_analysis

HEARTBEAT = "evaluations.tasks.heartbeat"

log = logging.getLogger(__name__)


@shared_task(
    ignore_result=True,
    acks_late=True,
    # The database went away: try again soon; the sweep is the net beyond these retries.
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=5,
)
def analyse_series(series_ids, queued_at=None):
    """Analyse the given series (those one post or one sweep found due) unless another job
    has analysed them since this one was queued (an ISO 8601 time)."""
    outcome = series_analysis.analyse_series(
        series_ids=series_ids,
        queued_at=datetime.fromisoformat(queued_at) if queued_at else None,
    )
    if outcome.still_due:  # posts landed while the job ran: their points are judged next
        queue_analysis(outcome.still_due, countdown=settings.ANALYSIS_DELAY_SECONDS)


@shared_task(ignore_result=True)
def sweep_series():
    """Queue series whose analysis is due and whose job was lost or failed, and series not
    analysed for a while."""
    queue_analysis(series_analysis.claim_due_series())


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    autoretry_for=(alerts.SendFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=settings.ALERT_MAX_RETRIES,
)
def send_notification(self, notification_id):
    """Send one notification through its channel; retried with exponential backoff while the
    far end fails (after the seconds it asks for, when it does)."""
    try:
        alerts.send(notification_id=notification_id)
    except alerts.RateLimited as exc:
        # Held back: sent later, in one digest with whatever else is pending by then.
        raise self.retry(countdown=exc.seconds, max_retries=None) from exc
    except alerts.SendFailed as exc:
        if self.request.retries >= self.max_retries:
            alerts.mark_failed(notification_id=notification_id, error=exc)
            return
        if exc.retry_after is not None:
            raise self.retry(countdown=exc.retry_after, exc=exc) from exc
        raise


@shared_task(ignore_result=True)
def sweep_notifications():
    """Re-queue notifications still pending long after they were recorded (a lost task)."""
    older = timezone.now() - timedelta(seconds=settings.NOTIFICATION_GRACE_SECONDS)
    for notification_id in alerts.pending_ids(created_before=older):
        send_notification.delay(notification_id)


@shared_task(ignore_result=True)
def heartbeat():
    """Beat sends this periodically; a worker handling it shows the workers are alive."""
    heartbeats.record_heartbeat(process="worker")


@signals.before_task_publish.connect
def _beat_sends_heartbeat(sender=None, **kwargs):
    """Beat's own heartbeat, recorded as it sends the workers theirs (beat is the only
    process that sends it); a database outage costs the record, not the message."""
    if sender != HEARTBEAT:
        return
    try:
        # Beat handles no requests, so nothing else drops a connection a database restart broke.
        close_old_connections()
        heartbeats.record_heartbeat(process="beat")
    except DatabaseError as exc:
        log.warning("could not record beat's heartbeat: %s", exc)

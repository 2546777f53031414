"""Putting work on the task queue, by task name: the one module that services (and commands)
call to have a task run later, so that they never import ``tasks`` (which imports them).

A task is looked up by its registered name and sent with its own ``apply_async``, so eager mode
(no broker: the task runs in this process) works as before; the names are those ``tasks.py``
registers (``evaluations.apps`` imports it when Django starts).
"""

from django.utils import timezone

from trackerapp.celery import app

ANALYSE_SERIES = "evaluations.tasks.analyse_series"
SEND_NOTIFICATION = "evaluations.tasks.send_notification"

# Series per analysis job: a big batch is spread over several jobs (and workers).
ANALYSIS_CHUNK = 200


def queue_analysis(series_ids, *, countdown=0):
    """Queue the analysis of these series, in jobs of ANALYSIS_CHUNK."""
    queued_at = timezone.now().isoformat()
    for start in range(0, len(series_ids), ANALYSIS_CHUNK):
        _send(ANALYSE_SERIES, [series_ids[start : start + ANALYSIS_CHUNK], queued_at], countdown)


def queue_notification(notification_id, *, countdown=0):
    """Queue the sending of one notification."""
    _send(SEND_NOTIFICATION, [notification_id], countdown)


def _send(name, args, countdown):
    # The registered task, not app.send_task: send_task always publishes, even in eager mode.
    app.tasks[name].apply_async(args=args, countdown=countdown)

"""Celery app configured from Django settings.

With no ``CELERY_BROKER_URL`` set, settings turn on eager mode, so tasks run in-process
and the embedded default (SQLite, no broker) works without any other service.
"""

import os

from celery import Celery, signals

from trackerapp import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerapp.settings")

app = Celery("trackerapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _log_lines_as_configured(logger, **kwargs):
    """Celery sets up the worker's and beat's logging itself; with LOG_FORMAT=json its lines
    become JSON too, as the web's."""
    from django.conf import settings  # read when the worker starts, not when this is imported

    if settings.LOG_FORMAT == "json":
        logs.use_json_lines(logger)


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs):
    task.request.log_token = logs.task_id.set(task_id)


@signals.task_postrun.connect
def _task_ended(task=None, **kwargs):
    token = getattr(task.request, "log_token", None)
    if token is not None:
        logs.task_id.reset(token)

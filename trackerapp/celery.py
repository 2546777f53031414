"""Celery app configured from Django settings.

With no ``CELERY_BROKER_URL`` set, settings turn on eager mode, so tasks run in-process
and the embedded default (SQLite, no broker) works without any other service.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerapp.settings")

app = Celery("trackerapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

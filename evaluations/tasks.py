"""Celery tasks: thin wrappers that take ids and call services."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from evaluations.services import series_analysis


@shared_task(ignore_result=True, acks_late=True)
def analyse_series(series_id):
    series_analysis.analyse_series(series_id=series_id)


@shared_task(ignore_result=True)
def sweep_series():
    """Re-queue series whose analysis job was lost (e.g. the broker was down)."""
    older_than = timezone.now() - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    for series_id in series_analysis.dirty_series_ids(older_than=older_than):
        analyse_series.delay(series_id)

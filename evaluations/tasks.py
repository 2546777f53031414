"""Celery tasks: thin wrappers that take ids and call services."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from evaluations.services import series_analysis

SWEEP_CHUNK = 200


@shared_task(ignore_result=True, acks_late=True)
def analyse_series(series_ids):
    """Analyse the given series (those one post or one sweep found due)."""
    series_analysis.analyse_series(series_ids=series_ids)


@shared_task(ignore_result=True)
def sweep_series():
    """Re-queue series whose analysis job was lost, or that were not analysed for a while."""
    now = timezone.now()
    due = series_analysis.due_series_ids(
        touched_before=now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS),
        analysed_before=now - timedelta(seconds=settings.REANALYSE_AFTER_SECONDS),
    )
    for start in range(0, len(due), SWEEP_CHUNK):
        analyse_series.delay(due[start : start + SWEEP_CHUNK])

"""Celery tasks: thin wrappers that take ids and call services."""

from celery import shared_task

from evaluations.services import series_analysis


@shared_task(ignore_result=True, acks_late=True)
def analyse_series(series_id):
    series_analysis.analyse_series(series_id=series_id)

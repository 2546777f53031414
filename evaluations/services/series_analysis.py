"""Bookkeeping of the per-series analysis jobs.

Storing a run marks each series it touched dirty and schedules a job per series; the job
clears the mark. The trend analysis itself plugs in here.
"""

from django.db.models import F
from django.utils import timezone

from evaluations.models import Series


def analyse_series(*, series_id) -> bool:
    """Analyse one series; False when it no longer exists. Safe to run twice."""
    started = timezone.now()
    updated = Series.objects.filter(pk=series_id).update(
        analysed_at=started, analysis_count=F("analysis_count") + 1
    )
    # A run that touched the series after this job started keeps it dirty for the next job.
    Series.objects.filter(pk=series_id, touched_at__lte=started).update(dirty=False)
    return bool(updated)

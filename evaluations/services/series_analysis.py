"""Bookkeeping of the per-series analysis jobs.

Storing a run marks each series it touched dirty and queues a job for those that were
clean; the job clears the mark. The trend analysis itself plugs in here.
"""

from django.db.models import F
from django.utils import timezone

from evaluations.models import Series


def analyse_series(*, series_id) -> bool:
    """Analyse one series; False when it no longer exists. Safe to run twice."""
    # Clearing the flag first waits for any post still writing to this series (it holds
    # the row lock) and lets a post arriving later queue a job of its own.
    updated = Series.objects.filter(pk=series_id).update(
        dirty=False, analysed_at=timezone.now(), analysis_count=F("analysis_count") + 1
    )
    return bool(updated)


def dirty_series_ids(*, older_than) -> list[int]:
    """Series a run touched before ``older_than`` whose job has not run since."""
    return list(
        Series.objects.filter(dirty=True, touched_at__lt=older_than)
        .order_by("touched_at")
        .values_list("pk", flat=True)[:10_000]
    )

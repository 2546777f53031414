"""Bookkeeping of the per-series analysis jobs.

Storing a run marks each series it touched dirty and queues a job for those that were
clean; the job clears the mark. The trend analysis itself plugs in here.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evaluations.models import Series


def analyse_series(*, series_ids) -> int:
    """Analyse the given series; returns how many still exist. Safe to run twice."""
    with transaction.atomic():
        # Clearing the flags first waits for any post still writing to these series (it
        # holds their row locks; both lock in id order) and lets a post arriving later
        # queue a job of its own.
        locked = list(
            Series.objects.select_for_update()
            .filter(pk__in=series_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Series.objects.filter(pk__in=locked).update(
            dirty=False, analysed_at=timezone.now(), analysis_count=F("analysis_count") + 1
        )
    return len(locked)


def dirty_series_ids(*, older_than) -> list[int]:
    """Series a run touched before ``older_than`` whose job has not run since."""
    return list(
        Series.objects.filter(dirty=True, touched_at__lt=older_than)
        .order_by("touched_at")
        .values_list("pk", flat=True)[:10_000]
    )

"""Removing runs from the history: retention's prune (``services.retention``) and a run deleted
in the admin (``delete_runs``) both go through ``remove_runs``, so that what a run's points
made goes with them in the same transaction: the series that lose points are read afresh
(their cached points are not served again) and are due for trend analysis, and the replicate
sets the runs were members of are summarised again from the seeds left, or deleted when one
seed is left (``services.replicates.refresh_replicate_sets``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F

from evaluations.models import EvaluationRun, MetricResult, Series
from evaluations.queue import queue_analysis
from evaluations.services import replicates, series_analysis

# How far a series' touched_at moves back when it loses points: reads cache a series' points
# under its touched_at, so it must change; but pages and the series API take the most
# recently touched series as a dataset's latest version, so it must not move forward.
_UNTOUCH = timedelta(microseconds=1)


@dataclass(frozen=True)
class Removed:
    runs: int
    results: int
    series_ids: list  # that lost points
    watched: list  # of those, analysed ones: due again
    needing_job: list  # of those, not due before: a job must be queued


def _delete_with_cascade(run_ids) -> int:
    """Django's deletion: what hangs on the runs (a baseline pin) goes with them."""
    deleted = EvaluationRun.objects.filter(pk__in=run_ids).delete()[1]
    return deleted.get(EvaluationRun._meta.label, 0)


def remove_runs(*, run_ids, delete_runs: Callable[[list], int] = _delete_with_cascade) -> Removed:
    """Remove the runs ``run_ids`` and their results in the caller's transaction (or one of
    its own); ``delete_runs`` deletes the runs once their results are gone and answers how
    many it deleted. Their series' rows are locked first, in id order, as posts lock them, so
    a seed posted meanwhile is summarised before or after, never beside, this removal. The
    caller queues the analysis of ``needing_job`` once committed."""
    with transaction.atomic():
        results = MetricResult.objects.filter(run_id__in=run_ids)
        series_ids = sorted(results.values_list("series_id", flat=True).distinct())
        watched, needing_job = _mark_losing_points(series_ids)
        sets = replicates.sets_of_runs(run_ids=run_ids)
        results_removed = results.delete()[0]
        # Before the runs go: a set's latest run may be one of them.
        replicates.refresh_replicate_sets(keys=sets)
        runs_removed = delete_runs(run_ids) if run_ids else 0
    return Removed(runs_removed, results_removed, series_ids, watched, needing_job)


def delete_runs(*, run_ids) -> Removed:
    """Delete runs, as the admin does (with Django's cascade: a pin on a run goes with it),
    through ``remove_runs``; the series that lost points are queued for analysis once
    committed (beat's sweep catches them when the broker is down)."""
    with transaction.atomic():
        removed = remove_runs(run_ids=list(run_ids))
        if removed.needing_job:
            transaction.on_commit(lambda: queue_analysis(removed.needing_job), robust=True)
    return removed


def _mark_losing_points(series_ids) -> tuple[list[int], list[int]]:
    """Series that lose points: each watched one is due for analysis again
    (``series_analysis.mark_due``, which locks them as posts do), and every one's cached
    points are read again. Returns the watched ones, and those of them that were not due
    yet: they need a job."""
    watched, clean = series_analysis.mark_due(series_ids=series_ids)
    Series.objects.filter(pk__in=series_ids).update(touched_at=F("touched_at") - _UNTOUCH)
    return watched, clean

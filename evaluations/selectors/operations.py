"""Reads about the service itself, for the health check and ``/metrics``: how much is stored,
how far behind the analysis is, when beat and the workers were last seen. Each read is a fixed
number of queries, whatever the size of the history."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q

from evaluations.models import EvaluationRun, Finding, Heartbeat, MetricResult, Series


@dataclass(frozen=True)
class AnalysisBacklog:
    """Series waiting for their analysis (a post touched them; their job is queued, running
    or lost, and the sweep queues it again), since when the oldest has waited, and series
    whose analysis failed (due too, but waiting out a backoff: counted apart, so that one
    poisoned series does not read as a queue that is stuck)."""

    due: int
    oldest_due_since: datetime | None
    failing: int

    def oldest_due_seconds(self, now) -> float:
        if self.oldest_due_since is None:
            return 0.0
        return max((now - self.oldest_due_since).total_seconds(), 0.0)


def analysis_backlog() -> AnalysisBacklog:
    """One query: the due series are found through the ``series_due`` index, the failing ones
    through ``series_failing``."""
    failing = Q(analysis_failures__gt=0)
    due = Q(dirty=True, watched=True) & ~failing
    counts = Series.objects.filter(Q(dirty=True, watched=True) | failing).aggregate(
        due=Count("pk", filter=due),
        oldest=Min("due_since", filter=due),
        failing=Count("pk", filter=failing),
    )
    return AnalysisBacklog(
        due=counts["due"], oldest_due_since=counts["oldest"], failing=counts["failing"]
    )


def heartbeats() -> dict[str, datetime]:
    """When each process kind (``beat``, ``worker``) was last seen; absent if never."""
    return dict(Heartbeat.objects.values_list("process", "at"))


def stored_counts() -> dict[str, int]:
    """Runs and results stored, and findings open (three counts)."""
    return {
        "runs": EvaluationRun.objects.count(),
        "results": MetricResult.objects.count(),
        "findings_open": Finding.objects.filter(status=Finding.Status.OPEN).count(),
    }

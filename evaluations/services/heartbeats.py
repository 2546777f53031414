"""Heartbeats: beat records one each time it sends the periodic heartbeat task, and a worker
each time it handles one, so that the health check can tell a dead beat from a dead worker."""

from django.utils import timezone

from evaluations.models import Heartbeat


def record_heartbeat(*, process: str) -> None:
    """Mark ``process`` (``beat`` or ``worker``) alive now; one upsert statement."""
    Heartbeat.objects.bulk_create(
        [Heartbeat(process=process, at=timezone.now())],
        update_conflicts=True,
        unique_fields=["process"],
        update_fields=["at"],
    )

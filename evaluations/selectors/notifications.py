"""Reads of the notifications sent (or waiting to be sent) to people."""

from django.db.models import Count

from evaluations.models import Channel, Notification

# Every kind of channel, so that a metric per kind is there even at zero.
CHANNELS = tuple(Channel.Kind.values)


def notification_counts() -> dict[tuple[str, str], int]:
    """Notifications per (kind of channel, state), e.g. ``{("webhook", "pending"): 3}``; one
    query. A pair with none is absent."""
    rows = (
        Notification.objects.values_list("channel__kind", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(kind, state): n for kind, state, n in rows}

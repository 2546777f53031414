"""Reads of the notifications sent (or waiting to be sent) to people."""

from django.db.models import Count

from evaluations.models import Notification

# Every notification is an e-mail today; when other channels come, this is the one place that
# groups the counts by the channel each notification went through.
EMAIL = "email"
CHANNELS = (EMAIL,)


def notification_counts() -> dict[tuple[str, str], int]:
    """Notifications per (channel, state), e.g. ``{("email", "pending"): 3}``; one query.
    A pair with none is absent."""
    rows = Notification.objects.values_list("state").annotate(n=Count("pk")).order_by()
    return {(EMAIL, state): n for state, n in rows}

"""Sending: each notification once, through its channel's transport, together with whatever
else is pending for the same destination (a digest rather than a storm), within a rate limit
per destination, retried while the far end fails.

The rows stay locked while the delivery goes out, so two runs of the task cannot both send
it. A batch is fixed at its first attempt (``batch_key``): every retry sends the same
notifications under the same delivery id (an e-mail's Message-ID, a webhook's
X-Tracker-Delivery), so a receiver can tell a resend from a new alert. A worker that dies
mid-send leaves the batch pending, and the resend carries that same id."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evaluations import channels, emails
from evaluations.models import Channel, ExperimentDecision, Notification

from .unsubscribe import unsubscribe_url

MAX_BATCH = 50


class SendFailed(Exception):
    """The far end refused or could not be reached; the attempt is recorded. ``retry_after``:
    the seconds it asked for."""

    def __init__(self, message, *, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Exception):
    """The destination has had its share of alerts for the hour; retry in ``seconds``."""

    def __init__(self, seconds):
        super().__init__(f"rate limited for {seconds:.0f} s")
        self.seconds = seconds


def send(*, notification_id) -> bool:
    """Send a notification unless it was sent already (or failed for good), in one delivery
    with the rest of its batch; True when this call sent it. Raises SendFailed (after
    recording the attempt) so that the task retries with backoff, RateLimited to wait."""
    key = _fix_batch(notification_id)
    if key is None:
        return False
    with transaction.atomic():
        batch = list(
            Notification.objects.select_for_update()
            .filter(batch_key=key, state=Notification.State.PENDING)
            .select_related("channel__project")
            .order_by("pk")
        )
        if notification_id not in {n.pk for n in batch}:
            return False  # sent meanwhile by another run of the task
        failure = _deliver(batch, key)
    if failure is not None and not failure.permanent:
        # Raised once the attempt is on record, so that the task retries with backoff.
        raise SendFailed(str(failure), retry_after=failure.retry_after)
    return failure is None


def _fix_batch(notification_id):
    """The batch key of the notification's delivery, committed before anything leaves (so a
    worker that dies mid-send leaves the batch, and its id, for the resend); None when there
    is nothing to send. A new batch takes every pending notification of the destination not yet
    in one, unless the destination has had its share for the hour (RateLimited)."""
    with transaction.atomic():
        target = Notification.objects.filter(pk=notification_id).first()
        if target is None or target.state != Notification.State.PENDING:
            return None
        if target.batch_key is not None:
            return target.batch_key
        batch = _unbatched(target)
        if notification_id not in {n.pk for n in batch}:
            return None  # taken into another batch meanwhile
        held_for = _rate_limit_wait(target)
        key = Notification.new_batch_key()
        for notification in batch:
            if held_for is None:
                notification.batch_key = key
            else:
                notification.last_error = emails.HELD
        Notification.objects.bulk_update(batch, ["batch_key", "last_error"])
    if held_for is not None:
        raise RateLimited(held_for)
    return key


def _unbatched(target) -> list[Notification]:
    """Every pending notification of the target's destination not yet in a batch, locked."""
    return list(
        Notification.objects.select_for_update()
        .filter(channel_id=target.channel_id, recipient=target.recipient,
                state=Notification.State.PENDING, batch_key__isnull=True)
        .order_by("pk")[:MAX_BATCH]
    )  # fmt: skip


def _deliver(batch, key):
    """Send ``batch`` through its channel and record the attempt; the failure, or None."""
    channel = batch[0].channel
    delivery = channels.Delivery(
        id=str(key), channel=channel, recipient=batch[0].recipient, notifications=batch,
        alerts=[channels.alert_for(n, about) for n, about in zip(batch, _subjects(batch),
                                                                 strict=True)],
        held=sum(1 for n in batch if n.last_error == emails.HELD),
        project=channel.project.name,
    )  # fmt: skip
    if channel.kind == Channel.Kind.EMAIL:
        delivery.extra["unsubscribe_url"] = unsubscribe_url(channel, batch[0].recipient)
    try:
        subject, failure = channels.transport_for(channel).notify(delivery), None
    except channels.Failed as exc:
        subject, failure = _summary(delivery), exc
    _record_attempt(batch, subject=subject, failure=failure)
    return failure


def _subjects(batch) -> list:
    """What each notification of ``batch`` is about (its experiment decision, or its
    finding), read in two queries whatever the batch's size."""
    decisions = ExperimentDecision.objects.select_related(
        "experiment__model__project", "window"
    ).in_bulk([n.decision_id for n in batch if n.decision_id is not None])
    findings = {
        link.notification_id: link.finding
        for link in Notification.findings.through.objects.filter(
            notification_id__in=[n.pk for n in batch if n.decision_id is None]
        ).select_related(
            "finding__series__model__project", "finding__series__metric",
            "finding__series__dataset", "finding__series__branch", "finding__start_version",
        )
    }  # fmt: skip
    return [
        decisions[n.decision_id] if n.decision_id is not None else findings.get(n.pk) for n in batch
    ]


def _summary(delivery) -> str:
    return "; ".join(alert.title for alert in delivery.alerts)


def _record_attempt(batch, *, subject, failure):
    now = timezone.now()
    for notification in batch:
        notification.attempts += 1
        notification.subject = subject[:500]
        if failure is None:
            notification.state, notification.sent_at = Notification.State.SENT, now
            notification.last_error = ""
        else:
            notification.last_error = str(failure)
            if failure.permanent:
                notification.state = Notification.State.FAILED
    Notification.objects.bulk_update(
        batch, ["attempts", "subject", "state", "sent_at", "last_error"]
    )


def _rate_limit_wait(target) -> float | None:
    """Seconds until the destination (an address, or a channel's URL) may get another
    alert, or None when it may now. Each delivery counts once: its notifications share
    their sent_at."""
    limit = settings.ALERT_RATE_LIMIT_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    sent = Notification.objects.filter(state=Notification.State.SENT, sent_at__gte=since)
    if target.recipient:
        sent = sent.filter(recipient=target.recipient)
    else:
        sent = sent.filter(channel_id=target.channel_id)
    times = sorted(sent.values_list("sent_at", flat=True).distinct())
    if len(times) < limit:
        return None
    return max(1.0, (times[-limit] - since).total_seconds())


def pending_ids(*, created_before) -> list[int]:
    """Notifications still pending since ``created_before``: their task was lost."""
    return list(
        Notification.objects.filter(state=Notification.State.PENDING, created_at__lt=created_before)
        .order_by("pk")
        .values_list("pk", flat=True)[:10_000]
    )


def mark_failed(*, notification_id, error):
    """After the last retry: the notification stays on record as failed."""
    Notification.objects.filter(pk=notification_id).exclude(state=Notification.State.SENT).update(
        state=Notification.State.FAILED, last_error=str(error)
    )

"""E-mail alerts about findings and experiments: who is told, recorded before sending, sent once.

A finding that opens notifies each recipient of each matching subscription once; a recovered
finding sends one "recovered" note where the subscription asks for it. An experiment's decision
that rolls back, breaches a guardrail or first finds the traffic split off plan notifies them
the same way, recorded in the transaction that stores the decision. Every notification is
a row (``pending``) before any mail leaves, and the send task marks it ``sent`` under a row
lock, so an SMTP outage delays mail without losing it and a retried task sends nothing twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from evaluations import emails, links, queue, selectors
from evaluations.models import (
    AlertSubscription,
    ExperimentAlert,
    ExperimentDecision,
    Notification,
)

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "alerts.unsubscribe"
RECENT_POINTS = 12
GROWTH_FACTOR = 2  # an open finding is told again once its magnitude has doubled


def notify(*, opened=(), updated=(), resolved=()) -> list[Notification]:
    """Record the notifications that findings just opened, grew or resolved call for, and
    queue their sending once the records are committed. A finding that keeps growing is
    told again once it has doubled since it was last told; acknowledged findings stay quiet."""
    grew = [f for f in updated if _grew(f)]
    if not (opened or grew or resolved):
        return []
    subscriptions = {}
    project_ids = {f.series.model.project_id for f in [*opened, *grew, *resolved]}
    for subscription in AlertSubscription.objects.filter(project_id__in=project_ids):
        subscriptions.setdefault(subscription.project_id, []).append(subscription)
    planned = []
    with transaction.atomic():
        for finding in [*opened, *grew]:
            finding.notified_magnitude = finding.magnitude
            finding.save(update_fields=["notified_magnitude"])
        for event, found in ((Notification.Event.OPENED, opened),
                             (Notification.Event.GREW, grew),
                             (Notification.Event.RECOVERED, resolved)):  # fmt: skip
            for finding in found:
                for subscription, recipient in _audience(finding, event, subscriptions):
                    notification = Notification.objects.create(
                        subscription=subscription, recipient=recipient, event=event
                    )
                    notification.findings.add(finding)
                    planned.append(notification)
    if planned:
        transaction.on_commit(lambda: _queue([n.pk for n in planned]), robust=True)
    return planned


def notify_experiment(*, decision, previous=None) -> list[Notification]:
    """Record the notifications an experiment's decision calls for (``decision.alerts``) and
    queue their sending once committed. A split mismatch that the previous decision already
    had is not told again: it is told when it appears, not after every window it lasts."""
    told = [
        alert for alert in decision.alerts
        if not (alert == ExperimentAlert.SAMPLE_RATIO_MISMATCH and previous and previous.mismatch)
    ]  # fmt: skip
    if not told:
        return []
    experiment = decision.experiment
    planned = []
    with transaction.atomic():
        for subscription in AlertSubscription.objects.filter(project_id=experiment.project_id):
            if subscription.model_names and experiment.model.name not in subscription.model_names:
                continue
            if subscription.kinds and not set(subscription.kinds) & set(told):
                continue
            planned += [
                Notification.objects.create(
                    subscription=subscription,
                    recipient=recipient,
                    decision=decision,
                    event=Notification.Event.EXPERIMENT,
                )
                for recipient in recipients(subscription)
            ]
    if planned:
        transaction.on_commit(lambda: _queue([n.pk for n in planned]), robust=True)
    return planned


def _grew(finding):
    told = finding.notified_magnitude
    return (
        finding.status == finding.Status.OPEN
        and told is not None
        and abs(finding.magnitude) >= GROWTH_FACTOR * abs(told)
    )


def _audience(finding, event, subscriptions):
    series = finding.series
    for subscription in subscriptions.get(series.model.project_id, []):
        if subscription.model_names and series.model.name not in subscription.model_names:
            continue
        if subscription.kinds and finding.kind not in subscription.kinds:
            continue
        if event == Notification.Event.RECOVERED and not subscription.notify_recovered:
            continue
        for recipient in recipients(subscription):
            yield subscription, recipient


def save_subscription(*, project, **fields) -> AlertSubscription:
    return AlertSubscription.objects.create(project=project, **fields)


def recipients(subscription) -> list[str]:
    """The subscription's addresses (and members' when it includes them), minus those that
    unsubscribed, each once."""
    addresses = list(subscription.emails)
    if subscription.include_members:
        addresses += [
            email for email in subscription.project.members.values_list("email", flat=True) if email
        ]
    unsubscribed = {address.lower() for address in subscription.unsubscribed}
    seen, result = set(), []
    for address in addresses:
        if address.lower() not in unsubscribed and address.lower() not in seen:
            seen.add(address.lower())
            result.append(address)
    return result


def _queue(notification_ids):
    for notification_id in notification_ids:
        try:
            # The delay lets findings of the same moment join one digest.
            queue.queue_notification(notification_id, countdown=settings.ALERT_DIGEST_SECONDS)
        except Exception:  # one that cannot be queued now is re-queued by the sweep
            log.exception("could not queue notification %s", notification_id)


def pending_ids(*, created_before) -> list[int]:
    """Notifications still pending since ``created_before``: their task was lost."""
    return list(
        Notification.objects.filter(state=Notification.State.PENDING, created_at__lt=created_before)
        .order_by("pk")
        .values_list("pk", flat=True)[:10_000]
    )


def send(*, notification_id) -> bool:
    """Send a notification unless it was sent already, together with every other pending
    notification of the same subscription and recipient (a digest, rather than a storm of
    mails); True when this call sent it.

    Raises SendFailed (after recording the attempt) so that the task retries with backoff.
    The rows stay locked while the message goes out, so two deliveries of the task cannot
    both send it; a worker that dies mid-send leaves them pending, and the resend carries the
    same Message-ID, which mail clients treat as one message."""
    with transaction.atomic():
        target = Notification.objects.filter(pk=notification_id).first()
        if target is None:
            return False
        batch = list(
            Notification.objects.select_for_update()
            .filter(
                subscription_id=target.subscription_id,
                recipient=target.recipient,
                state=Notification.State.PENDING,
            )
            .select_related("subscription")
            .order_by("pk")
        )
        if notification_id not in {n.pk for n in batch}:
            return False  # sent meanwhile, in another digest
        held_for = _rate_limit_wait(target.recipient)
        if held_for is not None:
            for notification in batch:
                notification.last_error = emails.HELD
            Notification.objects.bulk_update(batch, ["last_error"])
        else:
            message = _message(batch)
            try:
                message.send()
            except Exception as exc:  # any failure of the SMTP exchange is retried
                error = f"{type(exc).__name__}: {exc}"
            else:
                error = None
            _record_attempt(batch, subject=message.subject, error=error)
    if held_for is not None:
        raise RateLimited(held_for)
    if error is not None:
        # Raised once the attempt is on record, so that the task retries with backoff.
        raise SendFailed(error)
    return True


def _message(batch):
    first = batch[0]
    url = unsubscribe_url(first.subscription, first.recipient)
    items = [(notification, _subject_of(notification)) for notification in batch]
    if len(items) > 1:
        return emails.digest(to=first.recipient, items=items, first=first, unsubscribe_url=url)
    notification, about = items[0]
    if notification.decision_id is not None:
        return emails.experiment_alert(
            to=first.recipient, notification=notification, decision=about,
            arm_rows=selectors.arm_rows(experiment=about.experiment, decision=about),
            unsubscribe_url=url,
        )  # fmt: skip
    points = selectors.series_points(series=about.series, limit=RECENT_POINTS)
    (limits,) = selectors.analysis_inputs(series_ids=[about.series_id], points=1)
    return emails.finding_alert(
        to=first.recipient, notification=notification, finding=about, points=points,
        limits=limits, unsubscribe_url=url,
    )  # fmt: skip


def _subject_of(notification):
    """What a notification is about: its experiment decision, or its finding."""
    if notification.decision_id is not None:
        return ExperimentDecision.objects.select_related(
            "experiment__model", "experiment__project", "window"
        ).get(pk=notification.decision_id)
    return notification.findings.select_related(
        "series__model__project", "series__metric", "series__dataset", "start_version"
    ).first()


def _record_attempt(batch, *, subject, error):
    now = timezone.now()
    for notification in batch:
        notification.attempts += 1
        notification.subject = subject[:500]
        if error is None:
            notification.state, notification.sent_at = Notification.State.SENT, now
        else:
            notification.last_error = error
    Notification.objects.bulk_update(
        batch, ["attempts", "subject", "state", "sent_at", "last_error"]
    )


class SendFailed(Exception):
    """The SMTP server refused or could not be reached; the attempt is recorded."""


class RateLimited(Exception):
    """The recipient has had their share of mail for the hour; retry in ``seconds``."""

    def __init__(self, seconds):
        super().__init__(f"rate limited for {seconds:.0f} s")
        self.seconds = seconds


def _rate_limit_wait(recipient) -> float | None:
    """Seconds until ``recipient`` may get another e-mail, or None when they may now. Each
    e-mail (one or a digest) counts once: its notifications share their sent_at."""
    limit = settings.ALERT_RATE_LIMIT_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    sent = sorted(
        Notification.objects.filter(
            recipient=recipient, state=Notification.State.SENT, sent_at__gte=since
        )
        .values_list("sent_at", flat=True)
        .distinct()
    )
    if len(sent) < limit:
        return None
    return max(1.0, (sent[-limit] - since).total_seconds())


def mark_failed(*, notification_id, error):
    """After the last retry: the notification stays on record as failed."""
    Notification.objects.filter(pk=notification_id).exclude(state=Notification.State.SENT).update(
        state=Notification.State.FAILED, last_error=str(error)
    )


def unsubscribe_url(subscription, address) -> str:
    token = signing.dumps({"s": subscription.pk, "a": address}, salt=UNSUBSCRIBE_SALT)
    return links.unsubscribe_url(token)


def unsubscribe(*, token) -> tuple[AlertSubscription, str] | None:
    """Remove the address a signed token names from its subscription; None if invalid."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    with transaction.atomic():
        subscription = (
            AlertSubscription.objects.select_for_update().filter(pk=data.get("s")).first()
        )
        if subscription is None:
            return None
        address = data.get("a", "")
        if address.lower() not in {a.lower() for a in subscription.unsubscribed}:
            subscription.unsubscribed = [*subscription.unsubscribed, address]
            subscription.save(update_fields=["unsubscribed"])
    return subscription, address

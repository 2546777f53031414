"""Who is told: the notifications that findings and experiment decisions call for, one per
channel and destination (each address of an e-mail channel; the URL of any other), recorded
in the caller's transaction and queued once it commits."""

import logging

from django.conf import settings
from django.db import transaction

from evaluations import queue
from evaluations.models import Channel, ExperimentAlert, Notification

log = logging.getLogger(__name__)

GROWTH_FACTOR = 2  # an open finding is told again once its magnitude has doubled


def notify(*, opened=(), updated=(), resolved=()) -> list[Notification]:
    """Record the notifications that findings just opened, grew or resolved call for, and
    queue their sending once the records are committed. A finding that keeps growing is
    told again once it has doubled since it was last told; acknowledged findings stay quiet."""
    grew = [f for f in updated if _grew(f)]
    if not (opened or grew or resolved):
        return []
    channels = {}
    project_ids = {f.series.model.project_id for f in [*opened, *grew, *resolved]}
    for channel in Channel.objects.filter(project_id__in=project_ids).order_by("pk"):
        channels.setdefault(channel.project_id, []).append(channel)
    planned = []
    with transaction.atomic():
        for finding in [*opened, *grew]:
            finding.notified_magnitude = finding.magnitude
            finding.save(update_fields=["notified_magnitude"])
        for event, found in ((Notification.Event.OPENED, opened),
                             (Notification.Event.GREW, grew),
                             (Notification.Event.RECOVERED, resolved)):  # fmt: skip
            for finding in found:
                for channel, recipient in _audience(finding, event, channels):
                    notification = Notification.objects.create(
                        channel=channel, recipient=recipient, event=event
                    )
                    notification.findings.add(finding)
                    planned.append(notification)
    _queue_on_commit(planned)
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
        for channel in Channel.objects.filter(project_id=experiment.project_id).order_by("pk"):
            if channel.model_names and experiment.model.name not in channel.model_names:
                continue
            if channel.kinds and not set(channel.kinds) & set(told):
                continue
            planned += [
                Notification.objects.create(
                    channel=channel,
                    recipient=recipient,
                    decision=decision,
                    event=Notification.Event.EXPERIMENT,
                )
                for recipient in destinations(channel)
            ]
    _queue_on_commit(planned)
    return planned


def _grew(finding):
    told = finding.notified_magnitude
    return (
        finding.status == finding.Status.OPEN
        and told is not None
        and abs(finding.magnitude) >= GROWTH_FACTOR * abs(told)
    )


def _audience(finding, event, channels):
    series = finding.series
    for channel in channels.get(series.model.project_id, []):
        if channel.model_names and series.model.name not in channel.model_names:
            continue
        if channel.kinds and finding.kind not in channel.kinds:
            continue
        if event == Notification.Event.RECOVERED and not channel.notify_recovered:
            continue
        for recipient in destinations(channel):
            yield channel, recipient


def destinations(channel) -> list[str]:
    """Where a channel's notifications go: each address of an e-mail channel; one
    destination (its URL, recorded as no recipient) for any other kind."""
    if channel.kind != Channel.Kind.EMAIL:
        return [""]
    return recipients(channel)


def recipients(channel) -> list[str]:
    """An e-mail channel's addresses (and members' when it includes them), minus those that
    unsubscribed, each once."""
    addresses = list(channel.emails)
    if channel.include_members:
        addresses += [
            email for email in channel.project.members.values_list("email", flat=True) if email
        ]
    unsubscribed = {address.lower() for address in channel.unsubscribed}
    seen, result = set(), []
    for address in addresses:
        if address.lower() not in unsubscribed and address.lower() not in seen:
            seen.add(address.lower())
            result.append(address)
    return result


def _queue_on_commit(planned):
    if planned:
        ids = [n.pk for n in planned]
        transaction.on_commit(lambda: queue_notifications(ids), robust=True)


def queue_notifications(notification_ids, *, countdown=None):
    for notification_id in notification_ids:
        try:
            # The delay lets alerts of the same moment join one digest.
            queue.queue_notification(
                notification_id,
                countdown=settings.ALERT_DIGEST_SECONDS if countdown is None else countdown,
            )
        except Exception:  # one that cannot be queued now is re-queued by the sweep
            log.exception("could not queue notification %s", notification_id)

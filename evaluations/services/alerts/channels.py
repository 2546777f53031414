"""Managing channels: creating and changing them, and a test message that goes out at once
so whoever sets a channel up sees whether it works."""

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction

from evaluations import channels, links
from evaluations.models import Channel

from .audience import destinations
from .unsubscribe import unsubscribe_url

MIN_SECRET = 16


def channel_problem(*, kind, url="", secret="", emails=(), include_members=False):
    """What is wrong with a channel of ``kind`` with these settings, as (field, message), or
    None: the one rule the API and the settings page both apply. An e-mail channel needs an
    address (or the members) and takes no URL or secret; the others need an http(s) URL (https
    for Slack and Teams) and no addresses; only a webhook is signed, and it must be."""
    if kind == Channel.Kind.EMAIL:
        for field, value in (("url", url), ("secret", secret)):
            if value:
                return field, "An e-mail channel takes none."
        if not emails and not include_members:
            return "emails", "Give at least one address, or include the project's members."
        return None
    scheme = urlsplit(url).scheme if url else ""
    if not url:
        return "url", f"A {kind} channel needs its URL."
    if scheme not in ("http", "https"):
        return "url", "Only http and https URLs."
    if kind in (Channel.Kind.SLACK, Channel.Kind.TEAMS) and scheme != "https":
        return "url", f"A {kind} webhook URL is https."
    if kind == Channel.Kind.WEBHOOK and not secret:
        return "secret", f"A webhook needs a secret of at least {MIN_SECRET} characters."
    if kind != Channel.Kind.WEBHOOK and secret:
        return "secret", "Only a webhook is signed."
    for field, value in (("emails", emails), ("include_members", include_members)):
        if value:
            return field, f"A {kind} channel has no addresses."
    return None


@transaction.atomic
def save_channel(*, project, channel=None, **fields) -> Channel:
    """Create a channel of ``project`` (or change ``channel``) from validated fields."""
    if channel is None:
        return Channel.objects.create(project=project, **fields)
    for name, value in fields.items():
        setattr(channel, name, value)
    channel.save()
    return channel


@dataclass(frozen=True)
class TestOutcome:
    delivered: bool
    destinations: int
    error: str = ""


def send_test(*, channel) -> TestOutcome:
    """Send a test message through ``channel`` now (to each address of an e-mail channel)."""
    alert = channels.Alert(
        kind="test",
        event="test",
        title=f"Test alert: channel {channel.name!r} of {channel.project.name} works",
        sentence="A test message sent from the project's settings; no model has changed.",
        model="",
        facts={"channel": channel.name},
        links={"project": links.project_url(channel.project)},
    )
    sent_to = destinations(channel)
    for recipient in sent_to:
        delivery = channels.Delivery(
            id=str(uuid.uuid4()), channel=channel, recipient=recipient, notifications=[],
            alerts=[alert], project=channel.project.name, extra={"test": True},
        )  # fmt: skip
        if channel.kind == Channel.Kind.EMAIL:
            delivery.extra["unsubscribe_url"] = unsubscribe_url(channel, recipient)
        try:
            channels.transport_for(channel).notify(delivery)
        except channels.Failed as exc:
            return TestOutcome(False, len(sent_to), str(exc))
    if not sent_to:
        return TestOutcome(False, 0, "The channel has no address left to send to.")
    return TestOutcome(True, len(sent_to))

"""One-click unsubscribe from an e-mail channel: a signed token names the channel and the
address, so the link works without logging in (tokens signed before channels were called so
keep working: the channel keeps its subscription's id)."""

from django.core import signing
from django.db import transaction

from evaluations import links
from evaluations.models import Channel

UNSUBSCRIBE_SALT = "alerts.unsubscribe"


def unsubscribe_url(channel, address) -> str:
    token = signing.dumps({"s": channel.pk, "a": address}, salt=UNSUBSCRIBE_SALT)
    return links.unsubscribe_url(token)


def unsubscribe(*, token) -> tuple[Channel, str] | None:
    """Remove the address a signed token names from its e-mail channel; None if invalid."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    with transaction.atomic():
        channel = Channel.objects.select_for_update().filter(pk=data.get("s")).first()
        if channel is None:
            return None
        address = data.get("a", "")
        if address.lower() not in {a.lower() for a in channel.unsubscribed}:
            channel.unsubscribed = [*channel.unsubscribed, address]
            channel.save(update_fields=["unsubscribed"])
    return channel, address

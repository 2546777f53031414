"""Every way of telling people, behind one seam (in the manner of healthchecks' transports):
a channel's kind names its ``Transport``, whose ``notify()`` sends one delivery or raises
``Failed``. A new kind is one small module and one line here."""

from .base import Alert, Delivery, Failed, Transport
from .content import alert_for
from .email import Email
from .slack import Slack
from .teams import Teams
from .webhook import Webhook

TRANSPORTS: dict[str, type[Transport]] = {
    "email": Email,
    "webhook": Webhook,
    "slack": Slack,
    "teams": Teams,
}


def transport_for(channel) -> Transport:
    return TRANSPORTS[channel.kind](channel)


__all__ = ["TRANSPORTS", "Alert", "Delivery", "Failed", "Transport", "alert_for", "transport_for"]

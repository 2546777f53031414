"""A signed JSON webhook: the alerts as JSON, POSTed with an HMAC-SHA256 signature over the
timestamped body (``X-Tracker-Signature: t=<unix seconds>,v1=<hex>``, the MAC of
"<t>.<raw body>" with the channel's secret) and the delivery's id (``X-Tracker-Delivery``, the
same on every retry, so a receiver can drop a duplicate)."""

import hashlib
import hmac
import json
import time

from .base import HttpTransport

SIGNATURE_HEADER = "X-Tracker-Signature"
DELIVERY_HEADER = "X-Tracker-Delivery"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def payload(delivery) -> dict:
    return {
        "delivery": delivery.id,
        "project": delivery.project,
        "alerts": [
            {
                "kind": alert.kind,
                "event": alert.event,
                "title": alert.title,
                "sentence": alert.sentence,
                "model": alert.model,
                **alert.facts,
                "links": alert.links,
            }
            for alert in delivery.alerts
        ],
    }


class Webhook(HttpTransport):
    def notify(self, delivery) -> str:
        body = json.dumps(payload(delivery), separators=(",", ":"), default=str).encode()
        headers = {DELIVERY_HEADER: delivery.id}
        if self.channel.secret:
            headers[SIGNATURE_HEADER] = signature(self.channel.secret, int(time.time()), body)
        self.post(body, headers)
        return summary(delivery)


def summary(delivery) -> str:
    if len(delivery.alerts) == 1:
        return delivery.alerts[0].title
    return f"{len(delivery.alerts)} alerts: " + ", ".join(a.title for a in delivery.alerts)

"""Microsoft Teams, through an incoming webhook (a Workflows "post to a channel when a webhook
request is received" URL): an Adaptive Card per delivery with each alert's title, its sentence
and its facts, and buttons to open it."""

import json

from .base import HttpTransport
from .slack import BUTTONS, MAX_ALERTS
from .webhook import summary


def card(delivery) -> dict:
    body, actions = [], []
    if len(delivery.alerts) > 1:
        body.append(_text(f"{len(delivery.alerts)} alerts ({delivery.project})", bold=True))
    for alert in delivery.alerts[:MAX_ALERTS]:
        body.append(_text(alert.title, bold=True))
        body.append(_text(alert.sentence))
        facts = [{"title": name, "value": str(value)} for name, value in alert.facts.items()
                 if value not in (None, "", [])]  # fmt: skip
        if facts:
            body.append({"type": "FactSet", "facts": facts[:10]})
        actions += [
            {"type": "Action.OpenUrl", "title": BUTTONS.get(name, name), "url": url}
            for name, url in alert.links.items()
        ]
    if len(delivery.alerts) > MAX_ALERTS:
        body.append(_text(f"and {len(delivery.alerts) - MAX_ALERTS} more"))
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard", "version": "1.4", "body": body, "actions": actions[:6],
        "msteams": {"width": "Full"},
    }  # fmt: skip
    return {
        "type": "message",
        "summary": summary(delivery)[:250],
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": content}
        ],
    }


def _text(text, *, bold=False):
    block = {"type": "TextBlock", "text": text, "wrap": True}
    if bold:
        block["weight"] = "Bolder"
    return block


class Teams(HttpTransport):
    def notify(self, delivery) -> str:
        self.post(json.dumps(card(delivery)).encode())
        return summary(delivery)

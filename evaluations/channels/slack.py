"""Slack, through an incoming webhook: a Block Kit message per delivery, each alert's title,
its sentence and buttons to open it (the finding and its chart, or the experiment and its
model). The text field is the notification's fallback."""

import json

from .base import HttpTransport
from .webhook import summary

MAX_ALERTS = 20  # Slack takes 50 blocks a message; a digest shows this many
BUTTONS = {"finding": "Open the finding", "chart": "The chart", "experiment": "Open the experiment",
           "model": "The model"}  # fmt: skip


def message(delivery) -> dict:
    blocks = []
    if len(delivery.alerts) > 1:
        blocks.append(_text_block(f"*{len(delivery.alerts)} alerts* ({delivery.project})"))
    for alert in delivery.alerts[:MAX_ALERTS]:
        blocks.append(_text_block(f"*{_escape(alert.title)}*\n{_escape(alert.sentence)}"))
        buttons = [
            {"type": "button", "text": {"type": "plain_text", "text": BUTTONS.get(name, name)},
             "url": url}
            for name, url in alert.links.items()
        ]  # fmt: skip
        if buttons:
            blocks.append({"type": "actions", "elements": buttons})
    if len(delivery.alerts) > MAX_ALERTS:
        blocks.append(_text_block(f"and {len(delivery.alerts) - MAX_ALERTS} more"))
    return {"text": summary(delivery)[:3000], "blocks": blocks}


def _text_block(text):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Slack(HttpTransport):
    def notify(self, delivery) -> str:
        self.post(json.dumps(message(delivery)).encode())
        return summary(delivery)

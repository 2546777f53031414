"""Alerts about findings and experiments: who is told (``audience``), sending each once
through its channel (``delivery``), managing channels (``channels``) and one-click
unsubscribe (``unsubscribe``).

A finding that opens notifies each destination of each matching channel once; a recovered
finding sends one "recovered" note where the channel asks for it. An experiment's decision
that rolls back, breaches a guardrail or first finds the traffic split off plan notifies them
the same way, recorded in the transaction that stores the decision. Every notification is a
row (``pending``) before anything leaves, and the send task marks it ``sent`` under a row lock,
so a far end that is down delays alerts without losing them and a retried task sends nothing
twice.
"""

from .audience import (
    GROWTH_FACTOR,
    destinations,
    notify,
    notify_experiment,
    queue_notifications,
    recipients,
)
from .channels import MIN_SECRET, TestOutcome, channel_problem, save_channel, send_test
from .delivery import RateLimited, SendFailed, mark_failed, pending_ids, send
from .unsubscribe import UNSUBSCRIBE_SALT, unsubscribe, unsubscribe_url

__all__ = [
    "GROWTH_FACTOR",
    "MIN_SECRET",
    "UNSUBSCRIBE_SALT",
    "RateLimited",
    "SendFailed",
    "TestOutcome",
    "channel_problem",
    "destinations",
    "mark_failed",
    "notify",
    "notify_experiment",
    "pending_ids",
    "queue_notifications",
    "recipients",
    "save_channel",
    "send",
    "send_test",
    "unsubscribe",
    "unsubscribe_url",
]

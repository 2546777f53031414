"""Where people hear about findings and experiments (channels: e-mail, signed webhooks, Slack,
Microsoft Teams), and every notification, recorded before it is sent so that a far end that is
down delays alerts but loses none."""

import uuid
from urllib.parse import urlsplit

from django.db import models
from django.utils import timezone

from .experiments import ExperimentAlert, ExperimentDecision
from .findings import Finding
from .projects import NAME_MAX_LENGTH, Project

# What a channel may narrow itself to.
ALERT_KINDS = [*Finding.Kind.choices, *ExperimentAlert.choices]


class Channel(models.Model):
    """One way the project's people are told: e-mail to a list of addresses (and optionally
    the project's members), a signed JSON webhook, or a Slack or Microsoft Teams incoming
    webhook; optionally narrowed to some models and some kinds of alert."""

    class Kind(models.TextChoices):
        EMAIL = "email", "e-mail"
        WEBHOOK = "webhook", "webhook"
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EMAIL)
    # E-mail: the addresses, the members, and who unsubscribed.
    emails = models.JSONField(default=list, blank=True)
    include_members = models.BooleanField(default=False)
    unsubscribed = models.JSONField(default=list, blank=True)
    # Webhook, Slack, Teams: where to post (a credential for Slack and Teams), and a webhook's
    # signing secret. Neither is ever answered back in full.
    url = models.URLField(max_length=2000, blank=True)
    secret = models.CharField(max_length=200, blank=True)
    model_names = models.JSONField(default=list, blank=True, help_text="Empty: all models")
    kinds = models.JSONField(
        default=list, blank=True, help_text="Finding kinds and experiment alerts; empty: all"
    )
    notify_recovered = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.project}: {self.name} ({self.kind})"

    @property
    def url_hint(self) -> str:
        """Enough of the URL to recognise it (scheme, host, last 4 characters), never all of
        it: a Slack or Teams webhook URL is a credential."""
        if not self.url:
            return ""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}/…{self.url[-4:]}"


class Notification(models.Model):
    """One alert to one destination (an e-mail address, or a channel's URL) about one finding
    or one experiment's decision. Notifications sent together (a digest) share a
    ``batch_key`` from their first attempt on: every retry sends the same batch under the same
    delivery id."""

    class Event(models.TextChoices):
        OPENED = "opened"
        GREW = "grew"
        RECOVERED = "recovered"
        EXPERIMENT = "experiment"  # a rollback, a guardrail breach, a split mismatch

    class State(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.EmailField(blank=True, help_text="E-mail only: the address")
    event = models.CharField(max_length=16, choices=Event.choices)
    findings = models.ManyToManyField(Finding, related_name="notifications")
    decision = models.ForeignKey(
        ExperimentDecision, null=True, blank=True, on_delete=models.CASCADE,
        related_name="notifications",
    )  # fmt: skip
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    subject = models.CharField(max_length=500, blank=True)
    batch_key = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "created_at"], name="notification_by_state"),
            models.Index(fields=["channel", "recipient", "state"], name="notification_pending"),
        ]

    def __str__(self):
        return f"{self.event} to {self.recipient or self.channel}: {self.state}"

    @staticmethod
    def new_batch_key():
        return uuid.uuid4()

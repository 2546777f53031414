"""Who hears about findings and experiments (subscriptions), and every e-mail notification,
recorded before it is sent so that an SMTP outage delays mail but loses none."""

from django.db import models
from django.utils import timezone

from .experiments import ExperimentAlert, ExperimentDecision
from .findings import Finding
from .projects import NAME_MAX_LENGTH, Project

# What a subscription may narrow itself to.
ALERT_KINDS = [*Finding.Kind.choices, *ExperimentAlert.choices]


class AlertSubscription(models.Model):
    """A list of addresses (and optionally the project's members) told about findings,
    optionally narrowed to some models and some kinds of finding."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="subscriptions")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    emails = models.JSONField(default=list, blank=True)
    include_members = models.BooleanField(default=False)
    model_names = models.JSONField(default=list, blank=True, help_text="Empty: all models")
    kinds = models.JSONField(
        default=list, blank=True, help_text="Finding kinds and experiment alerts; empty: all"
    )
    notify_recovered = models.BooleanField(default=False)
    unsubscribed = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.project}: {self.name}"


class Notification(models.Model):
    """One e-mail to one recipient about one finding or one experiment's decision (or a digest
    of several)."""

    class Event(models.TextChoices):
        OPENED = "opened"
        GREW = "grew"
        RECOVERED = "recovered"
        EXPERIMENT = "experiment"  # a rollback, a guardrail breach, a split mismatch

    class State(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    subscription = models.ForeignKey(
        AlertSubscription, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.EmailField()
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
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"], name="notification_by_state")]

    def __str__(self):
        return f"{self.event} to {self.recipient}: {self.state}"

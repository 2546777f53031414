"""What the trend analysis finds, its triage, and the intended changes that start a new
segment of a series."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .history import ModelVersion, RegisteredModel, Series
from .projects import NAME_MAX_LENGTH


class Finding(models.Model):
    """A degradation the trend analysis found in a series. Re-analysing the same evidence
    updates the open finding of that kind; a recovered series resolves it."""

    class Kind(models.TextChoices):
        DRIFT = "drift"
        STEP = "step"
        BASELINE_DROP = "baseline_drop"
        THRESHOLD = "threshold", "threshold breach on the latest run"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        FALSE_ALARM = "false_alarm"

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    start_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    end_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    magnitude = models.FloatField(help_text="How much worse, in the metric's units")
    relative_magnitude = models.FloatField(null=True, blank=True)
    slope = models.FloatField(null=True, blank=True, help_text="Per version (drift)")
    p_value = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    forecast_versions = models.FloatField(null=True, blank=True)
    message = models.TextField()
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    triaged_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    triage_note = models.CharField(max_length=500, blank=True)
    # The magnitude subscribers were last told of: a follow-up goes out once it has doubled.
    notified_magnitude = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["series", "kind"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="finding_one_active_per_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-last_seen_at"], name="finding_by_status"),
        ]

    def __str__(self):
        return f"{self.kind} in {self.series}: {self.status}"


class ChangeMark(models.Model):
    """A version marked as an intended change ("expected: new tokenizer"): the analysis and
    the budgets start a new segment from it, and charts show the mark."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="marks")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=500)
    created_by = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "model_version"], name="mark_once"),
        ]

    def __str__(self):
        return f"{self.model_version}: {self.note}"

"""Regressions the trend analysis missed: a person marks the version of a series where one
should have been found, so that the alerts' recall can be reported beside their precision."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .history import ModelVersion, Series
from .projects import NAME_MAX_LENGTH


class MissedRegression(models.Model):
    """ "This should have been found at version X" on one series. It counts against recall
    while no finding people confirmed covers it (``selectors.missed``); withdrawn, it is kept
    as a record of who said what, and counts no more."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="missed")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=500)
    created_by = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    withdrawn_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["series", "model_version"],
                condition=Q(withdrawn_at__isnull=True),
                name="missed_once_per_version",
            ),
        ]

    def __str__(self):
        return f"missed in {self.series} at {self.model_version_id}: {self.note}"

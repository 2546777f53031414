"""Regressions the trend analysis missed: a person marks the version of a series where one
should have been found, so that the alerts' recall can be reported beside their precision."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .history import ModelVersion, Series
from .projects import NAME_MAX_LENGTH


class MissedRegressionQuerySet(models.QuerySet):
    def in_status(self, status):
        """The marks in ``status``: ``standing`` (counted) or ``withdrawn`` (kept as a
        record, counted no more)."""
        return self.filter(withdrawn_at__isnull=status == MissedRegression.Status.STANDING)

    def standing(self):
        return self.in_status(MissedRegression.Status.STANDING)


class MissedRegression(models.Model):
    """ "This should have been found at version X" on one series. It counts against recall
    while no finding people confirmed covers it (``selectors.missed``); withdrawn, it is kept
    as a record of who said what, and counts no more."""

    class Status(models.TextChoices):
        STANDING = "standing"
        WITHDRAWN = "withdrawn"

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="missed")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=500)
    created_by = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    withdrawn_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = MissedRegressionQuerySet.as_manager()

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

    @property
    def status(self) -> str:
        return self.Status.WITHDRAWN if self.withdrawn_at else self.Status.STANDING

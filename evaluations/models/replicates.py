"""Replicate sets: one version's runs of distinct seeds on one series, kept as one point."""

from django.db import models

from .history import EvaluationRun, ModelVersion, Series


class ReplicateSet(models.Model):
    """The point of a series that a version's seeded runs make together, once two or more
    distinct seeds are stored (services/replicates.py writes it with each seed): their mean,
    spread and interval, and the point's JSON as the series read answers it.

    Its members are the version's runs on the series that carry a seed (the latest run of
    each seed counts, so a seed run again is not a second replicate); each keeps its own
    result row, listed with its run as ever, and reads of the series show this point in their
    place, at the time of the latest member (``run``)."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="+", db_index=False)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    # The latest member: the point sits at its time. Removing it moves the set to the latest
    # member left, or deletes a set left with one seed (services/removal.py): never a cascade,
    # which would lose a set of two or more seeds with its latest run. A deletion that skips
    # that service is refused by the database's (deferred) foreign key when it commits.
    run = models.ForeignKey(EvaluationRun, on_delete=models.DO_NOTHING, related_name="+")
    recorded_at = models.DateTimeField()
    replicates = models.PositiveIntegerField()
    value = models.FloatField(help_text="The seeds' mean")
    sd = models.FloatField(help_text="The seeds' sample standard deviation")
    n = models.PositiveBigIntegerField(null=True, blank=True)
    ci_low = models.FloatField()
    ci_high = models.FloatField()
    point = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["series", "model_version"], name="replicate_set_per_version"
            ),
        ]

    def __str__(self):
        return f"{self.replicates} seeds of {self.model_version_id} on {self.series_id}"

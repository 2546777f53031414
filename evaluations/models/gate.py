"""What the regression gate compares against: baselines and threshold rules."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .history import Branch, EvaluationRun, ModelVersion, RegisteredModel
from .projects import NAME_MAX_LENGTH


class BaselinePin(models.Model):
    """One pin of a model's baseline on a dataset: the version whose results the gate compares
    against. Pins are only ever added, so the latest per (model, dataset name, branch) is the
    baseline and the rest is its history."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="pins")
    dataset_name = models.CharField(max_length=NAME_MAX_LENGTH)
    # Each branch has its own baseline; runs on other branches are judged against their base
    # branch's (the default's, unless they name another).
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="pins")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    # The run whose results are the baseline values (the version's latest on that dataset).
    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="+")
    pinned_by = models.CharField(max_length=NAME_MAX_LENGTH)
    pinned_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["model", "dataset_name", "branch", "-pinned_at", "-id"], name="pin_latest"
            ),
        ]

    def __str__(self):
        return f"{self.model} on {self.dataset_name}: {self.model_version.label}"


class ThresholdRule(models.Model):
    """What a new version must meet before it may deploy, for one metric of a model,
    optionally narrowed to a dataset and a slice (see trackerclient.gate for the semantics)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="rules")
    metric = models.CharField(max_length=NAME_MAX_LENGTH)
    dataset_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    slice = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    min = models.FloatField(null=True, blank=True)
    max = models.FloatField(null=True, blank=True)
    max_drop = models.FloatField(null=True, blank=True)
    max_drop_pct = models.FloatField(null=True, blank=True)
    significance = models.FloatField(null=True, blank=True, help_text="alpha")
    budget = models.FloatField(null=True, blank=True)
    # The budget is counted from the baseline that was pinned at this time (on the evaluated
    # run's dataset; the earliest pin if none was yet). Set when the budget is set or reset.
    budget_since = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "metric", "dataset_name", "slice"], name="rule_unique_scope"
            ),
            models.CheckConstraint(
                condition=Q(significance__isnull=True) | Q(significance__gt=0, significance__lt=1),
                name="rule_alpha_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.model} {self.metric}"

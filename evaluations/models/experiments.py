"""Online comparisons of a model's versions on live traffic (shadow mode, canary releases,
interleaving, multi-armed bandits): the experiment, the windows of aggregates the serving
system posts, and the decision taken after each window."""

from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

from .history import ModelVersion, RegisteredModel
from .projects import NAME_MAX_LENGTH, Project


class Experiment(models.Model):
    class Kind(models.TextChoices):
        SHADOW = "shadow"
        CANARY = "canary"
        INTERLEAVING = "interleaving"
        BANDIT = "bandit"

    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETED = "completed"  # a canary at all traffic, a shadow safe to switch, a winner
        ROLLED_BACK = "rolled_back"  # a canary rolled back, a shadow not safe
        DECIDED = "decided"  # an interleaving's verdict
        STOPPED = "stopped"  # stopped by hand

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="experiments")
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    control = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    # {"name", "type", "direction", "max_degradation", "min"}; guardrails: a list of those.
    primary_metric = models.JSONField()
    guardrails = models.JSONField(default=list, blank=True)
    alpha = models.FloatField(default=0.05)
    traffic_steps = models.JSONField(default=list, blank=True)
    planned_split = models.JSONField(default=dict, blank=True)
    min_windows_per_step = models.PositiveIntegerField(default=1)
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    step = models.PositiveIntegerField(default=0)  # a canary's index into traffic_steps
    created_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="experiment_unique_name"),
        ]
        indexes = [models.Index(fields=["project", "-created_at"], name="experiment_by_time")]

    def __str__(self):
        return f"{self.kind} {self.name}"

    @cached_property
    def labels(self) -> list[str]:
        """The versions compared, the control first."""
        prefetched = "arms" in getattr(self, "_prefetched_objects_cache", {})
        arms = self.arms.all() if prefetched else self.arms.select_related("model_version")
        return [arm.model_version.label for arm in arms]

    @property
    def metric_specs(self) -> list[dict]:
        """The primary metric, then the guardrails."""
        return [self.primary_metric, *self.guardrails]


class ExperimentArm(models.Model):
    """A version in the experiment: the control, or a candidate."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    is_control = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "model_version"], name="experiment_arm_once"
            ),
        ]
        ordering = ["position"]

    def __str__(self):
        return f"{self.experiment_id}: {self.model_version_id}"


class ExperimentWindow(models.Model):
    """One window of aggregates as the serving system posted it (idempotent on window_id)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="windows")
    window_id = models.CharField(max_length=NAME_MAX_LENGTH)
    start = models.DateTimeField()
    end = models.DateTimeField()
    body = models.JSONField()  # the validated window, as posted
    digest = models.CharField(max_length=64)
    step = models.PositiveIntegerField(default=0)  # the canary's step the window fell in
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "window_id"], name="window_once"),
        ]
        indexes = [models.Index(fields=["experiment", "created_at"], name="window_by_time")]

    def __str__(self):
        return f"{self.experiment_id}: {self.window_id}"


class ExperimentAlert(models.TextChoices):
    """What an experiment's decision alerts about (beside the kinds of finding)."""

    ROLLBACK = "rollback", "experiment rolled back (a canary rolled back, a shadow not safe)"
    GUARDRAIL_BREACH = "guardrail_breach", "experiment guardrail breached"
    SAMPLE_RATIO_MISMATCH = "sample_ratio_mismatch", "experiment traffic split mismatch"


# The decisions that take traffic away from the candidate.
ROLLBACK_ACTIONS = ("rollback", "not_safe")


class ExperimentDecision(models.Model):
    """The decision after one window (or a stop): the action, its reasons and the figures
    behind it (cumulative per-arm statistics with their intervals, the sample-ratio test, a
    bandit's allocation), so that the experiment's history reads without judging again."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="decisions")
    window = models.OneToOneField(
        ExperimentWindow, null=True, blank=True, on_delete=models.CASCADE, related_name="decision"
    )
    action = models.CharField(max_length=32)
    reasons = models.JSONField(default=list)
    step = models.PositiveIntegerField(default=0)
    figures = models.JSONField(default=dict)  # {"arms", "checks", "srm", "allocation", ...}
    # The cumulative aggregates after the window, per arm and metric, to sum the next onto.
    totals = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["experiment", "-created_at", "-id"], name="decision_latest"),
        ]

    def __str__(self):
        return f"{self.experiment_id}: {self.action}"

    @property
    def mismatch(self) -> bool:
        """Whether the traffic split was off plan when this decision was taken."""
        return bool((self.figures.get("srm") or {}).get("mismatch"))

    @property
    def alerts(self) -> list[str]:
        """What about this decision people should be told (ExperimentAlert values)."""
        found = []
        if self.action in ROLLBACK_ACTIONS:
            found.append(ExperimentAlert.ROLLBACK)
        checks = self.figures.get("checks") or []
        if any(c.get("role") == "guardrail" and c.get("status") == "breached" for c in checks):
            found.append(ExperimentAlert.GUARDRAIL_BREACH)
        if self.mismatch:
            found.append(ExperimentAlert.SAMPLE_RATIO_MISMATCH)
        return found

    @property
    def headline(self) -> str:
        """What an alert about this decision says first, e.g. "Canary rolled back, guardrail
        breached" or "Canary traffic split off plan"."""
        alerts, said = self.alerts, []
        if ExperimentAlert.ROLLBACK in alerts:
            said.append("rolled back" if self.action == "rollback" else "not safe to switch")
        if ExperimentAlert.GUARDRAIL_BREACH in alerts:
            said.append("guardrail breached")
        if ExperimentAlert.SAMPLE_RATIO_MISMATCH in alerts:
            said.append("traffic split off plan")
        return f"{self.experiment.kind.capitalize()} {', '.join(said) or self.action}"

"""The metrics history: models, versions, datasets, metric definitions, evaluation runs,
series and per-metric results, with the constraints that keep the history right."""

import sys

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .fields import DocumentField
from .projects import NAME_MAX_LENGTH, Project


class RegisteredModel(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="model_unique_name"),
        ]

    def __str__(self):
        return self.name


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    label = models.CharField(max_length=NAME_MAX_LENGTH, help_text="e.g. 1.4.0 or a git sha")
    commit = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    branch = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "label"], name="version_unique_label"),
        ]
        indexes = [models.Index(fields=["model", "first_seen_at"], name="version_by_time")]

    def __str__(self):
        return f"{self.model.name}@{self.label}"


class Branch(models.Model):
    """A line of a model's history: the project's default branch (``main``), a long-lived
    release branch, or a pull request's branch. Series are kept per branch, so a branch's runs
    never move the default branch's charts, findings or budgets; a merged or archived branch's
    history stays readable."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="branches")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    # Trend analysis and alerts run on it (besides the default branch, which always has them).
    long_lived = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(default=timezone.now)
    # Set when someone says it merged (a merge commit CI never evaluated); a run on the
    # default branch with one of its commits shows it merged without being stored here.
    merged_at = models.DateTimeField(null=True, blank=True)
    merged_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="branch_unique_name"),
        ]
        verbose_name_plural = "branches"

    def __str__(self):
        return f"{self.model_id}:{self.name}"


class EvaluationDataset(models.Model):
    """A fixed evaluation set: a name plus a version or fingerprint. Baselines and series
    only ever compare results on the same (name, version)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    version = models.CharField(max_length=NAME_MAX_LENGTH, blank=True, default="")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name", "version"], name="dataset_unique_version"
            ),
        ]

    def __str__(self):
        return f"{self.name}@{self.version}" if self.version else self.name


class MetricDefinition(models.Model):
    class Kind(models.TextChoices):
        CLASSIFICATION = "classification"
        REGRESSION = "regression"
        NLP = "nlp"
        LATENCY = "latency"
        OTHER = "other"

    class Direction(models.TextChoices):
        HIGHER_IS_BETTER = "higher_is_better"
        LOWER_IS_BETTER = "lower_is_better"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    unit = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="metric_unique_name"),
        ]

    def __str__(self):
        return self.name


class EvaluationRun(models.Model):
    class Environment(models.TextChoices):
        OFFLINE = "offline"
        SHADOW = "shadow"
        CANARY = "canary"
        PRODUCTION = "production"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="runs")
    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.PROTECT, related_name="runs")
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.OFFLINE
    )
    seed = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The run's place in history: finished_at when CI sent it, else the time it arrived.
    recorded_at = models.DateTimeField(default=timezone.now)
    commit = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    # The branch the run's points went to (the project's default when the body named none),
    # and the branch whose baseline judged it (the default, unless the body named another).
    branch = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    base_branch = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    ci_url = models.URLField(max_length=2000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # NULL, not "", for "no idempotency key": the unique constraint skips NULLs.
    external_id = models.CharField(max_length=NAME_MAX_LENGTH, null=True, blank=True)  # noqa: DJ001
    # SHA-256 of the normalised body: a replay with the same external_id must match it.
    payload_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    # The regression gate's verdict as the post answered it ({"status", "checks"}), so that
    # pages show it without judging again. NULL until judged: batch-posted runs and runs
    # stored before verdicts were kept are judged once, when first shown.
    gate_verdict = DocumentField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=Q(external_id__isnull=False),
                name="run_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(finished_at__isnull=True)
                | Q(started_at__lte=F("finished_at")),
                name="run_started_before_finished",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-recorded_at", "-id"], name="run_by_project_time"),
            # A run on the default branch with a branch's commit shows that branch merged.
            models.Index(fields=["commit"], name="run_by_commit", condition=~Q(commit="")),
        ]

    def __str__(self):
        return f"run {self.pk} of {self.model_version_id}"


class Series(models.Model):
    """One metric history: a model's results for one metric and slice on one dataset, on one
    branch and in one environment (offline, shadow, canary, production).

    Results point here, so a history read is one index range scan. It also carries the
    analysis bookkeeping, which makes the analysis at-least-once per touched series:

    - ``dirty``: an analysis is due. Every post that touches the series sets it and bumps
      ``generation``; a post that finds it clean also sets ``due_since`` and ``queued_at`` and
      queues a job (posts that find it dirty leave that job to pick up their results too).
    - A job clears ``dirty`` only in the transaction that stores its analysis, and only if
      ``generation`` is still the one it read: a post that landed meanwhile keeps it due.
    - A failed analysis keeps it due, counts ``analysis_failures`` with the error and sets
      ``retry_at`` (an exponential backoff), so a poisoned series never blocks another and
      is never retried in a hot loop.
    - The beat sweep re-queues series still due long after ``queued_at`` (a job lost with a
      worker or the broker); ``queued_at`` does not move with posts, so a busy series is swept.
    """

    # No single-column indexes on the keys: every post rewrites its series' rows (dirty,
    # generation, touched_at), and each index is one more entry per row per post. The unique
    # key serves lookups by model; by dataset, metric or branch alone there are only deletes
    # and a branch's rare change of watch, which scan a table of one row per series.
    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="series", db_index=False
    )
    dataset = models.ForeignKey(
        EvaluationDataset, on_delete=models.CASCADE, related_name="series", db_index=False
    )
    metric = models.ForeignKey(
        MetricDefinition, on_delete=models.CASCADE, related_name="series", db_index=False
    )
    slice = models.CharField(max_length=NAME_MAX_LENGTH, default="overall")
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="series", db_index=False
    )
    environment = models.CharField(
        max_length=16, choices=EvaluationRun.Environment.choices, default="offline"
    )
    # Trend analysis and alerts run on it: its branch is the default or long-lived (or the
    # project analyses every branch). The sweep and posts skip the others.
    watched = models.BooleanField(default=True)
    dirty = models.BooleanField(default=False)
    touched_at = models.DateTimeField(default=timezone.now)
    generation = models.BigIntegerField(default=0)
    due_since = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    analysed_at = models.DateTimeField(null=True, blank=True)
    analysis_count = models.PositiveIntegerField(default=0)
    analysis_failures = models.PositiveIntegerField(default=0)
    analysis_error = models.TextField(blank=True, default="")
    analysis_failed_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    # The fitted trend of the latest analysis, for charts: {"start_version", "start_value",
    # "end_version", "end_value", "slope"} (slope per version), or None.
    trend = models.JSONField(null=True, blank=True)
    # Some version's seeded runs make one point here (a ReplicateSet): the reads merge them.
    # Set once, with the first set, so that every other series reads as it always has.
    replicated = models.BooleanField(default=False, db_default=False)

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(
                fields=["model", "dataset", "metric", "slice", "branch", "environment"],
                name="series_unique_key",
            ),
        ]
        indexes = [
            models.Index(fields=["dirty", "queued_at"], name="series_due"),
            models.Index(
                fields=["analysis_failed_at"],
                name="series_failing",
                condition=models.Q(analysis_failures__gt=0),
            ),
        ]

    def __str__(self):
        return f"{self.model_id}/{self.dataset_id}/{self.metric_id}/{self.slice}"


class MetricResult(models.Model):
    # No single-column indexes on run and series: the unique (run, series) and the history
    # (series, recorded_at, run) indexes serve those lookups, and each index slows inserts.
    # The run and the version have no foreign-key constraint in the database, which would
    # check them once per result (two-thirds of the time PostgreSQL takes to store a run of
    # 1,000 results): ingestion, the one writer of this table, inserts the run in the same
    # transaction, and the version is the run's own, which the run's constraint checks.
    # Deleting either still deletes its results (Django's cascade). Nor has the series: its
    # check at commit, a thousand lookups for a suite's run, was the largest part of that
    # commit; ingestion locks every series a run's results go to before it commits, and
    # fails and tries again if one is gone (services/ingest.py, _mark_dirty).
    run = models.ForeignKey(
        EvaluationRun,
        on_delete=models.CASCADE,
        related_name="results",
        db_index=False,
        db_constraint=False,
    )
    series = models.ForeignKey(
        Series,
        on_delete=models.CASCADE,
        related_name="results",
        db_index=False,
        db_constraint=False,
    )
    # Copied from the run, like recorded_at, so that a history read never joins to runs.
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # Per-example outcomes (1 = correct), packed most significant bit first in dataset order,
    # for paired significance tests; None when not posted.
    outcomes = models.BinaryField(null=True, blank=True)
    value = models.FloatField()
    n = models.PositiveBigIntegerField(null=True, blank=True, help_text="Sample size")
    # The positives and negatives a ranking metric (AUC-ROC) was measured on: its standard
    # error (Hanley-McNeil) depends on both, not on n alone.
    n_pos = models.PositiveBigIntegerField(null=True, blank=True)
    n_neg = models.PositiveBigIntegerField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    # The point as the series API writes it (evaluations/models/points.py), so that a series read
    # concatenates stored text instead of writing 5,000 objects. NULL (not "") for rows loaded
    # by other means: the read writes those itself.
    point = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001

    class Meta:
        constraints = [
            # The series fixes metric and slice, the run fixes model and dataset: this is
            # "one result per run + metric + slice".
            models.UniqueConstraint(fields=["run", "series"], name="result_unique_per_run"),
            models.CheckConstraint(
                # Between ±DBL_MAX: excludes ±Infinity, and NaN (which sorts above all).
                condition=Q(value__gte=-sys.float_info.max, value__lte=sys.float_info.max),
                name="result_value_finite",
            ),
            models.CheckConstraint(
                condition=Q(ci_low__isnull=True)
                | Q(ci_high__isnull=True)
                | Q(ci_low__lte=F("ci_high")),
                name="result_ci_ordered",
            ),
            models.CheckConstraint(
                condition=Q(n_pos__isnull=True, n_neg__isnull=True)
                | Q(n_pos__isnull=False, n_neg__isnull=False),
                name="result_classes_together",
            ),
        ]
        indexes = [
            # Covering what the model page and the analysis read of a series (PostgreSQL):
            # they are answered from the index alone, whose entries for a series lie together,
            # instead of one heap page per point, which a long history scatters among
            # everyone else's (benchmarks/history.py: 422 buffers instead of 20,177 for 20
            # series of 1,000 points among 10 million results).
            models.Index(
                fields=["series", "recorded_at", "run"],
                include=["model_version", "value", "n", "ci_low", "ci_high"],
                name="result_history",
            ),
        ]

    def __str__(self):
        return f"{self.series}={self.value} (run {self.run_id})"

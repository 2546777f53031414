"""Validation of what CI posts, and the shape of what the API answers."""

import math

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evaluations import links
from evaluations.models import NAME_MAX_LENGTH, EvaluationRun, MetricDefinition
from trackerclient import stats

from .fields import (
    ChoiceField,
    MetadataField,
    NameField,
    OutcomesField,
    StrictFloatField,
    StrictIntegerField,
    printable,
)
from .finding_serializers import ChangeMarkSerializer, FindingSerializer, PrecisionRecallSerializer

MAX_METRICS_PER_RUN = 10_000
MAX_RUNS_PER_BATCH = 1_000
MAX_OUTCOMES_CHARS = 4 * 1024 * 1024  # base64 of 25 million outcomes, within the body limit
# Sample and dataset sizes: a trillion examples is beyond any evaluation set, and well within
# the bigint columns and the float arithmetic of the gate's statistics.
MAX_COUNT = 10**12
MAX_SERIES_LIMIT = 1_000_000  # far beyond any history; keeps LIMIT within a bigint


class DatasetInputSerializer(serializers.Serializer):
    name = NameField()
    version = NameField(required=False, default="", allow_blank=True)
    size = StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_COUNT)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "Dataset name"},
            {"$ref": "#/components/schemas/DatasetInputRequest"},
        ]
    }
)
class DatasetField(serializers.Field):
    """``"holdout"`` or ``{"name": "holdout", "version": "2024-06", "size": 10000}``."""

    default_error_messages = {"invalid": "Must be a dataset name or an object with a name."}

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = {"name": data}
        if not isinstance(data, dict):
            self.fail("invalid")
        serializer = DatasetInputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class MetricInputSerializer(serializers.Serializer):
    name = NameField()
    value = StrictFloatField()
    slice = NameField(required=False, default="overall")
    n = StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_COUNT)
    n_pos = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_COUNT,
        help_text="Positives a ranking metric (AUC-ROC) was measured on; goes with `n_neg`.",
    )
    n_neg = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_COUNT,
        help_text="Negatives a ranking metric (AUC-ROC) was measured on; goes with `n_pos`.",
    )
    ci_low = StrictFloatField(required=False, allow_null=True)
    ci_high = StrictFloatField(required=False, allow_null=True)
    direction = ChoiceField(choices=MetricDefinition.Direction.choices, required=False)
    kind = ChoiceField(choices=MetricDefinition.Kind.choices, required=False)
    unit = serializers.CharField(required=False, max_length=32, allow_blank=True)
    outcomes = OutcomesField(
        required=False,
        allow_null=True,
        max_length=MAX_OUTCOMES_CHARS,
        help_text=(
            "Per-example outcomes (1 = correct) in dataset order: base64 of the bits packed "
            "most significant bit first (numpy.packbits). As many bits as `n`, or as the "
            "dataset's `size` when `n` is not given."
        ),
    )

    def validate(self, attrs):
        low, high = attrs.get("ci_low"), attrs.get("ci_high")
        if (low is None) != (high is None):
            missing = "ci_high" if high is None else "ci_low"
            raise serializers.ValidationError({missing: ["ci_low and ci_high go together."]})
        if low is not None and low > high:
            raise serializers.ValidationError({"ci_low": ["Must not be above ci_high."]})
        n_pos, n_neg = attrs.get("n_pos"), attrs.get("n_neg")
        if (n_pos is None) != (n_neg is None):
            missing = "n_neg" if n_neg is None else "n_pos"
            raise serializers.ValidationError({missing: ["n_pos and n_neg go together."]})
        n = attrs.get("n")
        if n_pos is not None and n is not None and n_pos + n_neg != n:
            raise serializers.ValidationError(
                {"n": [f"Must equal n_pos + n_neg ({n_pos + n_neg}) when all three are given."]}
            )
        return attrs


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/MetricInputRequest"}},
            {
                "type": "object",
                "additionalProperties": {"type": "number"},
                "description": 'Shorthand: {"accuracy": 0.931, ...}',
            },
        ]
    }
)
class MetricsField(serializers.Field):
    """A list of metric objects, or the shorthand ``{"accuracy": 0.931, ...}``."""

    default_error_messages = {
        "invalid": "Must be a list of metrics or an object of name: value.",
        "empty": "At least one metric is required.",
        "too_many": f"At most {MAX_METRICS_PER_RUN} metrics per run.",
    }

    def to_internal_value(self, data):
        if isinstance(data, dict):
            items = [{"name": name, "value": value} for name, value in data.items()]
        elif isinstance(data, list):
            items = data
        else:
            self.fail("invalid")
        if not items:
            self.fail("empty")
        if len(items) > MAX_METRICS_PER_RUN:
            self.fail("too_many")
        metrics = [_plain_metric(item) for item in items]
        if None in metrics:
            metrics = self._validated(data, items)
        _reject_duplicates(metrics)
        return metrics

    @staticmethod
    def _validated(data, items):
        serializer = MetricInputSerializer(data=items, many=True)
        if not serializer.is_valid():
            # Errors are keyed by position: {"metrics": {"2": {"value": [...]}}}; for the
            # shorthand object form, by metric name instead (lone surrogates escaped, or the
            # answer could not be written).
            errors = _errors_by_index(serializer.errors)
            if isinstance(data, dict):
                errors = {printable(items[index]["name"]): err for index, err in errors.items()}
            raise serializers.ValidationError(errors)
        return [dict(item) for item in serializer.validated_data]


# Most metrics CI posts are plain: a printable name, a finite number, perhaps a slice, a sample
# size and an interval. Those are checked here directly, giving what MetricInputSerializer
# would (tests/test_query_budget.py compares the two); anything else, errors included, is
# left to the serializer, whose per-field machinery costs a tenth of a post at 20 metrics.
_PLAIN_METRIC_KEYS = frozenset({"name", "value", "slice", "n", "ci_low", "ci_high"})
_EXACT_FLOAT_INT = 2**53


def _plain_metric(item):
    """``MetricInputSerializer``'s validated data for a plain metric; None for any other."""
    if type(item) is not dict or not item.keys() <= _PLAIN_METRIC_KEYS:
        return None
    name, value, slice_ = item.get("name"), item.get("value"), item.get("slice", "overall")
    if not (_plain_name(name) and _plain_name(slice_) and _plain_number(value)):
        return None
    metric = {"name": name, "value": float(value), "slice": slice_}
    if "n" in item:
        n = item["n"]
        if not (n is None or (type(n) is int and 1 <= n <= MAX_COUNT)):
            return None
        metric["n"] = n
    for bound in ("ci_low", "ci_high"):
        if bound in item:
            if not (item[bound] is None or _plain_number(item[bound])):
                return None
            metric[bound] = None if item[bound] is None else float(item[bound])
    low, high = metric.get("ci_low"), metric.get("ci_high")
    if (low is None) != (high is None) or (low is not None and low > high):
        return None
    return metric


def _plain_name(value):
    # Printable excludes control, null and surrogate characters; surrounding spaces would be
    # trimmed by the serializer.
    return (
        type(value) is str
        and 0 < len(value) <= NAME_MAX_LENGTH
        and value.isprintable()
        and value == value.strip()
    )


def _plain_number(value):
    # Exactly float or int: not a bool, nor the parser's NaN/Infinity markers.
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is int and -_EXACT_FLOAT_INT <= value <= _EXACT_FLOAT_INT


def _errors_by_index(errors):
    if isinstance(errors, dict):
        return {int(index): err for index, err in errors.items() if err}
    return {index: err for index, err in enumerate(errors) if err}


def _reject_duplicates(metrics):
    seen = {}
    for index, metric in enumerate(metrics):
        key = (metric["name"], metric["slice"])
        if key in seen:
            raise serializers.ValidationError(
                f"metrics[{index}]: {metric['name']} on slice '{metric['slice']}' "
                f"is posted twice (first at metrics[{seen[key]}])."
            )
        seen[key] = index


class RunInputSerializer(serializers.Serializer):
    model = NameField()
    version = NameField()
    commit = NameField(required=False, allow_blank=True, default="")
    branch = NameField(
        required=False, allow_blank=True, default="",
        help_text="The branch the run's points go to; the project's default branch when empty.",
    )  # fmt: skip
    base_branch = NameField(
        required=False, allow_blank=True, default="",
        help_text="The branch whose baseline judges the run; the project's default when empty.",
    )  # fmt: skip
    dataset = DatasetField()
    environment = ChoiceField(
        choices=EvaluationRun.Environment.choices, default=EvaluationRun.Environment.OFFLINE
    )
    external_id = NameField(required=False, allow_null=True, default=None)
    seed = StrictIntegerField(
        required=False, allow_null=True, default=None, min_value=-(2**63), max_value=2**63 - 1
    )
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    finished_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    ci_url = serializers.URLField(required=False, allow_blank=True, max_length=2000, default="")
    metadata = MetadataField(required=False, default=dict)
    metrics = MetricsField()

    def validate_model(self, value):
        if "/" in value:
            raise serializers.ValidationError("Must not contain '/'.")
        return value

    def to_internal_value(self, data):
        plain = _plain_run(data)
        return plain if plain is not None else super().to_internal_value(data)

    def validate(self, attrs):
        started, finished = attrs.get("started_at"), attrs.get("finished_at")
        if started and finished and started > finished:
            raise serializers.ValidationError({"started_at": ["Must not be after finished_at."]})
        if not attrs["ci_url"]:
            attrs["ci_url"] = _url_or_blank(attrs["metadata"].get("ci_url"))
        _pack_outcomes(attrs["metrics"], attrs["dataset"].get("size"))
        return attrs


# Most runs CI posts are plain too: names, a dataset, perhaps a seed, times and metadata, no
# CI link of their own. Those fields are checked here directly, giving what the serializer's
# fields would (tests/test_query_budget.py compares the two); anything else, errors included,
# is left to them, whose machinery costs a millisecond per run: a third of a batch's time.
# RunInputSerializer.validate runs after either.
_PLAIN_RUN_KEYS = frozenset(
    {"model", "version", "commit", "branch", "base_branch", "dataset", "environment",
     "external_id", "seed", "started_at", "finished_at", "metadata", "metrics"}
)  # fmt: skip
_ENVIRONMENTS = frozenset(EvaluationRun.Environment.values)
_MIN_SEED, _MAX_SEED = -(2**63), 2**63 - 1
_TIME_FIELD = serializers.DateTimeField()
_METADATA_FIELD = MetadataField()
_METRICS_FIELD = MetricsField()


def _plain_run(data):
    """``RunInputSerializer``'s fields' validated data for a plain run; None for any other."""
    if type(data) is not dict or not data.keys() <= _PLAIN_RUN_KEYS:
        return None
    model, version = data.get("model"), data.get("version")
    if not (_plain_name(model) and "/" not in model and _plain_name(version)):
        return None
    run = {"model": model, "version": version}
    for key in ("commit", "branch", "base_branch"):
        run[key] = data.get(key, "")
        if not (run[key] == "" or _plain_name(run[key])):
            return None
    run["dataset"] = _plain_dataset(data.get("dataset"))
    run["environment"] = data.get("environment", EvaluationRun.Environment.OFFLINE)
    run["external_id"], run["seed"] = data.get("external_id"), data.get("seed")
    if (
        run["dataset"] is None
        or not ("environment" not in data or type(data["environment"]) is str)
        or run["environment"] not in _ENVIRONMENTS
        or not (run["external_id"] is None or _plain_name(run["external_id"]))
        or not (
            run["seed"] is None or (type(run["seed"]) is int and abs(run["seed"] + 0.5) < 2**63)
        )
    ):
        return None
    try:
        for key in ("started_at", "finished_at"):
            run[key] = None if data.get(key) is None else _TIME_FIELD.to_internal_value(data[key])
        run["ci_url"] = ""
        run["metadata"] = (
            _METADATA_FIELD.to_internal_value(data["metadata"]) if "metadata" in data else {}
        )
        run["metrics"] = _METRICS_FIELD.to_internal_value(data.get("metrics"))
    except serializers.ValidationError:
        return None
    return run


def _plain_dataset(data):
    if type(data) is str:
        data = {"name": data}
    if type(data) is not dict or not data.keys() <= {"name", "version", "size"}:
        return None
    dataset = {"name": data.get("name"), "version": data.get("version", "")}
    if not (
        _plain_name(dataset["name"])
        and (dataset["version"] == "" or _plain_name(dataset["version"]))
    ):
        return None
    if "size" in data:
        dataset["size"] = data["size"]
        if not (
            dataset["size"] is None
            or (type(dataset["size"]) is int and 1 <= dataset["size"] <= MAX_COUNT)
        ):
            return None
    return dataset


def _pack_outcomes(metrics, dataset_size):
    """Replace each metric's base64 outcomes by validated packed bytes."""
    errors = {}
    for index, metric in enumerate(metrics):
        if metric.get("outcomes") is None:
            continue
        size = metric.get("n") or dataset_size
        if size is None:
            errors[index] = {"outcomes": ["Outcomes need the metric's `n` or `dataset.size`."]}
            continue
        try:
            metric["outcomes"] = stats.packed_outcomes(metric["outcomes"], size)
        except ValueError as exc:
            errors[index] = {"outcomes": [str(exc)]}
    if errors:
        raise serializers.ValidationError({"metrics": errors})


def _url_or_blank(value):
    """metadata.ci_url, when it is a URL, doubles as the run's CI link."""
    try:
        return serializers.URLField(max_length=2000).run_validation(value)
    except serializers.ValidationError:
        return ""


class RunBatchInputSerializer(serializers.Serializer):
    runs = serializers.ListField(
        child=RunInputSerializer(), min_length=1, max_length=MAX_RUNS_PER_BATCH
    )


class DatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)


class MetricResultSerializer(serializers.Serializer):
    name = serializers.CharField(source="series.metric.name")
    slice = serializers.CharField(source="series.slice")
    value = serializers.FloatField()
    n = serializers.IntegerField(allow_null=True)
    n_pos = serializers.IntegerField(allow_null=True)
    n_neg = serializers.IntegerField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    direction = serializers.CharField(source="series.metric.direction")
    kind = serializers.CharField(source="series.metric.kind")
    unit = serializers.CharField(source="series.metric.unit")


class GateCheckSerializer(serializers.Serializer):
    metric = serializers.CharField()
    slice = serializers.CharField()
    rule = serializers.ChoiceField(
        choices=["min", "max", "max_drop", "max_drop_pct", "significance", "budget", "missing"]
    )
    status = serializers.ChoiceField(choices=["passed", "failed", "insufficient", "not_comparable"])
    passed = serializers.BooleanField()
    message = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    limit = serializers.FloatField(allow_null=True)
    delta = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    q_value = serializers.FloatField(allow_null=True, help_text="Benjamini-Hochberg adjusted")
    method = serializers.CharField(allow_null=True)
    budget_used = serializers.FloatField(allow_null=True, help_text="Share of the budget used")
    replicates = serializers.IntegerField(
        allow_null=True, required=False,
        help_text="Seeds averaged in the run's value (null: the run alone, no replicate set)",
    )  # fmt: skip
    baseline_replicates = serializers.IntegerField(
        allow_null=True, required=False, help_text="Seeds averaged in the baseline's value"
    )
    sd = serializers.FloatField(
        allow_null=True, required=False, help_text="The seeds' sample standard deviation"
    )
    baseline_sd = serializers.FloatField(
        allow_null=True, required=False, help_text="The baseline seeds' standard deviation"
    )


class GateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["passed", "failed", "no_baseline"])
    base_branch = serializers.CharField(
        required=False,
        help_text="The branch whose baseline judged the run: the project's default branch, "
        "unless the run named another `base_branch`.",
    )
    checks = GateCheckSerializer(many=True)


class DryRunSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    gate = GateSerializer()


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="The run's page on the dashboard.")
    model = serializers.CharField(source="model_version.model.name")
    version = serializers.CharField(source="model_version.label")
    commit = serializers.CharField()
    branch = serializers.CharField()
    base_branch = serializers.CharField()
    branch_url = serializers.SerializerMethodField(
        help_text="The model page on the run's branch, drawn over the default branch."
    )
    dataset = DatasetSerializer()
    environment = serializers.CharField()
    external_id = serializers.CharField(allow_null=True)
    seed = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    recorded_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    ci_url = serializers.CharField()
    metadata = serializers.JSONField()
    metrics = MetricResultSerializer(source="result_list", many=True)

    def get_branch_url(self, run) -> str:
        return links.branch_url(run)

    def get_url(self, run) -> str:
        return run_page_url(run)


run_page_url = links.run_url


class RunCreatedSerializer(RunSerializer):
    gate = GateSerializer(source="gate_result")


class RunBatchItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    created = serializers.BooleanField(help_text="False when this was a replay.")
    url = serializers.CharField()


class RunBatchSerializer(serializers.Serializer):
    runs = RunBatchItemSerializer(many=True)


class VersionSummarySerializer(serializers.Serializer):
    label = serializers.CharField()
    first_seen_at = serializers.DateTimeField()


class RegisteredModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    version_count = serializers.IntegerField()
    latest_version = serializers.SerializerMethodField()

    @extend_schema_field(VersionSummarySerializer(allow_null=True))
    def get_latest_version(self, model):
        if model.latest_version_label is None:
            return None
        return {"label": model.latest_version_label, "first_seen_at": model.latest_version_at}


class ModelVersionSerializer(serializers.Serializer):
    label = serializers.CharField()
    commit = serializers.CharField()
    branch = serializers.CharField()
    first_seen_at = serializers.DateTimeField()
    run_count = serializers.IntegerField()


class SeriesQuerySerializer(serializers.Serializer):
    metric = NameField()
    dataset = NameField(required=False, help_text="Optional when the model has one dataset.")
    dataset_version = NameField(
        required=False, allow_blank=True, help_text="Defaults to the latest version used."
    )
    slice = NameField(required=False, default="overall")
    branch = NameField(
        required=False, allow_blank=True, default="",
        help_text="The project's default branch when empty.",
    )  # fmt: skip
    environment = ChoiceField(
        choices=EvaluationRun.Environment.choices, default=EvaluationRun.Environment.OFFLINE
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_SERIES_LIMIT,
        help_text="Only the latest N points.",
    )


class SeriesPointSerializer(serializers.Serializer):
    version = serializers.CharField()
    value = serializers.FloatField()
    n = serializers.IntegerField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    run_id = serializers.IntegerField()
    at = serializers.DateTimeField()
    replicates = serializers.IntegerField(
        help_text="Runs of distinct seeds of this version merged into the point (1: one run)"
    )
    sd = serializers.FloatField(
        allow_null=True,
        help_text="The seeds' sample standard deviation (null for one run); the point's value "
        "is their mean, its interval mean ± t(0.975, k-1)·sd/√k widened by the runs' own",
    )


class TrendSerializer(serializers.Serializer):
    start_version = serializers.CharField()
    start_value = serializers.FloatField()
    end_version = serializers.CharField()
    end_value = serializers.FloatField()
    slope = serializers.FloatField(help_text="Per version")


class SeriesSerializer(serializers.Serializer):
    model = serializers.CharField()
    metric = serializers.CharField()
    direction = serializers.CharField()
    unit = serializers.CharField()
    dataset = DatasetSerializer()
    slice = serializers.CharField()
    points = SeriesPointSerializer(many=True)
    trend = TrendSerializer(allow_null=True, help_text="The latest analysis' fitted trend")
    findings = FindingSerializer(many=True, help_text="The series' findings, newest first")
    marks = ChangeMarkSerializer(many=True, help_text="The model's intended-change marks")
    alert_precision = PrecisionRecallSerializer(
        help_text="How trustworthy this series' alerts were, and their recall against the "
        "regressions marked as missed on this series, as `findings/precision/` answers them"
    )

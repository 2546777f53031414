"""Input and output shapes of baselines, threshold rules and comparisons."""

from rest_framework import serializers

from evaluations.models import EvaluationRun, ThresholdRule

from .fields import ChoiceField, NameField, StrictFloatField

BASELINE_FILE_FORMAT = "model-metrics-tracker/baseline@1"


BRANCH_HELP = "The branch whose baseline this is; the project's default branch when empty."


class BaselineQuerySerializer(serializers.Serializer):
    dataset = NameField()
    branch = NameField(required=False, allow_blank=True, default="", help_text=BRANCH_HELP)


class PinInputSerializer(serializers.Serializer):
    dataset = NameField()
    branch = NameField(required=False, allow_blank=True, default="", help_text=BRANCH_HELP)
    version = NameField()
    dataset_version = NameField(
        required=False, allow_blank=True, help_text="Defaults to the latest one the version ran on."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class BaselineValueSerializer(serializers.Serializer):
    metric = serializers.CharField()
    slice = serializers.CharField()
    value = serializers.FloatField()
    direction = serializers.CharField()
    n = serializers.IntegerField(allow_null=True)
    n_pos = serializers.IntegerField(allow_null=True)
    n_neg = serializers.IntegerField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    outcomes = serializers.CharField(allow_null=True, help_text="base64, as posted")
    replicates = serializers.IntegerField(
        help_text="Seeds of the pinned version averaged in value (1: a single run)"
    )
    sd = serializers.FloatField(
        allow_null=True, help_text="The seeds' sample standard deviation (null: a single run)"
    )


class PinSerializer(serializers.Serializer):
    version = serializers.CharField(source="model_version.label")
    dataset_version = serializers.CharField(source="run.dataset.version")
    run_id = serializers.IntegerField()
    pinned_by = serializers.CharField()
    pinned_at = serializers.DateTimeField()
    note = serializers.CharField()


class BaselineSerializer(serializers.Serializer):
    model = serializers.CharField()
    dataset = serializers.CharField()
    branch = serializers.CharField()
    baseline = PinSerializer(allow_null=True)
    values = BaselineValueSerializer(many=True)
    history = PinSerializer(many=True, help_text="Every pin, newest first.")


class RuleSerializer(serializers.ModelSerializer):
    dataset = NameField(
        source="dataset_name", required=False, allow_blank=True, default="",
        help_text="Empty: every dataset.",
    )  # fmt: skip
    slice = NameField(required=False, allow_blank=True, default="", help_text="Empty: every slice.")
    metric = NameField()
    min = StrictFloatField(required=False, allow_null=True, default=None)
    max = StrictFloatField(required=False, allow_null=True, default=None)
    max_drop = StrictFloatField(required=False, allow_null=True, default=None, min_value=0)
    max_drop_pct = StrictFloatField(
        required=False, allow_null=True, default=None, min_value=0, max_value=100
    )
    significance = StrictFloatField(
        required=False, allow_null=True, default=None, min_value=1e-9, max_value=0.5,
        help_text="alpha: fail only when the drop beyond the allowed margin is significant",
    )  # fmt: skip
    budget = StrictFloatField(
        required=False, allow_null=True, default=None, min_value=0,
        help_text="Total erosion allowed since the baseline pinned when the budget was set",
    )  # fmt: skip

    class Meta:
        model = ThresholdRule
        fields = [
            "id", "metric", "dataset", "slice", "min", "max", "max_drop", "max_drop_pct",
            "significance", "budget", "budget_since", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "budget_since", "created_at", "updated_at"]

    def validate(self, attrs):
        low, high = attrs.get("min"), attrs.get("max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min": ["Must not be above max."]})
        return attrs


class CompareQuerySerializer(serializers.Serializer):
    a = NameField(help_text="The reference: a version (e.g. the baseline), else a branch (its "
                  "latest run, e.g. `main`)")  # fmt: skip
    b = NameField(help_text="What is compared with it: a version, else a branch's latest run")
    dataset = NameField()
    dataset_version = NameField(required=False, allow_blank=True)
    environment = ChoiceField(
        choices=EvaluationRun.Environment.choices, default=EvaluationRun.Environment.OFFLINE
    )


class CompareRowSerializer(serializers.Serializer):
    metric = serializers.CharField()
    slice = serializers.CharField()
    direction = serializers.CharField()
    a = serializers.FloatField(allow_null=True)
    b = serializers.FloatField(allow_null=True)
    delta = serializers.FloatField(allow_null=True)
    relative_delta = serializers.FloatField(allow_null=True)
    change = serializers.ChoiceField(choices=["better", "worse", "same", "only_a", "only_b"])
    p_value = serializers.FloatField(
        allow_null=True, help_text="One-sided, in the direction of the change"
    )
    method = serializers.CharField(allow_null=True)
    significant = serializers.BooleanField(allow_null=True, help_text="p < 0.05")
    a_replicates = serializers.IntegerField(
        allow_null=True, help_text="Distinct seeds in a's value (1: one run; null: no result)"
    )
    a_sd = serializers.FloatField(allow_null=True, help_text="The seeds' standard deviation")
    b_replicates = serializers.IntegerField(allow_null=True, help_text="The same for b")
    b_sd = serializers.FloatField(allow_null=True, help_text="The same for b")


class CompareSideSerializer(serializers.Serializer):
    version = serializers.CharField()
    run_id = serializers.IntegerField()
    dataset_version = serializers.CharField()
    branch = serializers.CharField()
    environment = serializers.CharField()


class CompareSerializer(serializers.Serializer):
    model = serializers.CharField()
    dataset = serializers.CharField()
    a = CompareSideSerializer()
    b = CompareSideSerializer()
    comparable = serializers.BooleanField(help_text="Both ran on the same dataset version")
    metrics = CompareRowSerializer(many=True)

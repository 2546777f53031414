"""Shapes of findings, their triage and intended-change marks."""

from rest_framework import serializers

from evaluations.models import ChangeMark, Finding

from .fields import NameField


class FindingSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="series.model.name")
    dataset = serializers.CharField(source="series.dataset.name")
    dataset_version = serializers.CharField(source="series.dataset.version")
    metric = serializers.CharField(source="series.metric.name")
    direction = serializers.CharField(source="series.metric.direction")
    slice = serializers.CharField(source="series.slice")
    branch = serializers.CharField(source="series.branch.name")
    environment = serializers.CharField(source="series.environment")
    start_version = serializers.CharField(source="start_version.label", allow_null=True)
    end_version = serializers.CharField(source="end_version.label", allow_null=True)

    class Meta:
        model = Finding
        fields = [
            "id", "model", "dataset", "dataset_version", "metric", "direction", "slice", "branch",
            "environment", "kind",
            "status", "start_version", "end_version", "magnitude", "relative_magnitude", "slope",
            "p_value", "confidence", "forecast_versions", "message", "first_seen_at",
            "last_seen_at", "resolved_at", "triaged_by", "triaged_at", "triage_note",
        ]  # fmt: skip


class TriageInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class PrecisionQuerySerializer(serializers.Serializer):
    model = NameField(required=False, allow_blank=True, help_text="Only this model's findings")


class PrecisionSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Findings so far")
    judged = serializers.IntegerField(help_text="Findings a person marked real or false alarm")
    real = serializers.IntegerField()
    false_alarms = serializers.IntegerField()
    precision = serializers.FloatField(allow_null=True, help_text="real / judged")


class PrecisionRecallSerializer(PrecisionSerializer):
    missed = serializers.IntegerField(
        help_text="Regressions people marked as missed that no confirmed finding covers"
    )
    missed_covered = serializers.IntegerField(
        help_text="Marks a confirmed finding covers (spanning the marked version or starting "
        "within 2 versions of it): found after all, counted among the real findings"
    )
    recall = serializers.FloatField(allow_null=True, help_text="real / (real + missed)")


class ChangeMarkSerializer(serializers.ModelSerializer):
    version = NameField(source="model_version.label")
    note = serializers.CharField(max_length=500)

    class Meta:
        model = ChangeMark
        fields = ["id", "version", "note", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]

"""Shapes of missed regressions: a person's "this should have been found at version X" on
one series."""

from rest_framework import serializers

from evaluations.models import MissedRegression

from .fields import NameField
from .serializers import SeriesQuerySerializer


class MissedInputSerializer(SeriesQuerySerializer):
    """The series (as the series endpoint names it), the version and why."""

    limit = None  # a series' key, not a read of its points
    version = NameField(help_text="The version at which the regression should have been found")
    note = serializers.CharField(max_length=500, help_text="What was missed, and how it was known")


class MissedSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="series.model.name")
    metric = serializers.CharField(source="series.metric.name")
    dataset = serializers.CharField(source="series.dataset.name")
    dataset_version = serializers.CharField(source="series.dataset.version")
    slice = serializers.CharField(source="series.slice")
    branch = serializers.CharField(source="series.branch.name")
    environment = serializers.CharField(source="series.environment")
    version = serializers.CharField(source="model_version.label")
    status = serializers.ChoiceField(
        choices=MissedRegression.Status.choices, read_only=True,
        help_text="`standing`: counted in recall unless a finding covers it; `withdrawn`: kept "
        "as a record (who withdrew it and when), counted no more",
    )  # fmt: skip
    covered_by = serializers.IntegerField(
        allow_null=True, default=None,
        help_text="A finding people confirmed that covers this mark (it spans the version or "
        "starts within 2 versions of it): the regression was found after all, and the mark "
        "no longer counts against recall",
    )  # fmt: skip

    class Meta:
        model = MissedRegression
        fields = [
            "id", "model", "metric", "dataset", "dataset_version", "slice", "branch",
            "environment", "version", "note", "status", "created_by", "created_at",
            "withdrawn_by", "withdrawn_at", "covered_by",
        ]  # fmt: skip
        read_only_fields = fields

"""Shapes of branches and of the project's branch settings."""

from rest_framework import serializers

from evaluations.analysis.sensitivity import SENSITIVITIES

from .fields import ChoiceField, NameField


class BranchQuerySerializer(serializers.Serializer):
    archived = serializers.BooleanField(
        required=False, default=False, help_text="Also the branches archived for want of runs."
    )


class BranchSerializer(serializers.Serializer):
    name = serializers.CharField()
    default = serializers.BooleanField(help_text="The project's default branch")
    long_lived = serializers.BooleanField()
    watched = serializers.BooleanField(
        help_text="Trend analysis and alerts run on it (default and long-lived branches)"
    )
    merged_at = serializers.DateTimeField(allow_null=True)
    merged_by = serializers.CharField()
    archived = serializers.BooleanField(help_text="No run for the project's archive time")
    first_seen_at = serializers.DateTimeField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    head_version = serializers.CharField(allow_null=True, help_text="The latest run's version")
    head_run_id = serializers.IntegerField(allow_null=True)
    head_environment = serializers.CharField(allow_null=True)
    base_branch = serializers.CharField(
        allow_null=True, help_text="The branch whose baseline judged the latest run"
    )
    verdict = serializers.CharField(
        allow_null=True, help_text="The latest run's gate status against that baseline"
    )
    url = serializers.CharField(help_text="The model page on this branch")


class BranchUpdateSerializer(serializers.Serializer):
    long_lived = serializers.BooleanField(
        help_text="Watched by the trend analysis and alerts, as the default branch is"
    )


class ProjectSettingsSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    default_branch = NameField(
        required=False, help_text="Where runs that name no branch go, and what others are "
        "judged against",
    )  # fmt: skip
    long_lived_branches = serializers.ListField(
        child=NameField(), required=False, max_length=50,
        help_text="Glob patterns (`release/*`) of branches watched like the default one",
    )  # fmt: skip
    analyse_every_branch = serializers.BooleanField(
        required=False, help_text="Watch every branch, pull requests' too"
    )
    archive_branches_after_days = serializers.IntegerField(
        required=False, min_value=1, max_value=36500,
        help_text="A branch with no run for this long leaves the lists (it is never deleted)",
    )  # fmt: skip
    sensitivity = ChoiceField(
        choices=[(name, name) for name in SENSITIVITIES], required=False,
        help_text="How eager the trend analysis is (`strict`, `balanced`, `sensitive`); a new "
        "choice analyses the project's series again at once",
    )  # fmt: skip

"""Filters shared by the list endpoints: the line of history (branch and environment) a list
shows. Absent, they mean the project's default branch and ``offline``, as the series do; ``*``
means any."""

import django_filters

from evaluations.models import NAME_MAX_LENGTH, EvaluationRun

ANY = "*"
ENVIRONMENT_CHOICES = [*EvaluationRun.Environment.choices, (ANY, "any")]


class LineFilterSet(django_filters.FilterSet):
    """``branch`` and ``environment`` filters on the fields ``branch_field`` and
    ``environment_field`` name, with their defaults applied when the query leaves them out."""

    branch_field = "branch"
    environment_field = "environment"
    # Filters that name one item whatever its line (an idempotency key): no defaults with them.
    exact_filters = ()

    branch = django_filters.CharFilter(
        method="filter_branch",
        max_length=NAME_MAX_LENGTH,
        help_text="A branch name; the project's default branch when left out; `*` for any.",
    )
    environment = django_filters.ChoiceFilter(
        choices=ENVIRONMENT_CHOICES,
        method="filter_environment",
        help_text="`offline` when left out; `*` for any.",
    )

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if any(self.form.cleaned_data.get(name) for name in self.exact_filters):
            return queryset
        if not self.form.cleaned_data.get("branch"):
            queryset = self.filter_branch(
                queryset, "branch", self.request.auth.project.default_branch
            )
        if not self.form.cleaned_data.get("environment"):
            queryset = self.filter_environment(queryset, "environment", "offline")
        return queryset

    def filter_branch(self, queryset, name, value):
        if not value or value == ANY:
            return queryset
        return queryset.filter(**{self.branch_field: value})

    def filter_environment(self, queryset, name, value):
        if not value or value == ANY:
            return queryset
        return queryset.filter(**{self.environment_field: value})


class SeriesLineFilterSet(LineFilterSet):
    """The line filters, and ``dataset``, ``metric`` and ``slice``, for lists of things that
    belong to a series (findings, missed regressions)."""

    branch_field = "series__branch__name"
    environment_field = "series__environment"

    dataset = django_filters.CharFilter(field_name="series__dataset__name")
    metric = django_filters.CharFilter(field_name="series__metric__name")
    slice = django_filters.CharFilter(field_name="series__slice")

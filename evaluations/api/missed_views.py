"""Missed regressions of a model's series: mark, list, read and withdraw."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from evaluations import selectors
from evaluations.models import MissedRegression
from evaluations.selectors import missed as missed_selectors
from evaluations.services import missed

from . import missed_serializers as s
from .filters import ANY, SeriesLineFilterSet

STANDING = MissedRegression.Status.STANDING


class MissedFilter(SeriesLineFilterSet):
    status = django_filters.ChoiceFilter(
        choices=[*MissedRegression.Status.choices, (ANY, "any")],
        method="filter_status",
        help_text="`standing` when left out; `withdrawn` for the marks withdrawn (kept with who "
        "withdrew them and when); `*` for any.",
    )

    class Meta:
        model = MissedRegression
        fields = []

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("status"):
            queryset = self.filter_status(queryset, "status", STANDING)
        return queryset

    def filter_status(self, queryset, name, value):
        return queryset if value == ANY else queryset.in_status(value)


def _with_coverage(marks):
    covered = missed_selectors.covering(marks)
    for mark in marks:
        mark.covered_by = covered.get(mark.pk)
    return marks


class MissedListApi(generics.ListCreateAPIView):
    """Regressions people say the analysis missed on this model's series (standing marks
    unless ``status`` says otherwise, newest first), and marking one."""

    serializer_class = s.MissedSerializer
    filterset_class = MissedFilter
    queryset = MissedRegression.objects.none()

    def get_queryset(self):
        # Every status: the filter set narrows to the standing ones unless told.
        return selectors.missed_for(
            project=self.request.auth.project, model=self._model(), status=None
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            self.get_serializer(_with_coverage(page), many=True).data
        )

    @extend_schema(
        request=s.MissedInputSerializer,
        responses={201: s.MissedSerializer},
        description="Mark a regression the analysis should have found at `version` on one "
        "series (named as the series endpoint names it). 404 for a series the model does not "
        "have or a version the series has no result of; 400 naming `version` when it is "
        "already marked there.",
    )
    def post(self, request, name):
        body = s.MissedInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        version, note = data.pop("version"), data.pop("note")
        model = self._model()
        series = selectors.find_series(model=model, **data)
        model_version = selectors.version_of_series(series=series, label=version)
        try:
            mark = missed.mark_missed(
                series=series, model_version=model_version, note=note, by=str(request.user)
            )
        except missed.MissedError as exc:
            raise ValidationError(exc.errors) from None
        data = s.MissedSerializer(_with_coverage([mark])[0]).data
        return Response(data, status=status.HTTP_201_CREATED)

    def _model(self):
        return selectors.get_model(project=self.request.auth.project, name=self.kwargs["name"])


class MissedDetailApi(generics.RetrieveDestroyAPIView):
    """One mark, standing or withdrawn; ``DELETE`` withdraws a standing one (kept as a
    record, no longer counted)."""

    serializer_class = s.MissedSerializer
    queryset = MissedRegression.objects.none()

    def get_object(self, mark_status=None):
        model = selectors.get_model(project=self.request.auth.project, name=self.kwargs["name"])
        mark = selectors.get_missed(
            project=self.request.auth.project, model=model, mark_id=self.kwargs["pk"],
            status=mark_status,
        )  # fmt: skip
        return _with_coverage([mark])[0]

    @extend_schema(
        description="Withdraw the mark: it stops counting against recall at once and is kept, "
        "with who withdrew it and when (listed with `?status=withdrawn`); the version may be "
        "marked again. 404 for a mark already withdrawn."
    )
    def delete(self, request, *args, **kwargs):
        missed.withdraw_missed(mark=self.get_object(mark_status=STANDING), by=str(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)

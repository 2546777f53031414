"""Missed regressions of a model's series: mark, list, read and withdraw."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from evaluations import selectors
from evaluations.models import MissedRegression
from evaluations.selectors import missed as missed_selectors
from evaluations.services import missed

from . import missed_serializers as s
from .filters import SeriesLineFilterSet


class MissedFilter(SeriesLineFilterSet):
    class Meta:
        model = MissedRegression
        fields = []


def _with_coverage(marks):
    covered = missed_selectors.covering(marks)
    for mark in marks:
        mark.covered_by = covered.get(mark.pk)
    return marks


class MissedListApi(generics.ListCreateAPIView):
    """Regressions people say the analysis missed on this model's series (standing marks,
    newest first), and marking one."""

    serializer_class = s.MissedSerializer
    filterset_class = MissedFilter
    queryset = MissedRegression.objects.none()

    def get_queryset(self):
        return selectors.missed_for(project=self.request.auth.project, model=self._model())

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
        try:
            series = selectors.find_series(model=model, **data)
        except selectors.AmbiguousDataset as exc:
            raise ValidationError(
                {"dataset": [f"Required: this model has results on {', '.join(exc.names)}."]}
            ) from None
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
    """One standing mark; ``DELETE`` withdraws it (kept as a record, no longer counted)."""

    serializer_class = s.MissedSerializer
    queryset = MissedRegression.objects.none()

    def get_object(self):
        model = selectors.get_model(project=self.request.auth.project, name=self.kwargs["name"])
        mark = selectors.get_missed(
            project=self.request.auth.project, model=model, mark_id=self.kwargs["pk"]
        )
        return _with_coverage([mark])[0]

    @extend_schema(
        description="Withdraw the mark: it stops counting against recall at once and is kept, "
        "with who withdrew it and when; the version may be marked again."
    )
    def delete(self, request, *args, **kwargs):
        return super().delete(request, *args, **kwargs)

    def perform_destroy(self, instance):
        missed.withdraw_missed(mark=instance, by=str(self.request.user))

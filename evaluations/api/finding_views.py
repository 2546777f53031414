"""Findings of the trend analysis, their triage, alert precision, and intended-change marks."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluations import selectors
from evaluations.api.permissions import AdminScope, IngestScope, ReadIngestWriteAdmin
from evaluations.models import ChangeMark, Finding
from evaluations.services import findings, missed

from . import finding_serializers as s
from .filters import SeriesLineFilterSet


class FindingFilter(SeriesLineFilterSet):
    model = django_filters.CharFilter(field_name="series__model__name")
    status = django_filters.ChoiceFilter(choices=Finding.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Finding.Kind.choices)

    class Meta:
        model = Finding
        fields = []


class FindingListApi(generics.ListAPIView):
    permission_classes = [IngestScope]
    serializer_class = s.FindingSerializer
    filterset_class = FindingFilter
    queryset = Finding.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return selectors.findings_for(project=self.request.auth.project)


class FindingDetailApi(generics.RetrieveAPIView):
    permission_classes = [IngestScope]
    serializer_class = s.FindingSerializer
    queryset = Finding.objects.none()

    def get_queryset(self):
        return selectors.findings_for(project=self.request.auth.project)


class FindingTriageApi(APIView):
    permission_classes = [AdminScope]
    action_name = None  # acknowledge, resolve or false_alarm

    @extend_schema(request=s.TriageInputSerializer, responses=s.FindingSerializer)
    def post(self, request, pk):
        body = s.TriageInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        finding = selectors.get_finding(project=request.auth.project, finding_id=pk)
        findings.triage(
            finding=finding, action=self.action_name, by=str(request.user),
            note=body.validated_data["note"],
        )  # fmt: skip
        return Response(s.FindingSerializer(finding).data)


class PrecisionApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(parameters=[s.PrecisionQuerySerializer], responses=s.PrecisionRecallSerializer)
    def get(self, request):
        """Alert precision of the project's findings, and their recall against the regressions
        people marked as missed (``?model=`` narrows both to one model)."""
        query = s.PrecisionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scope = selectors.findings_for(project=request.auth.project)
        marks = selectors.missed_for(project=request.auth.project)
        if query.validated_data.get("model"):
            scope = scope.filter(series__model__name=query.validated_data["model"])
            marks = marks.filter(series__model__name=query.validated_data["model"])
        quality = missed.alert_quality(findings=scope, marks=marks)
        return Response(s.PrecisionRecallSerializer(quality).data)


class ChangeMarkListApi(generics.ListCreateAPIView):
    permission_classes = [ReadIngestWriteAdmin]
    serializer_class = s.ChangeMarkSerializer
    queryset = ChangeMark.objects.none()

    def get_queryset(self):
        return selectors.marks_for(model=self._model())

    def perform_create(self, serializer):
        serializer.instance = findings.mark_change(
            model=self._model(),
            version_label=serializer.validated_data["model_version"]["label"],
            note=serializer.validated_data["note"],
            by=str(self.request.user),
        )

    def _model(self):
        return selectors.get_model(project=self.request.auth.project, name=self.kwargs["name"])

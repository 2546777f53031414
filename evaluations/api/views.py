"""API endpoints: parse with a serializer, call one service or selector, answer."""

import django_filters
import orjson
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluations import downloads, selectors
from evaluations.api.permissions import IngestScope
from evaluations.models import EvaluationRun, ModelVersion, RegisteredModel
from evaluations.services import gate, missed, posting

from . import answers
from . import serializers as s
from .exports import ExportApiMixin, file_responses, format_parameter
from .filters import LineFilterSet
from .finding_serializers import ChangeMarkSerializer, FindingSerializer


class RunFilter(LineFilterSet):
    exact_filters = ("external_id",)

    model = django_filters.CharFilter(field_name="model_version__model__name")
    version = django_filters.CharFilter(field_name="model_version__label")
    dataset = django_filters.CharFilter(field_name="dataset__name")
    dataset_version = django_filters.CharFilter(field_name="dataset__version")
    external_id = django_filters.CharFilter()

    class Meta:
        model = EvaluationRun
        fields = []


class RunListCreateApi(ExportApiMixin, generics.ListAPIView):
    permission_classes = [IngestScope]
    serializer_class = s.RunSerializer
    filterset_class = RunFilter
    queryset = EvaluationRun.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return selectors.runs_listed(project=self.request.auth.project)

    def list(self, request, *args, **kwargs):
        # The page's runs as plain rows and their results as JSON the database writes, in
        # RunSerializer's shape (tests/test_runs_list.py): an object and a serializer call
        # per result cost 0.6 s of CPU for a page of 100 runs of 60 results.
        runs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(runs.values_list("pk", flat=True))
        rows = selectors.run_rows(run_ids=page)
        return self.get_paginated_response(
            answers.run_list_data(rows, project=request.auth.project)
        )

    @extend_schema(
        parameters=[format_parameter("result of each run, newest run first")],
        responses=file_responses(s.RunSerializer(many=True)),
    )
    def get(self, request, *args, **kwargs):
        file_format = self.file_format(request)
        if file_format is None:
            return self.list(request, *args, **kwargs)
        runs = self.filter_queryset(self.get_queryset())
        words = ("runs", request.query_params.get("model") or request.auth.project.name)
        table = selectors.run_results_table(runs=runs, name=words)
        return downloads.file_response(table, file_format)

    @extend_schema(
        request=s.RunInputSerializer,
        responses={201: s.RunCreatedSerializer, 200: s.RunCreatedSerializer},
        parameters=[
            OpenApiParameter(
                "dry_run",
                bool,
                description="Evaluate the gate on the body and answer it; store nothing.",
            )
        ],
        description=(
            "Store one evaluation run and answer it with the regression gate's verdict. A "
            "replay with the same `external_id` and body answers 200 with the stored run; the "
            "same `external_id` with another body answers 409."
        ),
    )
    def post(self, request):
        serializer = s.RunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if request.query_params.get("dry_run") in ("1", "true"):
            verdict = gate.evaluate_payload(
                project=request.auth.project, payload=serializer.validated_data
            )
            return Response(s.DryRunSerializer({"dry_run": True, "gate": verdict}).data)
        outcome = posting.post_run(project=request.auth.project, payload=serializer.validated_data)
        run = outcome.run
        run.gate_result = outcome.verdict
        return Response(
            answers.run_created_data(run),
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


class RunBatchApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(
        request=s.RunBatchInputSerializer,
        responses={201: s.RunBatchSerializer, 200: s.RunBatchSerializer},
        description=(
            "Store up to 1,000 runs in one transaction (backfills, imports). All or none: "
            'an error names the run by its index: `{"runs": {"3": {"metrics": ...}}}`. Each '
            "run is judged by the gate as it would be posted alone; a series' threshold "
            "finding follows the latest run of the batch."
        ),
    )
    def post(self, request):
        serializer = s.RunBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcomes = posting.post_runs(
            project=request.auth.project, payloads=serializer.validated_data["runs"]
        )
        items = [
            {
                "id": o.run.pk,
                "external_id": o.run.external_id,
                "created": o.created,
                "url": s.run_page_url(o.run),
            }
            for o in outcomes
        ]
        created = any(o.created for o in outcomes)
        return Response(
            s.RunBatchSerializer({"runs": items}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RunDetailApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(responses=s.RunSerializer)
    def get(self, request, run_id):
        run = selectors.get_run(project=request.auth.project, run_id=run_id)
        return Response(s.RunSerializer(run).data)


class ModelListApi(generics.ListAPIView):
    permission_classes = [IngestScope]
    serializer_class = s.RegisteredModelSerializer
    queryset = RegisteredModel.objects.none()

    def get_queryset(self):
        return selectors.models_for(project=self.request.auth.project)


class ModelVersionListApi(generics.ListAPIView):
    permission_classes = [IngestScope]
    serializer_class = s.ModelVersionSerializer
    queryset = ModelVersion.objects.none()

    def get_queryset(self):
        model = selectors.get_model(project=self.request.auth.project, name=self.kwargs["name"])
        return selectors.versions_for(model=model)


class SeriesApi(ExportApiMixin, APIView):
    permission_classes = [IngestScope]

    @extend_schema(
        parameters=[s.SeriesQuerySerializer, format_parameter("point")],
        responses=file_responses(s.SeriesSerializer),
    )
    def get(self, request, name):
        query = s.SeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        model = selectors.get_model(project=request.auth.project, name=name)
        params = dict(query.validated_data)
        limit = params.pop("limit", None)
        series = selectors.find_series(model=model, **params)
        if file_format := self.file_format(request):
            table = selectors.series_table(model=model, series=series, limit=limit)
            return downloads.file_response(table, file_format)
        quality = missed.alert_quality(
            findings=selectors.findings_of_series(series=series, limit=None),
            marks=selectors.missed_of_series(series=series),
        )
        # Most series have no findings: their count says so, without reading the list.
        found = selectors.findings_of_series(series=series) if quality["total"] else []
        return Response(
            {
                "model": model.name,
                "metric": series.metric.name,
                "direction": series.metric.direction,
                "unit": series.metric.unit,
                "dataset": s.DatasetSerializer(series.dataset).data,
                "slice": series.slice,
                "branch": series.branch.name,
                "environment": series.environment,
                # Already JSON: the renderer copies it as it is.
                "points": orjson.Fragment(selectors.series_points_json(series=series, limit=limit)),
                "trend": series.trend,
                "findings": FindingSerializer(found, many=True).data,
                "marks": ChangeMarkSerializer(selectors.marks_for(model=model), many=True).data,
                "alert_precision": quality,
            }
        )

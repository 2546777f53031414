"""Baselines, threshold rules and version comparison: parse, call one service or selector,
answer."""

import base64

from drf_orjson_renderer.renderers import ORJSONRenderer
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluations import downloads, selectors
from evaluations.api.permissions import IngestScope, ReadIngestWriteAdmin
from evaluations.models import ThresholdRule
from evaluations.services import baselines, gate

from . import baseline_serializers as s
from .exports import ExportApiMixin, file_responses, format_parameter


class BaselineFileRenderer(ORJSONRenderer):
    """``?format=file``: the baseline as a file to commit beside the code."""

    format = "file"


class BaselineApi(APIView):
    permission_classes = [ReadIngestWriteAdmin]
    renderer_classes = [ORJSONRenderer, BaselineFileRenderer, BrowsableAPIRenderer]

    @extend_schema(
        parameters=[
            s.BaselineQuerySerializer,
            OpenApiParameter(
                "format",
                str,
                enum=["json", "file"],
                description="`file`: the baseline values and rules in the file format the CI "
                "client gates against offline (`--baseline-file`).",
            ),
        ],
        responses=s.BaselineSerializer,
    )
    def get(self, request, name):
        query = s.BaselineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        model = selectors.get_model(project=request.auth.project, name=name)
        dataset = query.validated_data["dataset"]
        branch = query.validated_data["branch"] or request.auth.project.default_branch
        if request.accepted_renderer.format == "file":
            return _baseline_file(model, dataset, branch)
        return Response(_baseline_body(model, dataset, branch))

    @extend_schema(request=s.PinInputSerializer, responses=s.BaselineSerializer)
    def put(self, request, name):
        """Pin a version as the baseline on a dataset; earlier pins stay as its history."""
        body = s.PinInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = selectors.get_model(project=request.auth.project, name=name)
        data = body.validated_data
        branch = data["branch"] or request.auth.project.default_branch
        baselines.pin_baseline(
            model=model,
            dataset_name=data["dataset"],
            version_label=data["version"],
            dataset_version=data.get("dataset_version"),
            branch=branch,
            pinned_by=str(request.user),
            note=data["note"],
        )
        return Response(_baseline_body(model, data["dataset"], branch))


def _baseline_body(model, dataset_name, branch):
    history = list(selectors.pins_for(model=model, dataset_name=dataset_name, branch=branch))
    values = []
    if history:
        values = [_value(v) for v in selectors.pinned_values(pin=history[0])]
    body = {
        "model": model.name,
        "dataset": dataset_name,
        "branch": branch,
        "baseline": history[0] if history else None,
        "values": values,
        "history": history,
    }
    return s.BaselineSerializer(body).data


def _value(values):
    packed = values["outcomes"]
    return {**values, "outcomes": None if packed is None else base64.b64encode(packed).decode()}


def _baseline_file(model, dataset_name, branch):
    pin = selectors.current_pin(model=model, dataset_name=dataset_name, branch=branch)
    if pin is None:
        return Response(
            {"detail": f"{model.name} has no baseline on {dataset_name} ({branch})."},
            status=status.HTTP_404_NOT_FOUND,
        )
    body = {
        "format": s.BASELINE_FILE_FORMAT,
        "model": model.name,
        "dataset": {
            "name": dataset_name,
            "version": pin.run.dataset.version,
            "size": pin.run.dataset.size,
        },
        "branch": branch,
        "version": pin.model_version.label,
        "pinned_at": pin.pinned_at,
        "results": [_value(v) for v in selectors.pinned_values(pin=pin)],
        "rules": [
            {
                "metric": rule.metric,
                "slice": rule.slice,
                "min": rule.min,
                "max": rule.max,
                "max_drop": rule.max_drop,
                "max_drop_pct": rule.max_drop_pct,
                "significance": rule.significance,
                "budget": rule.budget,
                "anchor_version": rule.anchor_version,
                "anchor": [{"slice": key[1], "value": value} for key, value in rule.anchor.items()],
            }
            for rule in gate.gate_rules(model=model, dataset_name=dataset_name, branch=branch)
        ],
    }
    filename = f"baseline-{model.name}-{dataset_name}.json".replace('"', "")
    return Response(body, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


class RuleListApi(generics.ListCreateAPIView):
    permission_classes = [ReadIngestWriteAdmin]
    serializer_class = s.RuleSerializer
    queryset = ThresholdRule.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return selectors.rules_for(model=self._model())

    def perform_create(self, serializer):
        serializer.instance = baselines.save_rule(model=self._model(), **serializer.validated_data)

    def _model(self):
        return selectors.get_model(project=self.request.auth.project, name=self.kwargs["name"])


class RuleDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [ReadIngestWriteAdmin]
    serializer_class = s.RuleSerializer
    queryset = ThresholdRule.objects.none()

    def get_queryset(self):
        model = selectors.get_model(project=self.request.auth.project, name=self.kwargs["name"])
        return selectors.rules_for(model=model)

    def perform_update(self, serializer):
        rule = serializer.instance
        serializer.instance = baselines.save_rule(
            model=rule.model, rule=rule, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        baselines.delete_rule(rule=instance)


class CompareApi(ExportApiMixin, APIView):
    permission_classes = [IngestScope]

    @extend_schema(
        parameters=[s.CompareQuerySerializer, format_parameter("metric and slice")],
        responses=file_responses(s.CompareSerializer),
    )
    def get(self, request, name):
        query = s.CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        model = selectors.get_model(project=request.auth.project, name=name)
        comparison = selectors.compare_versions(
            model=model,
            a=data["a"],
            b=data["b"],
            dataset_name=data["dataset"],
            dataset_version=data.get("dataset_version") or None,
            environment=data["environment"],
        )
        if file_format := self.file_format(request):
            return downloads.file_response(selectors.comparison_table(comparison), file_format)
        return Response(s.CompareSerializer(comparison).data)

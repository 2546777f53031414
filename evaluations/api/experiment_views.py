"""Online comparisons: create and list experiments, post windows, read decisions and a
bandit's allocation, stop. Parse, call one service or selector, answer."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluations import selectors
from evaluations.api.pagination import Pagination
from evaluations.api.permissions import IngestScope
from evaluations.models import Experiment
from evaluations.services import experiments

from . import experiment_serializers as s


def _experiment(request, experiment_id) -> Experiment:
    return selectors.get_experiment(project=request.auth.project, experiment_id=experiment_id)


class ExperimentListApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(
        parameters=[s.ExperimentQuerySerializer],
        responses=s.ExperimentPageSerializer,
        operation_id="experiments_list",
    )
    def get(self, request):
        query = s.ExperimentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        model = None
        if "model" in filters:
            model = selectors.find_model(project=request.auth.project, name=filters["model"])
        found = (
            selectors.experiments_for(
                project=request.auth.project, model=model, kind=filters.get("kind"),
                status=filters.get("status"),
            )
            if model is not None or "model" not in filters
            else Experiment.objects.none()
        )  # fmt: skip
        paginator = Pagination()
        page = paginator.paginate_queryset(found, request)
        selectors.latest_decisions(page)
        return paginator.get_paginated_response(
            [s.experiment_data(experiment, experiment.latest) for experiment in page]
        )

    @extend_schema(request=s.ExperimentInputSerializer, responses={201: s.ExperimentSerializer})
    def post(self, request):
        body = s.ExperimentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            experiment = experiments.create_experiment(
                project=request.auth.project, data=body.validated_data,
                created_by=f"token {request.auth.prefix}",
            )  # fmt: skip
        except experiments.ExperimentError as exc:
            raise ValidationError(exc.errors) from None
        return Response(s.experiment_data(experiment, None), status=status.HTTP_201_CREATED)


class ExperimentDetailApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(responses=s.ExperimentSerializer)
    def get(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        history = experiment.decisions.select_related("window").order_by("created_at", "id")
        return Response(
            s.experiment_data(experiment, selectors.latest_decision(experiment=experiment), history)
        )


class ExperimentWindowApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(
        request=s.WindowInputSerializer,
        responses={201: s.DecisionSerializer, 200: s.DecisionSerializer},
        description="Add one window of aggregates; answers the decision after it. Idempotent "
        "on window_id: the same body again answers 200 and the stored decision, another body "
        "409; a window on an ended experiment 409.",
    )
    def post(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        body = s.WindowInputSerializer(data=request.data, experiment=experiment)
        body.is_valid(raise_exception=True)
        try:
            decision, created = experiments.add_window(
                experiment=experiment, window=body.validated_data
            )
        except experiments.ExperimentError as exc:
            code = status.HTTP_409_CONFLICT if exc.conflict else status.HTTP_400_BAD_REQUEST
            return Response(exc.errors, status=code)
        return Response(
            s.decision_data(decision),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ExperimentAllocationApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(responses=s.AllocationSerializer)
    def get(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        if experiment.kind != Experiment.Kind.BANDIT:
            raise ValidationError({"kind": ["Only a bandit has an allocation."]})
        latest = selectors.latest_decision(experiment=experiment)
        weights = (latest.figures.get("allocation") if latest else None) or {
            label: 1 / len(experiment.labels) for label in experiment.labels
        }
        return Response(
            {"weights": weights, "at": latest.created_at if latest else experiment.created_at}
        )


class ExperimentStopApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(request=None, responses=s.ExperimentSerializer)
    def post(self, request, experiment_id):
        experiment = experiments.stop_experiment(
            experiment=_experiment(request, experiment_id), by=f"token {request.auth.prefix}"
        )
        return Response(
            s.experiment_data(experiment, selectors.latest_decision(experiment=experiment))
        )

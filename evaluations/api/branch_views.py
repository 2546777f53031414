"""Branches of a model and the project's branch settings: parse, call one service or selector,
answer."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluations import links, selectors
from evaluations.api.permissions import IngestScope, ReadIngestWriteAdmin
from evaluations.services import branches, projects

from . import branch_serializers as s


class BranchListApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(
        parameters=[s.BranchQuerySerializer],
        responses=s.BranchSerializer(many=True),
        description="The model's branches, the default first, then by latest run: each with "
        "its head version, its verdict against its base branch and whether it has merged.",
    )
    def get(self, request, name):
        query = s.BranchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        model = selectors.get_model(project=request.auth.project, name=name)
        rows = selectors.branches_of(model=model, archived=query.validated_data["archived"])
        return Response(
            s.BranchSerializer([_branch_data(model, row) for row in rows], many=True).data
        )


class BranchDetailApi(APIView):
    permission_classes = [ReadIngestWriteAdmin]

    @extend_schema(responses=s.BranchSerializer)
    def get(self, request, name, branch):
        model = selectors.get_model(project=request.auth.project, name=name)
        return Response(s.BranchSerializer(_branch_data(model, _row(model, branch))).data)

    @extend_schema(request=s.BranchUpdateSerializer, responses=s.BranchSerializer)
    def patch(self, request, name, branch):
        """Mark a branch long-lived (watched by the trend analysis and alerts) or not."""
        body = s.BranchUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = selectors.get_model(project=request.auth.project, name=name)
        _call(branches.set_long_lived, model=model, name=branch, **body.validated_data)
        return Response(s.BranchSerializer(_branch_data(model, _row(model, branch))).data)


class BranchMergeApi(APIView):
    permission_classes = [IngestScope]

    @extend_schema(
        request=None,
        responses=s.BranchSerializer,
        description="Show the branch as merged into the default branch (when CI never "
        "evaluated the merge commit). Its history stays readable.",
    )
    def post(self, request, name, branch):
        model = selectors.get_model(project=request.auth.project, name=name)
        _call(branches.merge_branch, model=model, name=branch, by=f"token {request.auth.prefix}")
        return Response(s.BranchSerializer(_branch_data(model, _row(model, branch))).data)


class ProjectSettingsApi(APIView):
    permission_classes = [ReadIngestWriteAdmin]

    @extend_schema(responses=s.ProjectSettingsSerializer)
    def get(self, request):
        return Response(s.ProjectSettingsSerializer(request.auth.project).data)

    @extend_schema(request=s.ProjectSettingsSerializer, responses=s.ProjectSettingsSerializer)
    def patch(self, request):
        """Change the project's settings: branches (series become watched or not at once) and
        the analysis' sensitivity (the project's series analysed again under a new one)."""
        body = s.ProjectSettingsSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        if "sensitivity" in fields:
            projects.set_sensitivity(project=request.auth.project, name=fields.pop("sensitivity"))
        if fields:
            branches.update_settings(project=request.auth.project, **fields)
        return Response(s.ProjectSettingsSerializer(request.auth.project).data)


def _call(service, **kwargs):
    try:
        return service(**kwargs)
    except branches.BranchError as exc:
        if "has no branch" in exc.errors["branch"][0]:
            raise NotFound(exc.errors["branch"][0]) from None
        raise ValidationError(exc.errors) from None


def _row(model, name):
    for row in selectors.branches_of(model=model, archived=True):
        if row.name == name:
            return row
    raise NotFound(f"{model.name} has no branch {name!r}.")


def _branch_data(model, row):
    return {**vars(row), "url": links.branch_page_url(model, row.name)}

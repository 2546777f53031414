"""What a prune may remove and what it must keep: the runs recorded before a time (in one
project, or all), less the runs the regression gate still reads, and what they hold per
project and model."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, Max, Min, OuterRef, Q

from evaluations.models import BaselinePin, ChangeMark, EvaluationRun, MetricResult, Project


def project_named(*, name) -> Project | None:
    return Project.objects.filter(name=name).first()


def project_names() -> list[str]:
    return list(Project.objects.order_by("name").values_list("name", flat=True))


def pinned() -> Q:
    """Runs a baseline pin points at: every pin kept in the baseline's history, on every
    branch, not only the current one (the gate counts budgets from earlier pins, the pages
    show the history, and a pin's run cascades: deleting it would delete the pin)."""
    return Q(Exists(BaselinePin.objects.filter(run_id=OuterRef("pk"))))


def budget_anchors() -> Q:
    """Runs a budget may count from: for each intended-change mark, the latest run of the
    marked version on each dataset name (what ``selectors.latest_run_of`` answers the gate)."""
    later = EvaluationRun.objects.filter(
        model_version_id=OuterRef("model_version_id"), dataset__name=OuterRef("dataset__name")
    ).filter(
        Q(recorded_at__gt=OuterRef("recorded_at"))
        | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    marked = ChangeMark.objects.filter(model_version_id=OuterRef("model_version_id"))
    return Q(Exists(marked)) & ~Q(Exists(later))


def pinned_versions() -> Q:
    """Every run of a version that is or was a pinned baseline (any dataset, branch or
    environment): what ``--keep-baselines`` keeps besides the pinned runs themselves."""
    return Q(Exists(BaselinePin.objects.filter(model_version_id=OuterRef("model_version_id"))))


def retained(*, keep_baselines) -> Q:
    """The runs a prune never removes."""
    rule = pinned() | budget_anchors()
    return rule | pinned_versions() if keep_baselines else rule


def runs_before(*, before: datetime, project=None):
    """Every run recorded before ``before`` (in ``project``, when given), kept or not."""
    runs = EvaluationRun.objects.filter(recorded_at__lt=before)
    return runs if project is None else runs.filter(project=project)


def prunable_runs(*, before: datetime, project=None, keep_baselines=False):
    """The runs a prune removes: recorded before ``before`` and not kept."""
    return runs_before(before=before, project=project).exclude(
        retained(keep_baselines=keep_baselines)
    )


@dataclass(frozen=True)
class ModelShare:
    """What a prune removes of one model: its runs, their results, and when they ran."""

    project: str
    model: str
    runs: int
    results: int
    first: datetime
    last: datetime


def model_shares(runs) -> list[ModelShare]:
    """``runs`` counted per project and model, in their names' order (two queries)."""
    names = ("project__name", "model_version__model__name")
    per_model = (
        runs.values_list(*names)
        .annotate(Count("pk"), Min("recorded_at"), Max("recorded_at"))
        .order_by(*names)
    )
    results = {
        (project, model): count
        for project, model, count in MetricResult.objects.filter(run__in=runs.values("pk"))
        .values_list("run__project__name", "model_version__model__name")
        .annotate(Count("pk"))
        .order_by()
    }
    return [
        ModelShare(project, model, count, results.get((project, model), 0), first, last)
        for project, model, count, first, last in per_model
    ]


@dataclass(frozen=True)
class KeptRuns:
    """Runs recorded before the time that a prune keeps, by the first reason that keeps them."""

    pinned: int
    budget_anchors: int
    pinned_versions: int  # with --keep-baselines only


def kept_runs(*, before: datetime, project=None, keep_baselines=False) -> KeptRuns:
    runs = runs_before(before=before, project=project)
    versions = 0
    if keep_baselines:
        versions = runs.filter(pinned_versions()).exclude(pinned() | budget_anchors()).count()
    return KeptRuns(
        pinned=runs.filter(pinned()).count(),
        budget_anchors=runs.filter(budget_anchors()).exclude(pinned()).count(),
        pinned_versions=versions,
    )

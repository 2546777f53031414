"""Reads of a model's branches: each with its head (latest run), its verdict against its base
branch and whether it has merged or been archived (no run for the project's archive time)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Case, F, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from evaluations.models import Branch, EvaluationRun


@dataclass
class BranchRow:
    name: str
    default: bool
    long_lived: bool
    watched: bool
    merged_at: datetime | None
    merged_by: str
    archived: bool
    first_seen_at: datetime
    last_run_at: datetime | None
    head_version: str | None
    head_run_id: int | None
    head_environment: str | None
    base_branch: str | None
    verdict: str | None  # the head run's gate status against its base branch's baseline


def branches_of(*, model, archived=False) -> list[BranchRow]:
    """The model's branches, the default first, then by latest run; archived ones (no run for
    ``archive_branches_after_days``, neither default nor long-lived) only with ``archived``."""
    project = model.project
    heads = {
        run["branch"]: run
        for run in EvaluationRun.objects.filter(model_version__model=model)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("branch")],
                # The head is the latest offline run; a branch seen only in other
                # environments, its latest run there.
                order_by=[
                    Case(When(environment="offline", then=0), default=1),
                    F("recorded_at").desc(),
                    F("id").desc(),
                ],
            )
        )
        .filter(rank=1)
        .values(
            "id",
            "branch",
            "recorded_at",
            "model_version__label",
            "environment",
            "base_branch",
            "gate_verdict",
        )
    }
    merges = _merges(model, project.default_branch)
    cutoff = timezone.now() - timedelta(days=project.archive_branches_after_days)
    rows = []
    for branch in Branch.objects.filter(model=model):
        head = heads.get(branch.name)
        default = branch.name == project.default_branch
        merged_at, merged_by = branch.merged_at, branch.merged_by
        if merged_at is None and branch.name in merges:
            merged_at, commit = merges[branch.name]
            merged_by = f"commit {commit[:12]} on {project.default_branch}"
        last = head["recorded_at"] if head else None
        stale = last is None or last < cutoff
        rows.append(
            BranchRow(
                name=branch.name,
                default=default,
                long_lived=branch.long_lived,
                watched=default or branch.long_lived or project.analyse_every_branch,
                merged_at=merged_at,
                merged_by=merged_by,
                archived=stale and not default and not branch.long_lived,
                first_seen_at=branch.first_seen_at,
                last_run_at=last,
                head_version=head["model_version__label"] if head else None,
                head_run_id=head["id"] if head else None,
                head_environment=head["environment"] if head else None,
                base_branch=head["base_branch"] if head else None,
                verdict=(head["gate_verdict"] or {}).get("status") if head else None,
            )
        )
    rows = [row for row in rows if archived or not row.archived]
    never = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (not r.default, -(r.last_run_at or never).timestamp(), r.name))
    return rows


def _merges(model, default_branch) -> dict:
    """``{branch: (when, commit)}``: the first run on the default branch that carried a commit
    a run of the branch had (a fast-forward or rebase merge, evaluated again on the default).
    Two plain reads (the other branches' commits, then the default branch's runs of those
    commits, by the commit index): a correlated subquery per run costs far more."""
    runs = EvaluationRun.objects.filter(model_version__model=model)
    commits = {}
    for branch, commit in (
        runs.exclude(branch=default_branch).exclude(commit="").values_list("branch", "commit")
    ):
        commits.setdefault(commit, set()).add(branch)
    if not commits:
        return {}
    merges = {}
    for commit, merged_at in runs.filter(
        branch=default_branch, commit__in=list(commits)
    ).values_list("commit", "recorded_at"):
        for branch in commits[commit]:
            if branch not in merges or merged_at < merges[branch][0]:
                merges[branch] = (merged_at, commit)
    return merges

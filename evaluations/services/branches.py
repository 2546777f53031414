"""Branches: which line of a model's history a run belongs to, which lines are watched by the
trend analysis and alerts, and when a branch has merged.

A run names its branch (the project's default when it names none) and is judged against its
base branch's baseline (the default's, unless it names another). The default branch and the
long-lived ones (names matching the project's patterns, such as ``release/*``, or marked so) are
watched: their series are analysed and their findings alert. A pull request's branch is kept
apart, so that it never opens findings on the main line nor moves its charts; it shows as
merged once a run on the default branch carries one of its commits (``selectors.branches_of``
reads that), or when told so.
"""

from fnmatch import fnmatchcase

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from evaluations.models import Branch, Series
from evaluations.queue import queue_analysis


class BranchError(Exception):
    """The request names something the model does not have; ``errors`` names the field."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def run_branch(project, payload) -> str:
    """The branch a run body's points go to."""
    return payload.get("branch") or project.default_branch


def base_branch(project, payload) -> str:
    """The branch whose baseline judges a run body."""
    return payload.get("base_branch") or project.default_branch


def is_long_lived(project, name) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in project.long_lived_branches or [])


def is_watched(project, branch) -> bool:
    """Whether trend analysis and alerts run on ``branch``'s series."""
    return (
        branch.name == project.default_branch or branch.long_lived or project.analyse_every_branch
    )


def merge_branch(*, model, name, by) -> Branch:
    """Show ``name`` as merged into the default branch (a merge commit CI never evaluated)."""
    branch = get_branch(model=model, name=name)
    if branch.name == model.project.default_branch:
        raise BranchError({"branch": [f"{name} is the default branch: it merges into nothing."]})
    if branch.merged_at is None:
        branch.merged_at, branch.merged_by = timezone.now(), by
        branch.save(update_fields=["merged_at", "merged_by"])
    return branch


def get_branch(*, model, name) -> Branch:
    # A name from a URL may hold what no stored name does (PostgreSQL refuses a NUL).
    branch = None if "\x00" in name else Branch.objects.filter(model=model, name=name).first()
    if branch is None:
        raise BranchError({"branch": [f"{model.name} has no branch {name!r}."]})
    return branch


@transaction.atomic
def set_long_lived(*, model, name, long_lived) -> Branch:
    """Mark a branch long-lived (its series watched from now on, and analysed at once) or not."""
    branch = get_branch(model=model, name=name)
    branch.long_lived = long_lived
    branch.save(update_fields=["long_lived"])
    refresh_watched(project=model.project, branches=[branch])
    return branch


@transaction.atomic
def update_settings(*, project, **fields):
    """Change the project's branch settings; series follow (watched or not) at once."""
    for name, value in fields.items():
        setattr(project, name, value)
    project.save(update_fields=list(fields))
    branches = list(Branch.objects.filter(model__project=project))
    newly = [b for b in branches if not b.long_lived and is_long_lived(project, b.name)]
    Branch.objects.filter(pk__in=[b.pk for b in newly]).update(long_lived=True)
    for branch in newly:
        branch.long_lived = True
    refresh_watched(project=project, branches=branches)


def refresh_watched(*, project, branches):
    """Bring the series of ``branches`` in line with whether their branch is watched; series
    that become watched are due for analysis, queued when the transaction commits."""
    watched = [b.pk for b in branches if is_watched(project, b)]
    unwatched = [b.pk for b in branches if not is_watched(project, b)]
    Series.objects.filter(branch_id__in=unwatched, watched=True).update(watched=False, dirty=False)
    now = timezone.now()
    newly = list(
        Series.objects.filter(branch_id__in=watched)
        .filter(Q(watched=False) | Q(analysed_at__isnull=True))
        .values_list("pk", flat=True)
    )
    Series.objects.filter(pk__in=newly).update(
        watched=True, dirty=True, due_since=now, queued_at=now
    )
    if newly:
        transaction.on_commit(lambda: queue_analysis(newly), robust=True)
    return newly

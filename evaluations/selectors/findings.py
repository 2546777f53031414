"""Reads of findings and intended-change marks."""

from django.http import Http404

from evaluations.models import ChangeMark, Finding

# What a finding's answer and page show of it, read with it.
FINDING_RELATIONS = (
    "series__model", "series__dataset", "series__metric", "series__branch", "start_version",
    "end_version",
)  # fmt: skip


def findings_for(*, project):
    """A project's findings, the most recently seen first."""
    return (
        Finding.objects.filter(series__model__project=project)
        .select_related(*FINDING_RELATIONS)
        .order_by("-last_seen_at", "-id")
    )


def get_finding(*, project, finding_id) -> Finding:
    finding = findings_for(project=project).filter(pk=finding_id).first()
    if finding is None:
        raise Http404(f"No finding {finding_id} in this project.")
    return finding


def marks_for(*, model):
    return (
        ChangeMark.objects.filter(model=model)
        .select_related("model_version")
        .order_by("-created_at")
    )


def findings_of_series(*, series, limit=20):
    """A series' findings, newest first (the latest ``limit``; all with None)."""
    found = (
        Finding.objects.filter(series=series)
        .select_related(*FINDING_RELATIONS)
        .order_by("-last_seen_at", "-id")
    )
    return found if limit is None else found[:limit]

"""Reads of missed regressions, and which of them a confirmed finding covers.

A mark "should have been found at version X" is covered by a finding of the same series that
people confirmed (acknowledged, or resolved by a person; not a false alarm: what alert
precision counts as real) when the finding's span, from its start version to its end version,
contains X, or when the finding starts within ``NEAR`` versions of X, before or after it.
Versions are counted in the series' own order (the order of its points), so another branch's
versions in between do not count.
"""

from django.http import Http404

from evaluations.models import Finding, MetricResult, MissedRegression, ModelVersion

# A finding that starts this many versions from the mark, either side, found what it meant:
# the analysis dates a change from the points, a person from the release notes.
NEAR = 2

MISSED_RELATIONS = (
    "series__model", "series__dataset", "series__metric", "series__branch", "model_version",
)  # fmt: skip


STANDING = MissedRegression.Status.STANDING


def missed_for(*, project, model=None, status=STANDING):
    """A project's (or a model's) missed regressions in ``status`` (standing unless told;
    ``None``: both), newest first."""
    marks = MissedRegression.objects.filter(series__model__project=project)
    if model is not None:
        marks = marks.filter(series__model=model)
    if status is not None:
        marks = marks.in_status(status)
    return marks.select_related(*MISSED_RELATIONS).order_by("-created_at", "-id")


def missed_of_series(*, series):
    """A series' marks, standing and withdrawn (its recall counts the standing ones)."""
    return MissedRegression.objects.filter(series=series)


def get_missed(*, project, model, mark_id, status=STANDING) -> MissedRegression:
    """One mark of the model in ``status`` (standing unless told; ``None``: either); 404
    otherwise."""
    mark = missed_for(project=project, model=model, status=status).filter(pk=mark_id).first()
    if mark is None:
        raise Http404(f"No missed regression {mark_id} on {model.name}.")
    return mark


def version_of_series(*, series, label) -> ModelVersion:
    """The version ``label`` of the series' model, if the series has a point at it; 404
    otherwise (a mark must be drawn where the series was evaluated)."""
    version = None
    if "\x00" not in label:
        version = ModelVersion.objects.filter(
            model_id=series.model_id, label=label, pk__in=MetricResult.objects.filter(
                series=series).values("model_version_id"),
        ).first()  # fmt: skip
    if version is None:
        raise Http404(f"{series.metric.name} on {series.dataset.name} has no result of "
                      f"version {label!r}.")  # fmt: skip
    return version


def confirmed(findings):
    """The findings people confirmed as real, as alert precision counts them."""
    return findings.filter(triaged_at__isnull=False).exclude(status=Finding.Status.FALSE_ALARM)


def covering(marks) -> dict[int, int | None]:
    """Per mark, the id of a confirmed finding that covers it (None: still missed). A fixed
    number of queries: the confirmed findings of the marks' series, then, only if there are
    any, the order of those series' versions."""
    marks = list(marks)
    if not marks:
        return {}
    series_ids = {mark.series_id for mark in marks}
    found = list(
        confirmed(Finding.objects.filter(series_id__in=series_ids))
        .filter(start_version__isnull=False)
        .order_by("first_seen_at", "pk")
        .values_list("pk", "series_id", "start_version_id", "end_version_id")
    )
    if not found:
        return dict.fromkeys((mark.pk for mark in marks), None)
    positions = _version_positions({series_id for _, series_id, _, _ in found})
    by_series = {}
    for row in found:
        by_series.setdefault(row[1], []).append(row)
    covered = {}
    for mark in marks:
        order = positions.get(mark.series_id, {})
        at = order.get(mark.model_version_id)
        covered[mark.pk] = next(
            (pk for pk, _, start, end in by_series.get(mark.series_id, [])
             if at is not None and _covers(order.get(start), order.get(end), at)),
            None,
        )  # fmt: skip
    return covered


def _covers(start, end, at) -> bool:
    if start is None:
        return False
    end = start if end is None else max(start, end)
    return abs(at - start) <= NEAR or start <= at <= end


def _version_positions(series_ids) -> dict[int, dict[int, int]]:
    """Per series, each version's place in the order of the series' points (its first)."""
    positions = {}
    rows = (
        MetricResult.objects.filter(series_id__in=series_ids)
        .order_by("series_id", "recorded_at", "run_id")
        .values_list("series_id", "model_version_id")
    )
    for series_id, version_id in rows.iterator(chunk_size=10_000):
        order = positions.setdefault(series_id, {})
        if version_id not in order:
            order[version_id] = len(order)
    return positions

"""Missed regressions from the model page: mark one on a chart's series, withdraw one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from evaluations import links, selectors
from evaluations.forms import MissedForm
from evaluations.models import MissedRegression
from evaluations.selectors import missed as missed_selectors
from evaluations.services import missed
from evaluations.views.access import WRITERS, member_project, posted_id, require_role, role_in


@require_POST
@login_required
def missed_marks(request, project_name, model_name):
    """Mark (``mark``) or withdraw (``withdraw``: a mark's id) a missed regression, then back
    to the model page as it was shown."""
    project = member_project(request, name=project_name)
    require_role(request, project, WRITERS, "mark missed regressions")
    model = selectors.get_model(project=project, name=model_name)
    form = MissedForm(request.POST)
    if "withdraw" in request.POST:
        mark = selectors.get_missed(
            project=project, model=model, mark_id=posted_id(request.POST["withdraw"])
        )
        missed.withdraw_missed(mark=mark, by=request.user.get_username())
        messages.success(request, f"Withdrawn: the mark at {mark.model_version.label} no longer "
                                  "counts as missed.")  # fmt: skip
    elif not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    else:
        _mark(request, model, form.cleaned_data)
    return redirect(_model_page(project, model, form))


def _mark(request, model, data):
    try:
        series = selectors.find_series(
            model=model, metric=data["metric"], dataset=data["dataset"] or None,
            dataset_version=data["dataset_version"] or None, slice=data["slice"],
            branch=data["branch"] or None, environment=data["environment"] or "offline",
        )  # fmt: skip
    except Http404 as exc:  # no such series (the form's choices are the page's own)
        messages.error(request, f"metric: {exc}")
        return
    except selectors.AmbiguousDataset:
        messages.error(request, "dataset: required, the model has several.")
        return
    try:
        version = selectors.version_of_series(series=series, label=data["version"])
        missed.mark_missed(
            series=series, model_version=version, note=data["note"],
            by=request.user.get_username(),
        )  # fmt: skip
    except Http404 as exc:
        messages.error(request, f"version: {exc}")
    except missed.MissedError as exc:
        messages.error(request, f"version: {exc.errors['version'][0]}")
    else:
        messages.success(request, f"Marked: {data['metric']} ({data['slice']}) should have "
                                  f"been found at {version.label}.")  # fmt: skip


def _model_page(project, model, form):
    """The model page on the dataset, line and slice the form was posted from."""
    posted = form.data
    query = {
        "dataset": posted.get("dataset", ""), "dataset_version": posted.get("dataset_version", ""),
        "slice": posted.get("shown_slice", ""),
        **links.line_query(project, posted.get("branch", ""), posted.get("environment", "")),
    }  # fmt: skip
    kept = {key: value for key, value in query.items() if value and "\x00" not in value}
    url = reverse("model-page", args=[project.name, model.name])
    return f"{url}?{urlencode(kept)}#missed" if kept else f"{url}#missed"


def missed_context(*, project, model, dataset, line, user, data) -> dict:
    """What the model page shows of missed regressions: the model's alert precision and
    recall, the marks on the dataset and line shown (the standing ones each with the finding
    that covers it, if any; the withdrawn ones with who withdrew them and when), and whether
    the user may mark and withdraw; each of the chart data's series (``data``, from
    ``charts.model_charts``) gets its standing marks as ``missed``. The model's marks are
    read once, for all of it."""
    marks = list(selectors.missed_for(project=project, model=model, status=None))
    standing, withdrawn = MissedRegression.Status.STANDING, MissedRegression.Status.WITHDRAWN
    covered = missed_selectors.covering([mark for mark in marks if mark.status == standing])
    shown = {standing: [], withdrawn: []}
    for mark in marks:
        series = mark.series
        if (series.dataset_id, series.branch.name, series.environment) == (
            dataset.id, line.branch, line.environment,
        ):  # fmt: skip
            mark.covered_by = covered.get(mark.pk)
            shown[mark.status].append(mark)
    for metric in data["metrics"]:
        for series in metric["series"]:
            series["missed"] = [
                {"version": mark.model_version.label, "note": mark.note}
                for mark in reversed(shown[standing])  # oldest first
                if (mark.series.metric.name, mark.series.slice) == (metric["name"], series["slice"])
            ]
    return {
        "missed_marks": shown[standing],
        "withdrawn_marks": sorted(
            shown[withdrawn], key=lambda mark: (mark.withdrawn_at, mark.pk), reverse=True
        ),  # the latest withdrawal first
        "alert_quality": missed.alert_quality(
            findings=selectors.findings_for(project=project).filter(series__model=model),
            covered=covered,
        ),
        "may_write": role_in(project, user) in WRITERS,
    }

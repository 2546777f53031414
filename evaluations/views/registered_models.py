"""Model pages: the charts of every metric across versions, the comparison of two versions,
and pinning a version as the baseline from there."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from evaluations import links, selectors
from evaluations.forms import ChartQueryForm, CompareQueryForm, PinForm
from evaluations.models import EvaluationRun
from evaluations.selectors import charts
from evaluations.services import baselines
from evaluations.views.access import WRITERS, may_write, member_project, require_role
from evaluations.views.embed import script_json
from evaluations.views.exports import compare_page_download, model_page_downloads
from evaluations.views.missed import missed_context


@login_required
def model_page(request, project_name, model_name):
    context, dataset = _page_context(request, project_name, model_name, ChartQueryForm)
    if "bad_query" in context:
        return context["bad_query"]
    project, model, query = context["project"], context["model"], context["query"]
    context["failing"] = selectors.failing_analyses(model=model)
    if dataset is None:
        return render(request, "evaluations/model.html", context)
    line, over = context["line"], _over_line(query.cleaned_data, context["line"])
    slice_name = query.cleaned_data["slice"] or "overall"
    slices = charts.slices_on(model=model, dataset=dataset, line=line) or ["overall"]
    if slice_name != charts.ALL_SLICES and slice_name not in slices:
        if query.cleaned_data["slice"]:
            messages.warning(request, f"No results on slice '{slice_name}' of {dataset.label}.")
        slice_name = slices[0]
    data = charts.model_charts(
        model=model, dataset=dataset, slice=slice_name, last=query.cleaned_data["last"],
        line=line, over=over,
    )  # fmt: skip
    # Before the chart data is written: it draws the marks on their series.
    context |= missed_context(
        project=project, model=model, dataset=dataset, line=line, user=request.user, data=data
    )
    context |= {
        **model_page_downloads(project, model, data, line),
        "dataset": dataset,
        "slice": slice_name,
        "slices": slices,
        "all_slices": charts.ALL_SLICES,
        "data": data,
        "summary": charts.summary_rows(data),
        "chart_json": script_json(data),
        "over": over,
        "compare_url": _with_query(
            reverse("compare-page", args=[project.name, model.name]),
            dataset=dataset.name,
            dataset_version=dataset.version,
            **links.line_query(project, line.branch, line.environment),
        ),
    }
    return render(request, "evaluations/model.html", context)


def _over_line(data, line):
    """The line drawn beneath: another branch, another environment, or both."""
    if not data["over"] and not data["over_environment"]:
        return None
    over = charts.Line(data["over"] or line.branch, data["over_environment"] or line.environment)
    return None if over == line else over


@login_required
def compare_page(request, project_name, model_name):
    context, dataset = _page_context(request, project_name, model_name, CompareQueryForm)
    if "bad_query" in context:
        return context["bad_query"]
    project, model, query = context["project"], context["model"], context["query"]
    context["may_write"] = may_write(project, request.user)
    if dataset is None:
        return render(request, "evaluations/compare.html", context)
    line = context["line"]
    versions = charts.versions_on(model=model, dataset=dataset, line=line)
    pin = selectors.current_pin(model=model, dataset_name=dataset.name, branch=line.branch)
    # A branch without a baseline of its own is judged against the default branch's: its
    # head is what it is first compared with.
    borrowed = pin is None and line.branch != project.default_branch
    reference = project.default_branch if borrowed else pin and pin.model_version.label
    a, b = charts.default_pair(versions, reference, query.cleaned_data)
    context |= {
        "dataset": dataset, "versions": versions, "a": a, "b": b, "pin": pin,
        "base_pin": borrowed and selectors.current_pin(
            model=model, dataset_name=dataset.name, branch=project.default_branch
        ),
        "model_url": _with_query(
            reverse("model-page", args=[project.name, model.name]), dataset=dataset.name,
            dataset_version=dataset.version,
            **links.line_query(project, line.branch, line.environment),
        ),
    }  # fmt: skip
    if a and b:
        try:
            comparison = selectors.compare_versions(
                model=model, a=a, b=b, dataset_name=dataset.name,
                dataset_version=dataset.version, environment=line.environment,
            )  # fmt: skip
        except Http404 as exc:
            context["problem"] = str(exc)
        else:
            context |= {
                "comparison": comparison,
                "download": compare_page_download(project, model, a, b, dataset, line),
                **_pinned_sides(model, dataset, {line.branch: pin}, comparison),
            }
    return render(request, "evaluations/compare.html", context)


def _pinned_sides(model, dataset, pins, comparison) -> dict:
    """Whether each side is its own branch's baseline: a side pins on its branch (main's head
    compared with a pull request's pins main's baseline), and each side's link says which."""
    flags = {}
    for side in ("a", "b"):
        branch = comparison[side]["branch"]
        if branch not in pins:
            pins[branch] = selectors.current_pin(
                model=model, dataset_name=dataset.name, branch=branch
            )
        flags[f"{side}_pinned"] = _is_pinned(pins[branch], comparison[side])
        default = branch == model.project.default_branch
        flags[f"{side}_pin_branch"] = "" if default else branch
    return flags


def _is_pinned(pin, side) -> bool:
    """Whether ``side`` of a comparison (its version on its dataset version) is the baseline
    now: pinning it again would change nothing."""
    return (
        pin is not None
        and pin.model_version.label == side["version"]
        and pin.run.dataset.version == side["dataset_version"]
    )


@login_required
def pin_page(request, project_name, model_name):
    """Confirm, then pin a version as the baseline (GET asks, POST with ``confirmed`` pins)."""
    project = member_project(request, name=project_name)
    require_role(request, project, WRITERS, "pin baselines")
    model = selectors.get_model(project=project, name=model_name)
    form = PinForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return render(
            request, "evaluations/bad_query.html", {"form": form, "project": project}, status=400
        )
    data = form.cleaned_data
    branch = data["branch"] or project.default_branch
    compare_url = _with_query(
        reverse("compare-page", args=[project.name, model.name]),
        dataset=data["dataset"],
        dataset_version=data["dataset_version"],
        b=data["version"],
        **links.line_query(project, branch),
    )
    if request.method == "POST" and data["confirmed"]:
        try:
            baselines.pin_baseline(
                model=model, dataset_name=data["dataset"], version_label=data["version"],
                dataset_version=data["dataset_version"] or None, branch=branch,
                pinned_by=request.user.get_username(), note=data["note"],
            )  # fmt: skip
        except baselines.BaselineError as exc:
            messages.error(request, exc.errors["version"][0])
            return redirect(compare_url)
        messages.success(
            request,
            f"{model.name} {data['version']} is now the baseline on {data['dataset']} ({branch}).",
        )
        return redirect(compare_url)
    context = {
        "project": project,
        "model": model,
        "form": form,
        "data": data,
        "branch": branch,
        "current": selectors.current_pin(model=model, dataset_name=data["dataset"], branch=branch),
        "cancel_url": compare_url,
    }
    return render(request, "evaluations/pin_confirm.html", context)


def _page_context(request, project_name, model_name, form_class):
    """The context every model page starts from (project, model, the valid query, the datasets
    to choose from) and the dataset chosen (None when the model has no runs); for a bad query,
    ``{"bad_query": <its 400 page>}``."""
    project = member_project(request, name=project_name)
    model = selectors.get_model(project=project, name=model_name)
    query = form_class(request.GET)
    if not query.is_valid():
        page = render(
            request, "evaluations/bad_query.html", {"form": query, "project": project}, status=400
        )
        return {"bad_query": page}, None
    line = charts.Line(
        query.cleaned_data["branch"] or project.default_branch,
        query.cleaned_data["environment"] or "offline",
    )
    choices = charts.dataset_choices(model=model, line=line)
    branches = selectors.branches_of(model=model, archived=True)
    context = {
        "project": project,
        "model": model,
        "query": query,
        "datasets": choices,
        "line": line,
        "default_line": line == charts.Line(project.default_branch),
        "branches": branches,
        # The table of branches: the archived ones apart, behind a fold.
        "branch_rows": _branch_rows(model, [row for row in branches if not row.archived]),
        "archived_rows": _branch_rows(model, [row for row in branches if row.archived]),
        "environments": [value for value, _ in EvaluationRun.Environment.choices],
    }
    return context, _chosen_dataset(request, choices, query.cleaned_data, context)


def _branch_rows(model, rows):
    return [{"row": row, "url": links.branch_page_path(model, row.name)} for row in rows]


def _chosen_dataset(request, choices, data, context):
    dataset = charts.pick_dataset(
        choices, name=data["dataset"] or None, version=data["dataset_version"] or None
    )
    if dataset is None and data["dataset"]:
        if context["default_line"]:
            raise Http404(f"This model has no results on dataset '{data['dataset']}'.")
        # Switching branch or environment keeps the dataset, which that line may not have:
        # its most recent one is shown instead (none, when the line has no runs at all).
        if choices:
            line = context["line"]
            messages.warning(
                request,
                f"No results on {data['dataset']} on {line.branch}, {line.environment}: "
                f"showing {choices[0].label}.",
            )
            dataset = choices[0]
    return dataset


def _with_query(url, **params):
    kept = {key: value for key, value in params.items() if value}
    return f"{url}?{urlencode(kept)}" if kept else url

"""The pages' download links: a series of the model page's charts, the runs the model page
shows, and the comparison on the compare page, as CSV or Parquet files (the API's exports,
for a logged-in member)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from evaluations import downloads, links, selectors
from evaluations.forms import CompareExportForm, RunsExportForm, SeriesExportForm
from evaluations.views.access import member_project


@login_required
def series_download(request, project_name, model_name):
    _, model, data, refused = _query(request, project_name, model_name, SeriesExportForm)
    if refused:
        return refused
    try:
        series = selectors.find_series(
            model=model, metric=data["metric"], dataset=data["dataset"] or None,
            dataset_version=data["dataset_version"] or None, slice=data["slice"] or "overall",
            branch=data["branch"] or None, environment=data["environment"] or "offline",
        )  # fmt: skip
    except selectors.AmbiguousDataset as exc:
        names = ", ".join(exc.names)
        raise Http404(f"Name the dataset: this model has results on {names}.") from None
    table = selectors.series_table(model=model, series=series)
    return downloads.file_response(table, data["format"])


@login_required
def runs_download(request, project_name, model_name):
    project, model, data, refused = _query(request, project_name, model_name, RunsExportForm)
    if refused:
        return refused
    line = (data["branch"] or project.default_branch, data["environment"] or "offline")
    runs = selectors.runs_of(
        model=model, branch=line[0], environment=line[1], dataset=data["dataset"] or None,
        dataset_version=data["dataset_version"] or None,
    )  # fmt: skip
    words = ("runs", model.name, data["dataset"], *line)
    try:
        table = selectors.run_results_table(runs=runs, name=words)
    except selectors.TooManyRows as exc:
        return _bad_query(request, project, {"format": [str(exc)]})
    return downloads.file_response(table, data["format"])


@login_required
def compare_download(request, project_name, model_name):
    _, model, data, refused = _query(request, project_name, model_name, CompareExportForm)
    if refused:
        return refused
    comparison = selectors.compare_versions(
        model=model, a=data["a"], b=data["b"], dataset_name=data["dataset"],
        dataset_version=data["dataset_version"] or None,
        environment=data["environment"] or "offline",
    )  # fmt: skip
    return downloads.file_response(selectors.comparison_table(comparison), data["format"])


def _query(request, project_name, model_name, form_class):
    """The project (the user's, else 404), the model, the valid query; for a bad query, its
    400 page last."""
    project = member_project(request, name=project_name)
    model = selectors.get_model(project=project, name=model_name)
    form = form_class(request.GET)
    if not form.is_valid():
        return project, model, None, _bad_query(request, project, form.errors)
    return project, model, form.cleaned_data, None


def _bad_query(request, project, errors):
    return render(
        request,
        "evaluations/bad_query.html",
        {"form": {"errors": errors}, "project": project},
        status=400,
    )


def download_links(url_name, project, model, **params) -> dict:
    """A download's links for a page: ``csv``, and ``parquet`` when this server writes it."""
    query = urlencode({key: value for key, value in params.items() if value})
    url = f"{reverse(url_name, args=[project.name, model.name])}?{query}"
    formats = [f for f in downloads.FORMATS if f != "parquet" or downloads.parquet_available()]
    return {f: f"{url}&format={f}" if query else f"{url}?format={f}" for f in formats}


def model_page_downloads(project, model, data, line) -> dict:
    """The model page's links: each chart's series (a link per slice it draws), beside the
    chart's data, and the runs on the page's dataset and line."""
    where = {
        "dataset": data["dataset"]["name"],
        "dataset_version": data["dataset"]["version"],
        **links.line_query(project, line.branch, line.environment),
    }
    charts = [
        (metric, [_series_links(project, model, metric["name"], s["slice"], where)
                  for s in metric["series"]])
        for metric in data["metrics"]
    ]  # fmt: skip
    return {
        "charts": charts,
        "runs_download": download_links("export-runs", project, model, **where),
    }


def _series_links(project, model, metric, slice_name, where):
    found = download_links(
        "export-series", project, model, metric=metric, slice=slice_name, **where
    )
    return {"slice": slice_name, **found}


def compare_page_download(project, model, a, b, dataset, line) -> dict:
    """The compare page's links: the comparison it shows."""
    return download_links(
        "export-compare", project, model, a=a, b=b, dataset=dataset.name,
        dataset_version=dataset.version, environment=line.environment,
    )  # fmt: skip

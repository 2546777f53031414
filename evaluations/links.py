"""Absolute links to the dashboard's pages, built in one place for whatever leaves the
server with a link in it: alert e-mails, the API's ``url`` fields and, through those, the CI
client's reports. Each is ``settings.SITE_URL`` plus the path ``reverse()`` gives, so a page
that moves moves its links with it."""

from collections.abc import Callable

from django.conf import settings
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def run_url(run) -> str:
    return run_url_of(run.pk)


def run_url_of(run_id: int) -> str:
    """``run_url`` from the run's id alone."""
    return absolute(reverse("run-page", args=[run_id]))


def run_urls() -> Callable[[int], str]:
    """``run_url_of`` for a page of runs: ``reverse()`` (some 25 µs) costs more than the rest
    of a run's answer, so it runs once, on a stand-in id whose place the ids then take."""
    stand_in = "2147483647"
    before, after = run_url_of(int(stand_in)).split(stand_in)
    return lambda run_id: f"{before}{run_id}{after}"


def finding_url(finding) -> str:
    return absolute(reverse("finding-page", args=[finding.pk]))


def model_chart_url(series) -> str:
    """The model page on the series' dataset (name and version) and slice, scrolled to the
    metric's chart (the page shows every metric; its charts carry ids by metric)."""
    model, dataset = series.model, series.dataset
    path = reverse("model-page", args=[model.project.name, model.name])
    params = {"dataset": dataset.name, "dataset_version": dataset.version, "slice": series.slice}
    params |= line_query(model.project, series.branch.name, series.environment)
    return absolute(f"{path}?{urlencode(params)}#{chart_anchor(series.metric.name)}")


def project_url(project) -> str:
    return absolute(reverse("project-page", args=[project.name]))


def model_url(model) -> str:
    return absolute(reverse("model-page", args=[model.project.name, model.name]))


def branch_url(run) -> str:
    """The model page on the run's branch (drawn over the main line) and dataset: where a
    pull request's comment sends its reader."""
    return absolute(branch_path(run))


def branch_path(run) -> str:
    """``branch_url`` without the site: for the pages' own links."""
    model, dataset = run.model_version.model, run.dataset
    return run_line_path(
        model.project, model.name, (dataset.name, dataset.version), run.branch, run.environment
    )


def run_line_path(project, model_name, dataset, branch, environment) -> str:
    """``branch_path`` from the run's fields: its project, model name, dataset (name and
    version), branch and environment."""
    path = reverse("model-page", args=[project.name, model_name])
    params = {"dataset": dataset[0], "dataset_version": dataset[1]}
    params |= line_query(project, branch, environment)
    if branch != project.default_branch:
        params["over"] = project.default_branch
    return f"{path}?{urlencode(params)}"


def branch_page_url(model, branch) -> str:
    """The model page on ``branch`` (drawn over the default branch, for any other)."""
    return absolute(branch_page_path(model, branch))


def branch_page_path(model, branch) -> str:
    """``branch_page_url`` without the site: the link the dashboard's own pages use."""
    project = model.project
    path = reverse("model-page", args=[project.name, model.name])
    params = line_query(project, branch, "offline")
    if branch != project.default_branch:
        params["over"] = project.default_branch
    return f"{path}?{urlencode(params)}" if params else path


def line_query(project, branch, environment="offline") -> dict:
    """The query naming a branch and environment, left out where they are the defaults."""
    params = {}
    if branch != project.default_branch:
        params["branch"] = branch
    if environment != "offline":
        params["environment"] = environment
    return params


def chart_anchor(metric_name: str) -> str:
    """The id of a metric's chart on the model page."""
    return f"metric-{slugify(metric_name)}"


def unsubscribe_url(token: str) -> str:
    return absolute(reverse("unsubscribe", args=[token]))


def experiment_url(experiment) -> str:
    return absolute(reverse("experiment-page", args=[experiment.pk]))

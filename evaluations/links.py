"""Absolute links to the dashboard's pages, built in one place for whatever leaves the
server with a link in it: alert e-mails, the API's ``url`` fields and, through those, the CI
client's reports. Each is ``settings.SITE_URL`` plus the path ``reverse()`` gives, so a page
that moves moves its links with it."""

from django.conf import settings
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def run_url(run) -> str:
    return absolute(reverse("run-page", args=[run.pk]))


def finding_url(finding) -> str:
    return absolute(reverse("finding-page", args=[finding.pk]))


def model_chart_url(series) -> str:
    """The model page on the series' dataset (name and version) and slice, scrolled to the
    metric's chart (the page shows every metric; its charts carry ids by metric)."""
    model, dataset = series.model, series.dataset
    path = reverse("model-page", args=[model.project.name, model.name])
    query = urlencode(
        {"dataset": dataset.name, "dataset_version": dataset.version, "slice": series.slice}
    )
    return absolute(f"{path}?{query}#{chart_anchor(series.metric.name)}")


def chart_anchor(metric_name: str) -> str:
    """The id of a metric's chart on the model page."""
    return f"metric-{slugify(metric_name)}"


def unsubscribe_url(token: str) -> str:
    return absolute(reverse("unsubscribe", args=[token]))

"""Download links on the pages: each chart's series, the model page's runs and the comparison,
as the API exports them, for the project's members only."""

import csv
import html
import io
import re

import pytest

from evaluations import downloads
from evaluations.services import projects
from tests.histories import drifting_history, post_batch

MODEL_PAGE = "/projects/acme/models/fraud-detector/"
COMPARE_PAGE = "/projects/acme/models/fraud-detector/compare/?a=1.0&b=1.9"
EXPORT = "/projects/acme/models/fraud-detector/export"


@pytest.fixture
def history(api):
    post_batch(api, drifting_history(10))


def links(response, pattern=r"/export/"):
    """The download links of a page, unescaped, in page order."""
    assert response.status_code == 200
    hrefs = re.findall(r'href="([^"]+)"[^>]*\sdownload', response.content.decode())
    return [html.unescape(href) for href in hrefs if re.search(pattern, href)]


def rows(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_each_chart_links_its_series_and_the_file_is_the_apis(member, api, history):
    page = member.get(MODEL_PAGE)

    series = links(page, r"/export/series/.*format=csv")
    assert len(series) == 2  # accuracy and latency: f1 has no overall slice
    accuracy = next(link for link in series if "metric=accuracy" in link)
    response = member.get(accuracy)
    assert response["Content-Disposition"] == (
        'attachment; filename="fraud-detector-accuracy-holdout-overall.csv"'
    )
    from_api = api.get("/api/v1/models/fraud-detector/series/?metric=accuracy&format=csv")
    assert rows(response) == rows(from_api)
    assert len(links(page, r"/export/series/.*format=parquet")) == (
        2 if downloads.parquet_available() else 0
    )


def test_every_slice_together_links_each_slices_series(member, history):
    page = member.get(f"{MODEL_PAGE}?slice=*")

    f1 = links(page, r"metric=f1&.*format=csv")
    assert len(f1) == 2
    assert {r["slice"] for link in f1 for r in rows(member.get(link))} == {
        "country=DE",
        "country=US",
    }


def test_the_model_page_links_its_runs_results(member, api, history):
    page = member.get(MODEL_PAGE)

    (runs_link,) = links(page, r"/export/runs/.*format=csv")
    response = member.get(runs_link)
    assert response["Content-Disposition"] == (
        'attachment; filename="runs-fraud-detector-holdout-main-offline.csv"'
    )
    exported = rows(response)
    assert len(exported) == 10 * 4
    assert exported == rows(api.get("/api/v1/runs/?model=fraud-detector&format=csv"))


def test_the_compare_page_links_the_comparison(member, api, history):
    page = member.get(COMPARE_PAGE)

    (compare_link,) = links(page, r"/export/compare/.*format=csv")
    exported = rows(member.get(compare_link))
    from_api = api.get(
        "/api/v1/models/fraud-detector/compare/?a=1.0&b=1.9&dataset=holdout&format=csv"
    )
    assert exported == rows(from_api)
    assert [r["metric"] for r in exported] == ["accuracy", "f1", "f1", "latency_p95_ms"]


@pytest.mark.skipif(not downloads.parquet_available(), reason="needs pyarrow")
def test_a_parquet_link_downloads_parquet(member, history):
    pandas = pytest.importorskip("pandas")
    (link,) = links(member.get(MODEL_PAGE), r"/export/runs/.*format=parquet")

    response = member.get(link)

    assert response["Content-Type"] == "application/vnd.apache.parquet"
    frame = pandas.read_parquet(io.BytesIO(b"".join(response.streaming_content)))
    assert len(frame) == 40 and list(frame.columns)[:3] == ["run_id", "recorded_at", "model"]


def test_without_pyarrow_pages_offer_csv_only(member, history, monkeypatch):
    monkeypatch.setattr(downloads, "parquet_available", lambda: False)

    page = member.get(MODEL_PAGE)
    refused = member.get(f"{EXPORT}/runs/?format=parquet")

    assert links(page, "format=parquet") == [] and links(page, "format=csv")
    assert refused.status_code == 400
    assert "<code>format</code>" in refused.content.decode()
    assert "pyarrow" in refused.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        f"{EXPORT}/series/?metric=accuracy&format=xlsx",
        f"{EXPORT}/runs/?format=xlsx",
        f"{EXPORT}/compare/?a=1.0&b=1.9&dataset=holdout&format=xlsx",
        f"{EXPORT}/compare/?a=1.0&b=1.9",
    ],
)
def test_a_bad_query_answers_400_naming_the_field(member, history, path):
    response = member.get(path)

    assert response.status_code == 400
    field = "dataset" if "xlsx" not in path else "format"
    assert f"<code>{field}</code>" in response.content.decode()


DOWNLOADS = (
    f"{EXPORT}/series/?metric=accuracy",
    f"{EXPORT}/runs/",
    f"{EXPORT}/compare/?a=1.0&b=1.9&dataset=holdout",
)


@pytest.mark.parametrize("path", DOWNLOADS)
def test_downloads_are_for_members_only(client, history, path):
    anonymous = client.get(path)
    other, _ = projects.ensure_project(name="globex")
    client.force_login(projects.ensure_member(project=other, username="eve"))

    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client.get(path).status_code == 404


def test_an_unknown_series_or_version_is_404(member, history):
    assert member.get(f"{EXPORT}/series/?metric=nope").status_code == 404
    assert member.get(f"{EXPORT}/compare/?a=1.0&b=9.9&dataset=holdout").status_code == 404
    assert member.get("/projects/acme/models/nope/export/runs/").status_code == 404

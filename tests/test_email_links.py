"""Every link that leaves the server is followed, as its reader would: each link of an alert
e-mail answers a page (or the login redirect when logged out), the chart link opens the
finding's chart, and the ``url`` of the API's answers opens the run's page."""

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from evaluations.models import Channel, Finding
from tests.test_analysis_jobs import history, planted_drift, post_history

URL = re.compile(r"https?://\S+")


class Hrefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href"]


@pytest.fixture
def subscribed(project):
    return Channel.objects.create(project=project, name="oncall", emails=["ana@x.org"])


def links_of(message):
    """The links of the HTML part and of the text part, each as a path below SITE_URL."""
    parser = Hrefs()
    parser.feed(message.get_body(preferencelist=("html",)).get_content())
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = {"html": parser.hrefs, "text": URL.findall(text)}
    for urls in found.values():
        assert urls and all(url.startswith(settings.SITE_URL + "/") for url in urls), urls
    return {
        part: [url.removeprefix(settings.SITE_URL) for url in urls] for part, urls in found.items()
    }


def drift_on_a_slice():
    """A flat ``overall`` and a drifting ``eu`` slice of one metric, on dataset holdout@v1."""
    runs = history(0.93 + planted_drift() * 0)
    for run, drifting in zip(runs, history(planted_drift()), strict=True):
        run["metrics"].append({**drifting["metrics"][0], "slice": "eu"})
    return runs


def assert_each_link_answers(paths, member):
    for path in paths:
        answer = member.get(path)
        assert answer.status_code == 200, (path, answer.status_code)


def test_each_link_of_a_finding_email_opens_its_page(
    api, subscribed, member, smtp, django_capture_on_commit_callbacks
):
    post_history(api, drift_on_a_slice(), django_capture_on_commit_callbacks)
    finding = Finding.objects.get()
    ((_, message),) = smtp.messages
    links = links_of(message)
    assert set(links["html"]) == set(links["text"]) and len(set(links["text"])) == 3

    assert_each_link_answers(links["html"], member)
    (chart,) = [path for path in links["text"] if path.startswith("/projects/")]
    answer = member.get(chart)
    page = answer.content.decode()
    query = parse_qs(urlsplit(chart).query)
    assert query == {"dataset": ["holdout"], "dataset_version": ["v1"], "slice": ["eu"]}
    assert answer.context["slice"] == "eu" and answer.context["dataset"].label == "holdout@v1"
    anchor = urlsplit(chart).fragment
    assert f'id="{anchor}"' in page and f"<h2>{finding.series.metric.name}" in page


def test_each_link_of_a_digest_opens_its_page_and_logged_out_ones_ask_to_log_in(
    api, subscribed, member, client, smtp, django_capture_on_commit_callbacks
):
    runs = history(planted_drift())
    for run, other in zip(runs, history(planted_drift(seed=9), metric="f1"), strict=True):
        run["metrics"] += other["metrics"]
    post_history(api, runs, django_capture_on_commit_callbacks)
    ((_, message),) = smtp.messages
    links = links_of(message)
    assert set(links["html"]) == set(links["text"]) and len(set(links["text"])) == 3

    assert_each_link_answers(links["text"], member)
    member.logout()
    for path in links["text"]:
        answer = client.get(path)
        if path.startswith("/unsubscribe/"):
            assert answer.status_code == 200  # the reader may not have an account
        else:
            assert answer.status_code == 302 and answer["Location"].startswith("/login/?next=")


def test_the_url_in_the_api_answers_opens_the_runs_page(api, member, run_body):
    single = api.post("/api/v1/runs/", run_body, format="json").json()
    batch = api.post("/api/v1/runs/batch/", {"runs": [{**run_body, "external_id": "b"}]},
                     format="json").json()  # fmt: skip
    listed = api.get("/api/v1/runs/").json()["results"]

    urls = [single["url"], batch["runs"][0]["url"], *(run["url"] for run in listed)]
    assert len(urls) == 4 and all(url.startswith(settings.SITE_URL + "/runs/") for url in urls)
    for url in urls:
        page = member.get(url.removeprefix(settings.SITE_URL))
        assert page.status_code == 200 and page.context["run"].pk in (
            single["id"],
            batch["runs"][0]["id"],
        )


def test_a_finding_on_a_release_branch_says_so_and_links_to_that_branch(
    api, subscribed, member, smtp, django_capture_on_commit_callbacks
):
    runs = [{**run, "branch": "release/3"} for run in history(planted_drift())]
    post_history(api, runs, django_capture_on_commit_callbacks)
    ((_, message),) = smtp.messages

    assert "on release/3" in message["Subject"]
    assert "Branch:   release/3" in message.get_body(preferencelist=("plain",)).get_content()
    (chart,) = [path for path in links_of(message)["text"] if path.startswith("/projects/")]
    assert parse_qs(urlsplit(chart).query)["branch"] == ["release/3"]
    answer = member.get(chart)
    assert answer.status_code == 200
    assert answer.context["line"].branch == "release/3"

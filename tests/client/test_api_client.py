"""``Tracker``, the REST API from Python, against the real service: a post answers with its
verdict, a series reads as dicts or as a DataFrame, baselines are pinned and read, findings
listed, and a refused call raises APIError with the status and the API's field errors."""

import sys

import pandas as pd
import pytest

from evaluations.models import EvaluationRun
from evaluations.services import projects
from tests.client.conftest import Canned
from tests.conftest import client_for
from trackerclient import APIError, Tracker, TrackerError

pytestmark = pytest.mark.django_db(transaction=True)
RULES = "/api/v1/models/fraud-detector/thresholds/"


@pytest.fixture
def tracker(live_server):
    project, _ = projects.ensure_project(name="acme")
    return Tracker(live_server.url, projects.create_token(project=project, scope="admin")[1])


def released(run_body, version, accuracy, **fields):
    body = {**run_body, "version": version, "external_id": None, **fields}
    body["metrics"] = [{**body["metrics"][0], "value": accuracy}, *body["metrics"][1:]]
    return body


def test_a_post_answers_with_the_stored_run_and_its_verdict(tracker, run_body):
    del run_body["external_id"]

    answer = tracker.post_run(run_body)

    run = EvaluationRun.objects.get()
    assert answer["id"] == run.pk
    assert answer["external_id"].startswith("trackerclient-")
    assert answer["gate"]["status"] == "no_baseline"
    assert answer["url"].endswith(f"/runs/{run.pk}/")


def test_a_dry_run_is_judged_and_not_stored(tracker, run_body):
    answer = tracker.post_run(run_body, dry_run=True)

    assert answer["gate"]["status"] == "no_baseline"
    assert EvaluationRun.objects.count() == 0


def test_a_series_reads_as_points_in_time_order(tracker, run_body):
    for version, accuracy, day in (("1.3.0", 0.92, "19"), ("1.4.0", 0.931, "20")):
        at = f"2026-11-{day}T10:00:00Z"
        tracker.post_run(released(run_body, version, accuracy, finished_at=at))

    points = tracker.series("fraud-detector", "accuracy", dataset="holdout")

    assert [(p["version"], p["value"], p["n"]) for p in points] == [
        ("1.3.0", 0.92, 10000),
        ("1.4.0", 0.931, 10000),
    ]
    assert points[-1]["at"] == "2026-11-20T10:00:00Z"
    assert tracker.series("fraud-detector", "accuracy", limit=1) == points[-1:]
    assert tracker.series("fraud-detector", "f1", slice="country=DE")[0]["value"] == 0.88


def test_a_series_of_another_line_reads_apart(tracker, run_body):
    tracker.post_run(released(run_body, "1.4.0", 0.931))
    tracker.post_run(released(run_body, "1.5.0", 0.94, branch="feature/x"))
    tracker.post_run(released(run_body, "1.5.0", 0.95, environment="canary"))

    on_branch = tracker.series("fraud-detector", "accuracy", branch="feature/x")
    in_canary = tracker.series("fraud-detector", "accuracy", environment="canary")

    assert [p["value"] for p in on_branch] == [0.94]
    assert [p["value"] for p in in_canary] == [0.95]


def test_a_series_reads_as_a_dataframe(tracker, run_body):
    tracker.post_run(released(run_body, "1.3.0", 0.92, finished_at="2026-11-19T10:00:00Z"))
    tracker.post_run(released(run_body, "1.4.0", 0.931, finished_at="2026-11-20T10:00:00Z"))

    frame = tracker.series_frame("fraud-detector", "accuracy", dataset="holdout")

    assert list(frame.columns) == ["version", "value", "n", "ci_low", "ci_high", "run_id", "at"]
    assert frame["version"].tolist() == ["1.3.0", "1.4.0"]
    assert frame["value"].tolist() == [0.92, 0.931]
    assert frame["at"].iloc[-1] == pd.Timestamp("2026-11-20T10:00:00Z")
    assert frame.attrs["metric"] == "accuracy"
    assert frame.attrs["direction"] == "higher_is_better"
    assert frame.attrs["dataset"]["name"] == "holdout"


def test_a_series_with_no_results_raises_api_error_404_saying_so(tracker, run_body):
    tracker.post_run(run_body)

    with pytest.raises(APIError) as raised:
        tracker.series_frame("fraud-detector", "accuracy", branch="feature/none")

    assert raised.value.status == 404
    assert "branch 'feature/none'" in raised.value.errors["detail"]


def test_the_dataframe_without_pandas_says_what_to_install(tracker, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError

    with pytest.raises(ImportError, match=r"series_frame needs pandas.*pip install pandas"):
        tracker.series_frame("fraud-detector", "accuracy")


def test_a_baseline_is_pinned_and_read(tracker, run_body):
    tracker.post_run(released(run_body, "1.3.0", 0.92))
    assert tracker.baseline("fraud-detector", "holdout")["baseline"] is None

    pinned = tracker.pin_baseline("fraud-detector", "holdout", "1.3.0", note="release 1.3")

    read = tracker.baseline("fraud-detector", "holdout")
    assert pinned == read
    assert read["baseline"]["version"] == "1.3.0"
    assert read["baseline"]["note"] == "release 1.3"
    values = {(v["metric"], v["slice"]): v["value"] for v in read["values"]}
    assert values[("accuracy", "overall")] == 0.92


def test_a_regression_fails_the_gate_and_is_listed_as_a_finding(tracker, run_body):
    tracker.post_run(released(run_body, "1.3.0", 0.931))
    tracker.pin_baseline("fraud-detector", "holdout", "1.3.0")
    assert tracker.findings() == []
    rule = {"metric": "accuracy", "max_drop": 0.005}
    api = client_for(tracker.token)
    assert api.post(RULES, rule, format="json").status_code == 201

    answer = tracker.post_run(released(run_body, "1.4.0", 0.915))

    assert answer["gate"]["status"] == "failed"
    (finding,) = tracker.findings(model="fraud-detector")
    assert (finding["kind"], finding["metric"], finding["status"]) == (
        "threshold",
        "accuracy",
        "open",
    )
    assert tracker.findings(model="another-model") == []
    assert tracker.findings(status="resolved") == []


def test_findings_are_read_page_after_page(fake_tracker):
    page = {"count": 3, "previous": None, "results": [{"id": 1}, {"id": 2}]}
    fake = fake_tracker(
        Canned(200, {**page, "next": "http://elsewhere.test/?page=2"}),
        Canned(200, {**page, "next": None, "results": [{"id": 3}]}),
    )

    found = Tracker(fake.url, "t").findings(model="m")

    assert [f["id"] for f in found] == [1, 2, 3]
    first, second = (request.path for request in fake.requests)
    assert first.startswith("/api/v1/findings/?model=m&page=1")
    assert second.startswith("/api/v1/findings/?model=m&page=2")


def test_a_wrong_token_raises_api_error_with_status_401(live_server, run_body):
    tracker = Tracker(live_server.url, "not-a-token")

    with pytest.raises(APIError) as raised:
        tracker.post_run(run_body)

    assert raised.value.status == 401
    assert "detail" in raised.value.errors
    assert "HTTP 401 Unauthorized" in str(raised.value)
    assert EvaluationRun.objects.count() == 0


def test_a_bad_body_raises_api_error_naming_the_field(tracker, run_body):
    run_body["metrics"][0]["value"] = "0.93"

    with pytest.raises(APIError) as raised:
        tracker.post_run(run_body)

    assert raised.value.status == 400
    assert raised.value.errors == {"metrics": {"0": {"value": ["Must be a number, not a string."]}}}
    assert "metrics.0.value: Must be a number, not a string." in str(raised.value)


def test_an_ingest_token_cannot_pin_and_is_told_why(live_server, run_body):
    project, _ = projects.ensure_project(name="acme")
    tracker = Tracker(live_server.url, projects.create_token(project=project)[1])
    tracker.post_run(run_body)

    with pytest.raises(APIError) as raised:
        tracker.pin_baseline("fraud-detector", "holdout", "1.4.0")

    assert raised.value.status == 403
    assert "needs admin" in raised.value.errors["detail"]


def test_an_unreachable_tracker_raises_tracker_error_after_the_retries(free_port):
    tracker = Tracker(f"http://127.0.0.1:{free_port}", "t", retries=1, backoff=0.01)

    with pytest.raises(TrackerError, match=r"cannot reach .*\(gave up after 2 attempts\)"):
        tracker.series("fraud-detector", "accuracy")


def test_a_bad_address_is_refused_at_once():
    with pytest.raises(ValueError, match="http:// or https://"):
        Tracker("metrics.example.com", "t")

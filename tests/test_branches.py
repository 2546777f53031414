"""History per branch and environment: a pull request's runs are judged against the default
branch's baseline without touching its history; only watched branches are analysed and alert;
branches merge and are archived; every read filters by branch and environment."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from evaluations.models import Branch, EvaluationRun, Finding, Series
from evaluations.services import projects
from tests.histories import START, add_rule, pin_baseline

MODEL_API = "/api/v1/models/fraud-detector"


def body(version, accuracy, branch="", n=10000, **extra):
    return {
        "model": "fraud-detector", "version": version, "branch": branch,
        "dataset": {"name": "holdout", "version": "v1"},
        "metrics": [{"name": "accuracy", "value": accuracy, "n": n}], **extra,
    }  # fmt: skip


@pytest.fixture
def main_line(post_run, api, django_capture_on_commit_callbacks):
    """Ten versions on main (no branch named), 1.0 pinned with a floor of 0.9."""
    with django_capture_on_commit_callbacks(execute=True):
        for index in range(10):
            at = (START + timedelta(days=index)).isoformat()
            response = post_run(body(f"1.{index}", 0.93, finished_at=at, commit=f"m{index}"))
            assert response.status_code == 201, response.json()
    pin_baseline(api, "1.0", dataset_version="v1")
    add_rule(api, metric="accuracy", min=0.9, max_drop=0.01)


def points(api, **query):
    response = api.get(f"{MODEL_API}/series/", {"metric": "accuracy", **query})
    assert response.status_code == 200, response.json()
    return [point["version"] for point in response.json()["points"]]


def test_a_run_without_a_branch_goes_to_the_default_branch(main_line, api):
    run = EvaluationRun.objects.order_by("pk").first()
    assert (run.branch, run.base_branch) == ("main", "main")
    assert len(points(api)) == 10
    assert points(api) == points(api, branch="main", environment="offline")


def test_a_pull_request_is_judged_against_main_and_kept_off_its_history(main_line, post_run, api):
    worse = post_run(body("pr-7.1", 0.85, branch="feature/x", commit="f1"))

    assert worse.status_code == 201, worse.json()
    gate = worse.json()["gate"]
    assert (gate["status"], gate["base_branch"]) == ("failed", "main")
    checks = {c["rule"]: c for c in gate["checks"]}
    assert checks["max_drop"]["baseline"] == pytest.approx(0.93)  # main's baseline, 1.0
    assert "branch=feature%2Fx" in worse.json()["branch_url"]
    assert "over=main" in worse.json()["branch_url"]
    # Main's history, charts and findings are untouched; the branch has its own series.
    assert "pr-7.1" not in points(api)
    assert points(api, branch="feature/x") == ["pr-7.1"]
    assert not Finding.objects.exists()  # a pull request's breach opens no finding
    branch_series = Series.objects.get(branch__name="feature/x")
    assert not branch_series.watched and not branch_series.dirty


def test_a_breach_on_main_is_a_finding_and_names_its_line(main_line, post_run, api):
    post_run(body("1.10", 0.85))

    finding = api.get("/api/v1/findings/").json()["results"][0]
    assert (finding["kind"], finding["branch"], finding["environment"]) == (
        "threshold", "main", "offline"
    )  # fmt: skip
    assert api.get("/api/v1/findings/", {"branch": "feature/x"}).json()["count"] == 0


def test_base_branch_names_another_baseline(main_line, post_run, api):
    assert post_run(body("2.0", 0.80, branch="release/2")).status_code == 201
    pin_baseline(api, "2.0", branch="release/2", dataset_version="v1")

    fix = post_run(body("2.0.1-rc", 0.795, branch="fix/y", base_branch="release/2"))

    gate = fix.json()["gate"]
    assert gate["base_branch"] == "release/2"
    by_rule = {c["rule"]: c for c in gate["checks"]}
    assert by_rule["max_drop"]["baseline"] == pytest.approx(0.80)  # release/2's, not main's
    assert by_rule["max_drop"]["status"] == "passed"


def drifting(count=40, seed=3):
    rng = np.random.default_rng(seed)
    return 0.93 - 0.001 * np.maximum(0, np.arange(count) - 20) + rng.normal(0, 0.0005, count)


@pytest.mark.parametrize(("branch", "watched"), [("release/3", True), ("feature/long", False)])
def test_only_watched_branches_are_analysed(
    post_run, api, django_capture_on_commit_callbacks, branch, watched
):
    with django_capture_on_commit_callbacks(execute=True):
        for index, value in enumerate(drifting()):
            at = (START + timedelta(days=index)).isoformat()
            post_run(body(f"3.{index}", float(value), branch=branch, finished_at=at))

    series = Series.objects.get(branch__name=branch)
    assert series.watched is watched
    assert (series.analysed_at is not None) is watched
    kinds = set(Finding.objects.filter(series=series).values_list("kind", flat=True))
    assert ("drift" in kinds or "step" in kinds) is watched


def test_marking_a_branch_long_lived_analyses_it(post_run, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for index, value in enumerate(drifting()):
            at = (START + timedelta(days=index)).isoformat()
            post_run(body(f"3.{index}", float(value), branch="feature/long", finished_at=at))
    assert not Finding.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"{MODEL_API}/branches/feature/long/", {"long_lived": True}, format="json"
        )

    assert response.status_code == 200, response.json()
    assert response.json()["long_lived"] and response.json()["watched"]
    assert Finding.objects.filter(series__branch__name="feature/long").exists()


def test_a_run_on_main_with_a_branch_commit_shows_the_branch_merged(main_line, post_run, api):
    post_run(body("pr-9.1", 0.94, branch="feature/m", commit="abc123"))
    post_run(body("pr-10.1", 0.94, branch="feature/open", commit="def456"))
    before = {b["name"]: b for b in api.get(f"{MODEL_API}/branches/").json()}
    assert before["feature/m"]["merged_at"] is None

    post_run(body("1.10", 0.94, commit="abc123"))

    after = {b["name"]: b for b in api.get(f"{MODEL_API}/branches/").json()}
    assert after["feature/m"]["merged_at"] is not None
    assert "abc123" in after["feature/m"]["merged_by"]
    assert after["feature/open"]["merged_at"] is None
    assert next(iter(after)) == "main" and after["main"]["default"]
    assert after["feature/m"]["head_version"] == "pr-9.1"
    assert after["feature/m"]["verdict"] == "passed"
    assert points(api, branch="feature/m") == ["pr-9.1"]  # its history stays readable


def test_merging_a_branch_by_hand(main_line, post_run, api):
    post_run(body("pr-9.1", 0.94, branch="feature/m"))

    merged = api.post(f"{MODEL_API}/branches/feature/m/merge/")
    again = api.post(f"{MODEL_API}/branches/feature/m/merge/")
    default = api.post(f"{MODEL_API}/branches/main/merge/")
    unknown = api.post(f"{MODEL_API}/branches/nope/merge/")

    assert merged.status_code == 200 and merged.json()["merged_at"]
    assert again.json()["merged_at"] == merged.json()["merged_at"]
    assert default.status_code == 400 and "default branch" in default.json()["branch"][0]
    assert unknown.status_code == 404


def test_branches_without_runs_for_a_while_are_archived_not_deleted(main_line, post_run, api):
    old = (timezone.now() - timedelta(days=45)).isoformat()
    post_run(body("pr-1.1", 0.94, branch="feature/old", finished_at=old))
    post_run(body("pr-2.1", 0.94, branch="feature/new"))

    listed = [b["name"] for b in api.get(f"{MODEL_API}/branches/").json()]
    everything = api.get(f"{MODEL_API}/branches/", {"archived": "true"}).json()

    assert "feature/old" not in listed and "feature/new" in listed
    assert {b["name"]: b["archived"] for b in everything}["feature/old"] is True
    assert points(api, branch="feature/old") == ["pr-1.1"]
    assert Branch.objects.filter(name="feature/old").exists()


def test_environments_are_separate_series(main_line, post_run, api):
    post_run(body("1.9", 0.70, environment="canary"))

    assert len(points(api)) == 10
    assert points(api, environment="canary") == ["1.9"]
    assert api.get("/api/v1/runs/", {"environment": "canary"}).json()["count"] == 1
    compared = api.get(
        f"{MODEL_API}/compare/", {"a": "1.8", "b": "1.9", "dataset": "holdout"}
    ).json()
    assert compared["b"]["environment"] == "offline"  # offline unless asked


def test_compare_a_branch_head_with_main_by_name(main_line, post_run, api):
    post_run(body("pr-5.1", 0.90, branch="feature-x"))
    post_run(body("pr-5.2", 0.95, branch="feature-x"))

    response = api.get(
        f"{MODEL_API}/compare/", {"a": "main", "b": "feature-x", "dataset": "holdout"}
    )

    assert response.status_code == 200, response.json()
    body_ = response.json()
    assert (body_["a"]["version"], body_["a"]["branch"]) == ("1.9", "main")
    assert (body_["b"]["version"], body_["b"]["branch"]) == ("pr-5.2", "feature-x")
    assert body_["metrics"][0]["change"] == "better"


def test_project_settings_change_the_default_branch_and_need_an_admin_token(project, api, post_run):
    ingest = projects.create_token(project=project, scope="ingest")[1]
    from tests.conftest import client_for

    refused = client_for(ingest).patch(
        "/api/v1/project/", {"default_branch": "trunk"}, format="json"
    )
    changed = api.patch(
        "/api/v1/project/",
        {"default_branch": "trunk", "long_lived_branches": ["stable-*"]},
        format="json",
    )
    post_run(body("1.0", 0.9))

    assert refused.status_code == 403
    assert changed.status_code == 200, changed.json()
    assert changed.json()["default_branch"] == "trunk"
    assert EvaluationRun.objects.get().branch == "trunk"
    assert (
        api.patch("/api/v1/project/", {"archive_branches_after_days": 0}, format="json").status_code
        == 400
    )


@pytest.mark.parametrize(
    "query",
    [{"environment": "staging"}, {"branch": "x" * 201}, {"branch": "a\x00b"}],
)
def test_bad_line_filters_are_refused_by_name(main_line, api, query):
    for path in ("/api/v1/runs/", f"{MODEL_API}/series/?metric=accuracy"):
        response = api.get(path, query)
        assert response.status_code == 400, (path, response.content)
        assert set(query) <= set(response.json()), response.json()


@pytest.mark.parametrize("name", ["a%00b", "%ED%A0%80", "x" * 300])
def test_absurd_branch_names_in_paths_answer_404(main_line, api, name):
    for method, path in (
        ("get", f"{MODEL_API}/branches/{name}/"),
        ("patch", f"{MODEL_API}/branches/{name}/"),
        ("post", f"{MODEL_API}/branches/{name}/merge/"),
    ):
        response = getattr(api, method)(path, {"long_lived": True}, format="json")
        assert response.status_code == 404, (method, path, response.content)


def test_the_overview_shows_the_main_line_not_a_newer_pull_request(main_line, post_run, member):
    post_run(body("pr-3.1", 0.5, branch="feature/bad"))

    page = member.get("/projects/acme/").content.decode()

    assert "1.9" in page and "pr-3.1" not in page


def test_a_run_page_names_its_branch_and_what_judged_it(main_line, post_run, member):
    run_id = post_run(body("pr-4.1", 0.93, branch="feature/ok")).json()["id"]

    page = member.get(f"/runs/{run_id}/").content.decode()

    assert "judged against main's baseline" in page
    assert "branch=feature%2Fok" in page and "over=main" in page

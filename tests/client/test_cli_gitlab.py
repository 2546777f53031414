"""``post --gitlab-comment`` and ``--gitlab-status`` against a local stand-in for GitLab's API
v4: one note per merge request (and model and dataset) that is edited on every post, a commit
status from the verdict, and nothing GitLab does, or fails to do, changes the exit code."""

import pytest

from evaluations.models import EvaluationRun
from evaluations.services import projects
from tests.client.conftest import Canned, check, run_answer
from tests.client.fake_gitlab import FakeGitLab
from tests.client.test_cli_offline import BASELINE_FILE
from trackerclient import cli

SOURCE_SHA = "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c"
MERGE_SHA = "9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e"
NOTES = "/api/v4/projects/4242/merge_requests/12/notes"
STATUSES = "/api/v4/projects/4242/statuses"
LISTING = f"{NOTES}?sort=asc&order_by=created_at&per_page=100"
MARKER = "<!-- trackerclient gate: fraud-detector on holdout -->"


@pytest.fixture
def gitlab():
    fake = FakeGitLab("4242", token="glpat-secret")
    yield fake
    fake.close()


@pytest.fixture
def ci_env(monkeypatch, gitlab):
    """What GitLab CI sets in a merged results pipeline (and the project's masked token)."""
    for name in ("TRACKER_URL", "TRACKER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    environment = {
        "GITLAB_TOKEN": "glpat-secret",
        "CI_API_V4_URL": gitlab.api_url,
        "CI_PROJECT_ID": "4242",
        "CI_PROJECT_URL": "https://gitlab.test/acme/models",
        "CI_MERGE_REQUEST_IID": "12",
        "CI_COMMIT_SHA": MERGE_SHA,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": SOURCE_SHA,
        "CI_JOB_TOKEN": "job-token-that-cannot-write-notes",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def results(write_json, run_body):
    return write_json("results.json", run_body)


@pytest.fixture
def tracker(fake_tracker, run_body):
    """A tracker whose gate passes; ``tracker.script`` may be changed between posts."""
    return fake_tracker(Canned(201, run_answer(run_body, "passed", [check("accuracy", "passed")])))


def post(tracker, results, *extra):
    argv = ["post", results, "--url", tracker.url, "--token", "t", "--backoff", "0.01"]
    return cli.main([*argv, *extra])


def gated(fake_tracker, write_json, run_body, gate):
    tracker = fake_tracker(Canned(201, run_answer(run_body, gate, [check("accuracy", gate)])))
    return tracker, write_json("results.json", run_body)


def test_the_first_post_adds_a_note_and_the_next_edits_that_note(
    ci_env, gitlab, tracker, results, run_body, capsys
):
    assert post(tracker, results, "--gitlab-comment") == 0
    tracker.script = [Canned(201, run_answer(run_body, "failed", [check("accuracy", "failed")]))]
    assert post(tracker, results, "--gitlab-comment") == 1

    assert gitlab.calls() == [f"GET {NOTES}", f"POST {NOTES}", f"GET {NOTES}", f"PUT {NOTES}/1000"]
    (note,) = gitlab.notes[12]
    assert note["body"].startswith(MARKER + "\n### Model gate: FAILED")
    assert "[View the run](http://tracker.test/runs/7/)" in note["body"]
    err = capsys.readouterr().err
    assert (
        "Commented on merge request !12: "
        "https://gitlab.test/acme/models/-/merge_requests/12#note_1000" in err
    )
    assert "Updated the note on merge request !12" in err


def test_gitlab_is_called_with_the_token_as_private_token_only(ci_env, gitlab, tracker, results):
    post(tracker, results, "--gitlab-comment", "--gitlab-status")

    assert gitlab.calls("POST") == [f"POST {NOTES}", f"POST {STATUSES}/{SOURCE_SHA}"]
    for request in gitlab.requests:
        assert request.headers["private-token"] == "glpat-secret"
        assert "authorization" not in request.headers


@pytest.mark.parametrize("paging", ["both", "x-next-page", "link"])
def test_the_note_is_found_on_a_later_page_of_a_long_discussion(
    ci_env, gitlab, tracker, results, paging
):
    gitlab.paging = paging
    for n in range(230):
        gitlab.add_note(12, f"review remark {n}", system=n % 10 == 0)
    own = gitlab.add_note(12, f"{MARKER}\n### Model gate: PASSED (an older post)")
    gitlab.add_note(12, "a later remark")

    assert post(tracker, results, "--gitlab-comment") == 0

    listed = [r.path for r in gitlab.requests if r.method == "GET"]
    assert listed == [LISTING, f"{LISTING}&page=2", f"{LISTING}&page=3"]
    assert gitlab.calls("POST", "PUT") == [f"PUT {NOTES}/{own['id']}"]
    assert len(gitlab.notes[12]) == 232
    assert "an older post" not in own["body"]


def test_another_model_s_note_is_left_alone(ci_env, gitlab, tracker, results):
    other = gitlab.add_note(12, "<!-- trackerclient gate: ranker on holdout -->\nranker's gate")

    post(tracker, results, "--gitlab-comment")

    assert gitlab.calls("POST", "PUT") == [f"POST {NOTES}"]
    assert other["body"].endswith("ranker's gate")
    assert len(gitlab.notes[12]) == 2


def test_a_project_named_by_its_path_is_url_encoded(ci_env, tracker, results, monkeypatch):
    gitlab = FakeGitLab("acme/models")
    monkeypatch.setenv("CI_API_V4_URL", gitlab.api_url)
    monkeypatch.setenv("CI_PROJECT_ID", "acme/models")
    try:
        post(tracker, results, "--gitlab-comment")
    finally:
        gitlab.close()

    assert gitlab.calls("POST") == ["POST /api/v4/projects/acme%2Fmodels/merge_requests/12/notes"]


@pytest.mark.parametrize("gate, state", [("passed", "success"), ("failed", "failed")])
def test_the_status_is_set_on_the_source_branch_head_from_the_verdict(
    ci_env, gitlab, fake_tracker, write_json, run_body, gate, state
):
    tracker, results = gated(fake_tracker, write_json, run_body, gate)

    code = post(tracker, results, "--gitlab-status")

    assert code == {"passed": 0, "failed": 1}[gate]
    ((sha, status),) = gitlab.statuses
    assert sha == SOURCE_SHA
    assert status["state"] == state
    assert status["name"] == "model-metrics/fraud-detector"
    assert status["target_url"] == "http://tracker.test/runs/7/"
    assert status["description"].startswith(gate.upper())
    assert gitlab.notes == {}


def test_outside_a_merged_results_pipeline_the_status_goes_on_ci_commit_sha_under_the_given_name(
    ci_env, gitlab, tracker, results, monkeypatch
):
    monkeypatch.delenv("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")

    post(tracker, results, "--gitlab-status", "--gitlab-status-name", "model-metrics")

    ((sha, status),) = gitlab.statuses
    assert (sha, status["name"]) == (MERGE_SHA, "model-metrics")


@pytest.mark.parametrize(
    "failure, expected",
    [
        ((500, {"message": "500 Internal Server Error"}), "answered HTTP 500 Internal Server"),
        (
            (403, {"message": "403 Forbidden"}),
            "GitLab refused the GET: HTTP 403 Forbidden (403 Forbidden); check the project and "
            "merge request, and that GITLAB_TOKEN is a project or personal access token with "
            "the api scope",
        ),
    ],
)
@pytest.mark.parametrize("gate, code", [("passed", 0), ("failed", 1)])
def test_gitlab_failing_is_a_warning_and_the_exit_code_stays_the_gate_s(
    ci_env, gitlab, fake_tracker, write_json, run_body, capsys, failure, expected, gate, code
):
    gitlab.failure = failure
    tracker, results = gated(fake_tracker, write_json, run_body, gate)

    assert post(tracker, results, "--gitlab-comment", "--gitlab-status") == code

    err = capsys.readouterr().err
    note, status = (line for line in err.splitlines() if line.startswith("warning:"))
    assert note.startswith("warning: could not comment on the merge request: ")
    assert expected in note
    assert status.startswith("warning: could not set the commit status: ")


def test_a_token_gitlab_does_not_know_is_named_in_the_warning(
    ci_env, gitlab, tracker, results, capsys, monkeypatch
):
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-revoked")

    assert post(tracker, results, "--gitlab-comment") == 0

    assert (
        "warning: could not comment on the merge request: GitLab refused the GET: HTTP 401 "
        "Unauthorized (401 Unauthorized); check the project" in capsys.readouterr().err
    )


def test_an_unreachable_gitlab_is_a_warning(
    ci_env, tracker, results, free_port, capsys, monkeypatch
):
    monkeypatch.setenv("CI_API_V4_URL", f"http://127.0.0.1:{free_port}/api/v4")

    code = post(tracker, results, "--gitlab-comment", "--gitlab-status", "--retries", "0")

    assert code == 0
    err = capsys.readouterr().err
    assert "warning: could not comment on the merge request: cannot reach" in err
    assert "warning: could not set the commit status: cannot reach" in err
    assert "Connection refused" in err


@pytest.mark.parametrize(
    "missing, message",
    [
        (
            "GITLAB_TOKEN",
            "warning: nothing sent to GitLab: GITLAB_TOKEN is not set (a project or personal "
            "access token with the api scope, as a masked CI/CD variable; the job's CI_JOB_TOKEN "
            "cannot write notes or statuses)",
        ),
        ("CI_PROJECT_ID", "warning: nothing sent to GitLab: CI_PROJECT_ID is not set"),
        (
            "CI_MERGE_REQUEST_IID",
            "warning: could not comment on the merge request: no merge request: "
            "CI_MERGE_REQUEST_IID is not set",
        ),
    ],
)
def test_missing_settings_are_named_in_a_warning(
    ci_env, gitlab, fake_tracker, write_json, run_body, capsys, monkeypatch, missing, message
):
    monkeypatch.delenv(missing)
    tracker, results = gated(fake_tracker, write_json, run_body, "failed")

    assert post(tracker, results, "--gitlab-comment") == 1

    assert message in capsys.readouterr().err
    assert gitlab.requests == []


def test_mr_names_the_merge_request_outside_its_pipeline(
    ci_env, gitlab, tracker, results, monkeypatch
):
    monkeypatch.delenv("CI_MERGE_REQUEST_IID")

    post(tracker, results, "--gitlab-comment", "--mr", "31")

    assert list(gitlab.notes) == [31]


def test_a_merge_request_iid_must_be_a_number(ci_env, tracker, results, capsys):
    assert post(tracker, results, "--gitlab-comment", "--mr", "!12") == 2
    assert "--mr: must be a merge request's IID, not '!12'" in capsys.readouterr().err


def test_without_the_options_gitlab_is_not_called(ci_env, gitlab, tracker, results):
    post(tracker, results)

    assert gitlab.requests == []


def test_an_offline_gate_is_noted_too(ci_env, gitlab, write_json, results):
    baseline = write_json("baselines.json", BASELINE_FILE)

    code = cli.main(["post", results, "--baseline-file", baseline, "--gitlab-comment"])

    assert code == 0
    (note,) = gitlab.notes[12]
    assert "Offline: against baseline 1.3.0" in note["body"]


@pytest.mark.django_db(transaction=True)
def test_a_post_to_the_real_tracker_notes_its_run_page(ci_env, gitlab, live_server, results):
    project, _ = projects.ensure_project(name="acme")
    secret = projects.create_token(project=project)[1]
    argv = ["post", results, "--url", live_server.url, "--token", secret]

    assert cli.main([*argv, "--gitlab-comment", "--gitlab-status"]) == 0

    (note,) = gitlab.notes[12]
    ((_, status),) = gitlab.statuses
    assert note["body"].startswith(MARKER + "\n### Model gate: NO BASELINE")
    assert status["target_url"].endswith(f"/runs/{EvaluationRun.objects.get().pk}/")
    assert status["target_url"] in note["body"]
    assert status["state"] == "success"

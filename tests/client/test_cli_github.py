"""``post --github-comment`` and ``--github-status`` against a local stand-in for GitHub's API:
one comment per pull request (and model and dataset) that is edited on every post, a commit
status from the verdict, and nothing GitHub does, or fails to do, changes the exit code."""

import json

import pytest

from evaluations.models import EvaluationRun
from evaluations.services import projects
from tests.client.conftest import Canned, check, run_answer
from tests.client.fake_github import FakeGitHub
from tests.client.test_cli_offline import BASELINE_FILE
from trackerclient import cli

HEAD_SHA = "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c"
MERGE_SHA = "9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e"
COMMENTS = "/repos/acme/models/issues/12/comments"
MARKER = "<!-- trackerclient gate: fraud-detector on holdout -->"


@pytest.fixture
def github():
    fake = FakeGitHub("acme/models")
    yield fake
    fake.close()


@pytest.fixture
def actions_env(monkeypatch, github, tmp_path):
    """What GitHub Actions sets for a pull request's workflow (and the step gives the token)."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12, "head": {"sha": HEAD_SHA}}}))
    for name in ("TRACKER_URL", "TRACKER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    environment = {
        "GITHUB_TOKEN": "ghs_secret",
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_API_URL": github.url,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": MERGE_SHA,
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


def failing(run_body):
    return Canned(201, run_answer(run_body, "failed", [check("accuracy", "failed")]))


def test_the_first_post_comments_and_the_next_edits_that_comment(
    actions_env, github, tracker, results, run_body, capsys
):
    assert post(tracker, results, "--github-comment") == 0
    tracker.script = [failing(run_body)]
    assert post(tracker, results, "--github-comment") == 1

    assert github.calls() == [
        f"GET {COMMENTS}",
        f"POST {COMMENTS}",
        f"GET {COMMENTS}",
        "PATCH /repos/acme/models/issues/comments/1000",
    ]
    (comment,) = github.comments[12]
    assert comment["body"].startswith(MARKER + "\n### Model gate: FAILED")
    assert "[View the run](http://tracker.test/runs/7/)" in comment["body"]
    err = capsys.readouterr().err
    assert "Commented on pull request #12: https://github.test/pull/12#issuecomment-1000" in err
    assert "Updated the comment on pull request #12" in err


def test_github_is_called_with_the_token_as_bearer_and_its_api_version(
    actions_env, github, tracker, results
):
    post(tracker, results, "--github-comment")

    for request in github.requests:
        assert request.headers["authorization"] == "Bearer ghs_secret"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


def test_the_comment_is_found_on_a_later_page_of_a_long_discussion(
    actions_env, github, tracker, results
):
    for n in range(230):
        github.add_comment(12, f"review comment {n}")
    own = github.add_comment(12, f"{MARKER}\n### Model gate: PASSED (an older post)")
    github.add_comment(12, "a later remark")

    assert post(tracker, results, "--github-comment") == 0

    listed = [r.path for r in github.requests if r.method == "GET"]
    assert listed == [
        f"{COMMENTS}?per_page=100",
        f"{COMMENTS}?per_page=100&page=2",
        f"{COMMENTS}?per_page=100&page=3",
    ]
    assert github.calls("POST", "PATCH") == [
        f"PATCH /repos/acme/models/issues/comments/{own['id']}"
    ]
    assert len(github.comments[12]) == 232
    assert "an older post" not in own["body"]


def test_another_model_s_comment_is_left_alone(actions_env, github, tracker, results):
    other = github.add_comment(12, "<!-- trackerclient gate: ranker on holdout -->\nranker's gate")

    post(tracker, results, "--github-comment")

    assert github.calls("POST", "PATCH") == [f"POST {COMMENTS}"]
    assert other["body"].endswith("ranker's gate")


def test_a_next_page_on_another_server_is_not_followed_with_the_token(
    actions_env, github, tracker, results, capsys, monkeypatch
):
    github.add_comment(12, "first")
    monkeypatch.setattr("trackerclient.github.PER_PAGE", 1)
    github.add_comment(12, "second")
    monkeypatch.setenv("GITHUB_API_URL", github.url.replace("127.0.0.1", "localhost"))

    code = post(tracker, results, "--github-comment")

    assert code == 0
    assert len(github.requests) == 1
    assert "GitHub's next page is on another server" in capsys.readouterr().err


@pytest.mark.parametrize("gate, state", [("passed", "success"), ("failed", "failure")])
def test_the_status_is_set_on_the_pull_request_s_head_from_the_verdict(
    actions_env, github, fake_tracker, write_json, run_body, gate, state
):
    tracker = fake_tracker(Canned(201, run_answer(run_body, gate, [check("accuracy", gate)])))
    results = write_json("results.json", run_body)

    code = post(tracker, results, "--github-status")

    assert code == {"passed": 0, "failed": 1}[gate]
    ((sha, status),) = github.statuses
    assert sha == HEAD_SHA
    assert status["state"] == state
    assert status["context"] == "model-metrics/fraud-detector"
    assert status["target_url"] == "http://tracker.test/runs/7/"
    assert status["description"].startswith(gate.upper())
    assert len(status["description"]) <= 140
    assert github.comments == {}


def test_outside_a_pull_request_the_status_goes_on_github_sha_under_the_given_name(
    actions_env, github, tracker, results, tmp_path, monkeypatch
):
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "after": MERGE_SHA}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(push))

    post(tracker, results, "--github-status", "--github-context", "model-metrics")

    ((sha, status),) = github.statuses
    assert (sha, status["context"]) == (MERGE_SHA, "model-metrics")


@pytest.mark.parametrize(
    "failure, expected",
    [
        ((500, {"message": "Server Error"}), "answered HTTP 500 Internal Server Error"),
        (
            (403, {"message": "Resource not accessible by integration"}),
            "GitHub refused the GET: HTTP 403 Forbidden (Resource not accessible by "
            "integration); check the repository and pull request, and that the job's "
            "GITHUB_TOKEN has the permissions pull-requests: write",
        ),
    ],
)
@pytest.mark.parametrize("gate, code", [("passed", 0), ("failed", 1)])
def test_github_failing_is_a_warning_and_the_exit_code_stays_the_gate_s(
    actions_env, github, fake_tracker, write_json, run_body, capsys, failure, expected, gate, code
):
    github.failure = failure
    tracker = fake_tracker(Canned(201, run_answer(run_body, gate, [check("accuracy", gate)])))
    results = write_json("results.json", run_body)

    assert post(tracker, results, "--github-comment", "--github-status") == code

    err = capsys.readouterr().err
    comment, status = (line for line in err.splitlines() if line.startswith("warning:"))
    assert comment.startswith("warning: could not comment on the pull request: ")
    assert expected in comment
    assert status.startswith("warning: could not set the commit status: ")


def test_an_unreachable_github_is_a_warning(
    actions_env, tracker, results, free_port, capsys, monkeypatch
):
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{free_port}")

    code = post(tracker, results, "--github-comment", "--retries", "0")

    assert code == 0
    err = capsys.readouterr().err
    assert "warning: could not comment on the pull request: cannot reach" in err
    assert "Connection refused" in err


@pytest.mark.parametrize(
    "missing, message",
    [
        ("GITHUB_TOKEN", "warning: nothing sent to GitHub: GITHUB_TOKEN is not set"),
        ("GITHUB_REPOSITORY", "warning: nothing sent to GitHub: GITHUB_REPOSITORY must be"),
        (
            "GITHUB_EVENT_PATH",
            "warning: could not comment on the pull request: no pull request: the workflow's "
            "event (GITHUB_EVENT_PATH) is not a pull request's, and --pr is not given",
        ),
    ],
)
def test_missing_settings_are_named_in_a_warning(
    actions_env, github, fake_tracker, write_json, run_body, capsys, monkeypatch, missing, message
):
    monkeypatch.delenv(missing)
    tracker = fake_tracker(failing(run_body))
    results = write_json("results.json", run_body)

    assert post(tracker, results, "--github-comment") == 1

    assert message in capsys.readouterr().err
    assert github.requests == []


def test_pr_names_the_pull_request_outside_its_event(
    actions_env, github, tracker, results, monkeypatch
):
    monkeypatch.delenv("GITHUB_EVENT_PATH")

    post(tracker, results, "--github-comment", "--pr", "31")

    assert list(github.comments) == [31]


def test_a_pull_request_number_must_be_a_number(actions_env, tracker, results, capsys):
    assert post(tracker, results, "--github-comment", "--pr", "abc") == 2
    assert "--pr: must be a pull request's number, not 'abc'" in capsys.readouterr().err


def test_without_the_options_github_is_not_called(actions_env, github, tracker, results):
    post(tracker, results)

    assert github.requests == []


def test_an_offline_gate_is_commented_too(
    actions_env, github, write_json, run_body, results, capsys
):
    baseline = write_json("baselines.json", BASELINE_FILE)

    code = cli.main(["post", results, "--baseline-file", baseline, "--github-comment"])

    assert code == 0
    (comment,) = github.comments[12]
    assert "Offline: against baseline 1.3.0" in comment["body"]


@pytest.mark.django_db(transaction=True)
def test_a_post_to_the_real_tracker_comments_its_run_page(
    actions_env, github, live_server, results, run_body
):
    project, _ = projects.ensure_project(name="acme")
    secret = projects.create_token(project=project)[1]
    argv = ["post", results, "--url", live_server.url, "--token", secret]

    assert cli.main([*argv, "--github-comment", "--github-status"]) == 0

    (comment,) = github.comments[12]
    ((_, status),) = github.statuses
    assert comment["body"].startswith(MARKER + "\n### Model gate: NO BASELINE")
    assert status["target_url"].endswith(f"/runs/{EvaluationRun.objects.get().pk}/")
    assert status["target_url"] in comment["body"]
    assert status["state"] == "success"

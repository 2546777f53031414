"""Exit codes of ``python -m trackerclient post``: 0 passed or no baseline, 1 failed, 2 when
nothing could be judged (usage, bad file, tracker unreachable, request refused)."""

import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from evaluations.models import EvaluationRun, Project
from evaluations.services import projects
from tests.client.conftest import Canned, check, run_answer
from tests.conftest import ROOT, client_for
from trackerclient import cli


@pytest.fixture
def results(write_json, run_body):
    return write_json("results.json", run_body)


@pytest.fixture
def no_tracker_env(monkeypatch):
    monkeypatch.delenv("TRACKER_URL", raising=False)
    monkeypatch.delenv("TRACKER_TOKEN", raising=False)


def acme_token():
    project, _ = projects.ensure_project(name="acme")
    return projects.create_token(project=project, scope="admin")[1]


@pytest.mark.django_db(transaction=True)
def test_first_post_to_the_real_tracker_has_no_baseline_and_exits_0(live_server, results, capsys):
    code = cli.main(["post", results, "--url", live_server.url, "--token", acme_token()])

    out = capsys.readouterr().out
    run = EvaluationRun.objects.get()
    assert code == 0
    assert "Gate NO BASELINE for fraud-detector 1.4.0 on holdout@2024-06" in out
    assert f"/runs/{run.pk}/" in out


@pytest.mark.django_db(transaction=True)
def test_a_regression_posted_to_the_real_tracker_exits_1(live_server, write_json, run_body, capsys):
    secret = acme_token()
    api = client_for(secret)
    released = {**run_body, "version": "1.3.0", "external_id": None}
    assert api.post("/api/v1/runs/", released, format="json").status_code == 201
    pinned = api.put(
        "/api/v1/models/fraud-detector/baseline/",
        {"dataset": "holdout", "version": "1.3.0"},
        format="json",
    )
    rule = api.post(
        "/api/v1/models/fraud-detector/thresholds/",
        {"metric": "accuracy", "max_drop": 0.005},
        format="json",
    )
    assert (pinned.status_code, rule.status_code) == (200, 201)
    run_body["metrics"][0]["value"] = 0.915
    results = write_json("results.json", run_body)

    code = cli.main(["post", results, "--url", live_server.url, "--token", secret])

    out = capsys.readouterr().out
    assert code == 1
    assert "accuracy 0.915 < baseline 0.931 - 0.005 on holdout" in out
    assert "Gate FAILED for fraud-detector 1.4.0 on holdout@2024-06" in out


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_on_the_real_tracker_stores_nothing(live_server, results, capsys):
    argv = ["post", results, "--url", live_server.url, "--token", acme_token(), "--dry-run"]

    code = cli.main(argv)

    assert code == 0
    assert "Dry run: nothing stored." in capsys.readouterr().out
    assert EvaluationRun.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_body_without_external_id_is_stored_under_a_generated_one(
    live_server, write_json, run_body
):
    del run_body["external_id"]
    results = write_json("results.json", run_body)

    code = cli.main(["post", results, "--url", live_server.url, "--token", acme_token()])

    assert code == 0
    assert EvaluationRun.objects.get().external_id.startswith("trackerclient-")


@pytest.mark.django_db(transaction=True)
def test_the_entry_point_runs_as_a_process_with_the_standard_library_alone(live_server, results):
    env = {"TRACKER_URL": live_server.url, "TRACKER_TOKEN": acme_token(), "PATH": ""}

    # -S: no site-packages, so any import beyond the standard library would fail.
    done = subprocess.run(
        [sys.executable, "-S", "-m", "trackerclient", "post", results],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "Gate NO BASELINE" in done.stdout
    assert EvaluationRun.objects.count() == 1


def test_a_passing_gate_exits_0(fake_tracker, run_body, results, capsys):
    tracker = fake_tracker(Canned(201, run_answer(run_body, "passed", [check("f1", "passed")])))

    code = cli.main(["post", results, "--url", tracker.url, "--token", "t"])

    assert code == 0
    assert "Gate PASSED" in capsys.readouterr().out


def test_a_failing_gate_exits_1(fake_tracker, run_body, results, capsys):
    checks = [check("accuracy", "failed"), check("f1", "passed")]
    tracker = fake_tracker(Canned(201, run_answer(run_body, "failed", checks)))

    code = cli.main(["post", results, "--url", tracker.url, "--token", "t"])

    assert code == 1
    assert "Gate FAILED" in capsys.readouterr().out


def test_url_and_token_come_from_the_environment(fake_tracker, run_body, results, monkeypatch):
    tracker = fake_tracker(Canned(201, run_answer(run_body)))
    monkeypatch.setenv("TRACKER_URL", tracker.url + "/")
    monkeypatch.setenv("TRACKER_TOKEN", "s3cret")

    code = cli.main(["post", results])

    assert code == 0
    [request] = tracker.requests
    assert request.path == "/api/v1/runs/"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == run_body


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["post", "{results}"], "--url (or TRACKER_URL) is required"),
        (["post", "{results}", "--url", "http://127.0.0.1:1"], "--token (or TRACKER_TOKEN)"),
        (["post", "{results}", "--url", "ftp://x", "--token", "t"], "--url must be an http"),
        (["post"], "the following arguments are required: results.json"),
        ([], "the following arguments are required: command"),
        (["post", "{results}", "--retries", "-1"], "--retries: must be a whole number"),
        (["post", "{results}", "--timeout", "0"], "--timeout: must be more than 0"),
        (["post", "{results}", "--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_usage_errors_exit_2(argv, complaint, results, no_tracker_env, capsys):
    code = cli.main([arg.format(results=results) for arg in argv])

    assert code == 2
    assert complaint in capsys.readouterr().err


def test_help_exits_0_and_names_the_exit_codes(capsys):
    code = cli.main(["post", "--help"])

    out = capsys.readouterr().out
    assert code == 0
    assert "--baseline-file FILE" in out
    assert "1  the gate failed" in out


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('{"model": "m",', "results.json: not valid JSON: Expecting"),
        ('{"metrics": {"accuracy": NaN}}', "results.json: NaN is not a number JSON allows"),
        ('{"metrics": {"accuracy": 1e999}}', "results.json: 1e999 is too large for a number"),
        ("[1, 2]", "results.json: must hold a JSON object, not a list"),
    ],
)
def test_invalid_results_file_exits_2(content, complaint, write_json, capsys):
    results = write_json("results.json", content)

    code = cli.main(["post", results, "--url", "http://127.0.0.1:1", "--token", "t"])

    assert code == 2
    assert complaint in capsys.readouterr().err


def test_missing_results_file_exits_2(tmp_path, capsys):
    missing = tmp_path / "nowhere.json"

    code = cli.main(["post", str(missing), "--url", "http://127.0.0.1:1", "--token", "t"])

    assert code == 2
    assert f"{missing}: cannot read it (No such file or directory)" in capsys.readouterr().err


def test_connection_refused_exits_2(free_port, results, capsys):
    url = f"http://127.0.0.1:{free_port}"

    code = cli.main(["post", results, "--url", url, "--token", "t", "--retries", "0"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"error: cannot reach {url}: Connection refused (gave up after 1 attempt)" in err


@pytest.mark.django_db(transaction=True)
def test_a_refused_body_exits_2_and_prints_the_field_the_server_names(
    live_server, write_json, run_body, capsys
):
    run_body["metrics"][0]["value"] = "0.93"
    results = write_json("results.json", run_body)

    code = cli.main(["post", results, "--url", live_server.url, "--token", acme_token()])

    err = capsys.readouterr().err
    assert code == 2
    assert "the tracker refused the run: HTTP 400 Bad Request" in err
    assert '"value": [\n        "Must be a number, not a string."' in err
    assert EvaluationRun.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_wrong_token_exits_2(live_server, results, capsys):
    code = cli.main(["post", results, "--url", live_server.url, "--token", "wrong"])

    err = capsys.readouterr().err
    assert code == 2
    assert "HTTP 401" in err
    assert '"detail"' in err


def test_an_answer_without_a_gate_exits_2(fake_tracker, results, capsys):
    tracker = fake_tracker(Canned(201, {"id": 1}))

    code = cli.main(["post", results, "--url", tracker.url, "--token", "t"])

    assert code == 2
    assert "carries no gate verdict" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_a_pull_request_comment_says_what_judged_it_and_links_to_the_branch_view(
    live_server, write_json, run_body, tmp_path, client
):
    secret = acme_token()
    api = client_for(secret)
    released = {**run_body, "version": "1.3.0", "external_id": None}
    assert api.post("/api/v1/runs/", released, format="json").status_code == 201
    assert (
        api.put(
            "/api/v1/models/fraud-detector/baseline/",
            {"dataset": "holdout", "version": "1.3.0"},
            format="json",
        ).status_code
        == 200
    )
    pull_request = {**run_body, "branch": "feature/calibration", "version": "1.4.0-pr12"}
    comment = tmp_path / "comment.md"

    cli.main(["post", write_json("results.json", pull_request), "--url", live_server.url,
              "--token", secret, "--markdown", str(comment)])  # fmt: skip

    text = comment.read_text()
    assert "feature/calibration: judged against main's baseline." in text
    (link,) = re.findall(r"\[The branch's feature/calibration over main\]\(([^)]+)\)", text)
    query = parse_qs(urlsplit(link).query)
    assert (query["branch"], query["over"]) == (["feature/calibration"], ["main"])
    project = Project.objects.get(name="acme")
    client.force_login(projects.ensure_member(project=project, username="ana"))
    page = client.get(urlsplit(link).path, query)
    assert page.status_code == 200
    assert "1.4.0-pr12" in page.content.decode()

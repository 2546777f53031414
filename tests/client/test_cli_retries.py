"""Retries: connection errors, timeouts, 429 and 5xx are tried again with backoff, with the same
external_id so that a retry never stores a second run; other 4xx are final."""

import re

import pytest

from evaluations.models import EvaluationRun
from evaluations.services import projects
from tests.client.conftest import Canned, Forward, run_answer
from trackerclient import cli


@pytest.fixture
def results(write_json, run_body):
    return write_json("results.json", run_body)


def post(url, results, *extra):
    return cli.main(["post", results, "--url", url, "--token", "t", "--backoff", "0.01", *extra])


@pytest.mark.django_db(transaction=True)
def test_a_post_retried_after_a_503_stores_one_run(
    live_server, fake_tracker, write_json, run_body, capsys
):
    project, _ = projects.ensure_project(name="acme")
    secret = projects.create_token(project=project)[1]
    del run_body["external_id"]
    proxy = fake_tracker(Canned(503, {"detail": "down for a moment"}), Forward(live_server.url))
    results = write_json("results.json", run_body)

    code = cli.main(["post", results, "--url", proxy.url, "--token", secret, "--backoff", "0.05"])

    assert code == 0
    first, second = proxy.bodies
    assert first == second
    assert first["external_id"].startswith("trackerclient-")
    run = EvaluationRun.objects.get()
    assert run.external_id == first["external_id"]
    assert "503 Service Unavailable" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_a_503_with_retry_after_is_waited_out_and_the_run_stored_once(
    live_server, fake_tracker, write_json, run_body, capsys
):
    project, _ = projects.ensure_project(name="acme")
    secret = projects.create_token(project=project)[1]
    # What the tracker answers while its database is down.
    unavailable = Canned(
        503,
        {"detail": "The database is unavailable; try again shortly."},
        headers={"Retry-After": "1"},
    )
    proxy = fake_tracker(unavailable, Forward(live_server.url))
    results = write_json("results.json", run_body)

    # A backoff of a minute would time the test out: Retry-After must win.
    code = cli.main(["post", results, "--url", proxy.url, "--token", secret, "--backoff", "60"])

    err = capsys.readouterr().err
    assert code == 0, err
    assert "HTTP 503 Service Unavailable" in err
    assert "The database is unavailable" in err
    assert "retrying in 1 s (attempt 2 of 5)" in err
    assert len(proxy.requests) == 2
    assert EvaluationRun.objects.get().external_id == run_body["external_id"]


@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_lost_answer_gets_the_stored_run(
    live_server, fake_tracker, results, capsys
):
    project, _ = projects.ensure_project(name="acme")
    secret = projects.create_token(project=project)[1]
    # The first post is stored, but its answer comes too late: the client has timed out.
    proxy = fake_tracker(Forward(live_server.url, delay=3), Forward(live_server.url))

    code = cli.main(
        ["post", results, "--url", proxy.url, "--token", secret, "--timeout", "1.5",
         "--backoff", "0.05"]
    )  # fmt: skip

    out, err = capsys.readouterr()
    assert code == 0
    assert "within 1.5 s; retrying" in err
    assert "this post was a replay" in out
    assert EvaluationRun.objects.count() == 1


def test_the_wait_doubles_between_retries(fake_tracker, run_body, results, capsys):
    tracker = fake_tracker(Canned(502), Canned(500), Canned(503), Canned(201, run_answer(run_body)))

    code = post(tracker.url, results)

    waits = re.findall(r"retrying in ([\d.]+) s", capsys.readouterr().err)
    assert code == 0
    assert waits == ["0.01", "0.02", "0.04"]
    assert len(tracker.requests) == 4


def test_429_waits_as_long_as_retry_after_says(fake_tracker, run_body, results, capsys):
    tracker = fake_tracker(
        Canned(429, {"detail": "slow down"}, headers={"Retry-After": "0"}),
        Canned(201, run_answer(run_body)),
    )

    # A backoff of a minute would time the test out: Retry-After must win.
    code = cli.main(["post", results, "--url", tracker.url, "--token", "t", "--backoff", "60"])

    err = capsys.readouterr().err
    assert code == 0
    assert "HTTP 429 Too Many Requests" in err
    assert "retrying in 0 s (attempt 2 of 5)" in err


def test_gives_up_on_5xx_after_the_retries_and_exits_2(fake_tracker, results, capsys):
    tracker = fake_tracker(Canned(503, {"detail": "maintenance"}))

    code = post(tracker.url, results, "--retries", "2")

    err = capsys.readouterr().err
    assert code == 2
    assert len(tracker.requests) == 3
    assert 'HTTP 503 Service Unavailable: {"detail": "maintenance"}' in err
    assert "(gave up after 3 attempts)" in err


def test_connection_errors_are_retried(free_port, results, capsys):
    code = post(f"http://127.0.0.1:{free_port}", results, "--retries", "2")

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("Connection refused; retrying") == 2
    assert "(gave up after 3 attempts)" in err


def test_a_timeout_is_retried(fake_tracker, run_body, results, capsys):
    tracker = fake_tracker(
        Canned(201, run_answer(run_body), delay=2), Canned(201, run_answer(run_body))
    )

    code = post(tracker.url, results, "--timeout", "0.3")

    assert code == 0
    assert "within 0.3 s; retrying" in capsys.readouterr().err
    assert len(tracker.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413])
def test_other_4xx_are_not_retried(status, fake_tracker, results, capsys):
    tracker = fake_tracker(Canned(status, {"external_id": ["stored with another body"]}))

    code = post(tracker.url, results)

    assert code == 2
    assert len(tracker.requests) == 1
    assert '"stored with another body"' in capsys.readouterr().err


def test_a_redirect_is_not_followed(fake_tracker, results, capsys):
    tracker = fake_tracker(Canned(301, headers={"Location": "https://tracker.test/api/v1/runs/"}))

    code = post(tracker.url, results)

    assert code == 2
    assert len(tracker.requests) == 1
    assert "redirected the POST to https://tracker.test/api/v1/runs/" in capsys.readouterr().err


def test_dry_run_asks_the_server_to_store_nothing(fake_tracker, run_body, results, capsys):
    answer = run_answer(run_body)
    del answer["url"]
    tracker = fake_tracker(Canned(200, answer))

    code = post(tracker.url, results, "--dry-run")

    assert code == 0
    assert tracker.requests[0].path == "/api/v1/runs/?dry_run=1"
    assert "Dry run: nothing stored." in capsys.readouterr().out

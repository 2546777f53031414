"""Log lines: with LOG_FORMAT=json each is one JSON object (level, UTC time, logger, message,
request or task id, exception); every request has an id, the caller's X-Request-ID if sane,
on each of its lines and in its answer."""

import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from evaluations.tasks import HEARTBEAT
from tests.conftest import ROOT, database_url_for_processes, wait_until
from trackerapp import logs
from trackerapp.celery import app as celery_app


@pytest.fixture
def json_lines():
    """What the root logger writes, as LOG_FORMAT=json writes it; a function answering the
    lines so far, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.json_formatter())
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.fixture
def dead_broker(monkeypatch):
    """The health check then logs a warning while it answers."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")


def test_a_requests_log_lines_carry_the_callers_request_id(client, db, dead_broker, json_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42:x_1")

    assert response["X-Request-ID"] == "lb-7f3a.42:x_1"
    [line] = [x for x in json_lines() if x["logger"] == "evaluations.views.health"]
    assert line["level"] == "WARNING"
    assert line["message"].startswith("health check: broker unavailable")
    assert line["request_id"] == "lb-7f3a.42:x_1"
    time = datetime.fromisoformat(line["time"])
    assert time.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - time).total_seconds()) < 60


@pytest.mark.parametrize(
    "given", ["", "has space", "new\nline", "x" * 129, "quote\"", "ünïcode"]
)  # fmt: skip
def test_an_absent_or_unsafe_request_id_is_replaced_by_a_new_one(client, db, given):
    headers = {"HTTP_X_REQUEST_ID": given} if given else {}

    response = client.get("/healthz", **headers)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_each_request_gets_its_own_id(client, db):
    first, second = client.get("/healthz"), client.get("/healthz")

    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.urls("tests.urls_with_error")
def test_an_unhandled_error_is_one_line_with_its_traceback_and_request_id(db, json_lines):
    from django.test import Client

    response = Client(raise_request_exception=False).get("/failing/")

    assert response.status_code == 500
    [line] = [x for x in json_lines() if x["logger"] == "django.request"]
    assert line["level"] == "ERROR"
    assert line["request_id"] == response["X-Request-ID"]
    assert "Traceback" in line["exception"]
    assert "DeliberateFailure: a deliberate failure in a view" in line["exception"]
    assert "request" not in line  # the request object, whose path may carry a secret


def test_lines_outside_a_request_have_no_request_id(json_lines):
    logging.getLogger("evaluations.probe").info("between requests")

    [line] = json_lines()
    assert line["request_id"] is None
    assert line["message"] == "between requests"


def test_log_format_json_is_what_settings_configure():
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "trackerapp.settings"}
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('evaluations.probe').warning('hello %s', 'there')"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip

    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello there"
    assert (line["level"], line["logger"]) == ("WARNING", "evaluations.probe")


def test_an_unknown_log_format_refuses_to_start():
    env = {**os.environ, "LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "trackerapp.settings"}

    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode != 0
    assert "LOG_FORMAT must be one of text, json" in done.stderr


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_writes_json_lines_with_the_task_id(tmp_path):
    queue = f"logs-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "LOG_FORMAT": "json", "DATABASE_URL": database_url_for_processes()}
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "trackerapp", "worker", "--pool", "solo",
             "--loglevel", "info", "--queues", queue, "--hostname", f"{queue}@localhost",
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert wait_until(lambda: "ready." in log_path.read_text(), timeout=60)
            task_id = celery_app.tasks[HEARTBEAT].apply_async(queue=queue).id
            assert wait_until(lambda: "succeeded" in log_path.read_text(), timeout=30)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    ready = [x for x in lines if x["message"].endswith("ready.")]
    assert ready and ready[0]["logger"] == "celery.apps.worker"
    done = [x for x in lines if "succeeded" in x["message"]]
    assert done and done[0]["task_id"] == task_id

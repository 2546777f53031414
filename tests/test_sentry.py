"""Sentry: with SENTRY_DSN set, the web and the worker report to it with the Django and Celery
integrations; an unhandled error in a view reaches a (local) Sentry server as an event, without
the request's secrets."""

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sentry_sdk

from tests.conftest import ROOT, wait_until
from trackerapp.sentry import init_sentry


class SentrySink:
    """An HTTP server that takes Sentry's envelopes, as Sentry's ingestion endpoint would."""

    def __init__(self):
        self.envelopes = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.envelopes.append((self.path, body.decode()))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_port}/42"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self):
        """Every event item of the envelopes received, parsed."""
        found = []
        for _, text in self.envelopes:
            lines = text.splitlines()
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sentry():
    sink = SentrySink()
    init_sentry(dsn=sink.dsn, environment="test", release="tracker@1.2.3")
    try:
        yield sink
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: nothing is sent any more
        sink.close()


@pytest.mark.urls("tests.urls_with_error")
def test_an_unhandled_error_in_a_view_is_posted_to_sentry(live_server, sentry):
    response = httpx.get(
        f"{live_server.url}/failing/",
        headers={"Cookie": "sessionid=cookie-secret-1", "Authorization": "Bearer token-secret-2"},
        timeout=30,
    )

    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)
    events = wait_until(sentry.events, timeout=10)
    assert events, sentry.envelopes
    [event] = [e for e in events if e.get("exception")]
    [exception] = event["exception"]["values"]
    assert exception["type"] == "DeliberateFailure"
    assert exception["mechanism"]["type"] == "django"
    assert event["environment"] == "test"
    assert event["release"] == "tracker@1.2.3"
    assert event["request"]["url"].endswith("/failing/")
    assert sentry.envelopes[0][0] == "/api/42/envelope/"
    everything = "".join(text for _, text in sentry.envelopes)
    assert "cookie-secret-1" not in everything
    assert "token-secret-2" not in everything


def test_an_error_handled_by_the_view_is_not_posted(client, db, sentry):
    assert client.get("/projects/no-such-project/").status_code in (302, 404)
    sentry_sdk.flush(timeout=5)

    assert sentry.events() == []


@pytest.mark.parametrize(
    "entry", ["import django; django.setup()", "from trackerapp import celery"]
)
def test_settings_start_sentry_with_the_django_and_celery_integrations(entry):
    """The web (Django set up) and the worker and beat (the Celery app, whose settings the
    worker loads) start Sentry from the same settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "trackerapp.settings",
        "SENTRY_DSN": "http://publickey@127.0.0.1:9/1",
        "SENTRY_ENVIRONMENT": "staging",
        "SENTRY_RELEASE": "tracker@2.0.0",
    }
    script = (
        f"{entry}; from django.conf import settings; settings.DEBUG; import json, sentry_sdk; "
        "client = sentry_sdk.get_client(); "
        "print(json.dumps({'integrations': sorted(client.integrations), "
        "'pii': client.should_send_default_pii(), 'environment': client.options['environment'], "
        "'release': client.options['release']}))"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"django", "celery"} <= set(options["integrations"])
    assert options["pii"] is False
    assert (options["environment"], options["release"]) == ("staging", "tracker@2.0.0")


def test_without_a_dsn_sentry_is_off():
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    env["DJANGO_SETTINGS_MODULE"] = "trackerapp.settings"
    script = "import django; django.setup(); import sentry_sdk; print(sentry_sdk.is_initialized())"

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip

    assert done.stdout.strip().splitlines()[-1] == "False"

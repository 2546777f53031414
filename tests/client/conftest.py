"""Fixtures for the CI client's tests: a scripted stand-in for the tracker (or a proxy in front
of the real one), a free local port, and files written to tmp_path."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from tests.local_server import LocalServer


@dataclass(frozen=True)
class Canned:
    """An answer the fake tracker gives to one POST."""

    status: int
    body: dict | str = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds of silence first, to make the client time out


@dataclass(frozen=True)
class Forward:
    """Pass the POST on, unchanged, to the server at ``upstream`` and relay its answer, after
    ``delay`` seconds (an answer lost on its way back, once the run is stored)."""

    upstream: str
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    body: dict | None
    method: str = "POST"


class FakeTracker:
    """An HTTP server on 127.0.0.1 that answers POSTs and GETs from a script, in order (the last
    answer repeats), and records each request it got."""

    def __init__(self, *script):
        self.script, self.requests = list(script), []
        self._lock = threading.Lock()
        self._server = LocalServer(self._handler())
        self.url = self._server.url

    def close(self):
        self._server.close()

    @property
    def bodies(self):
        return [request.body for request in self.requests]

    def _next(self, request):
        with self._lock:
            self.requests.append(request)
            return self.script[min(len(self.requests), len(self.script)) - 1]

    def _handler(self):
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer(Received(self.path, dict(self.headers), json.loads(raw)), raw)

            def do_GET(self):
                self._answer(Received(self.path, dict(self.headers), None, "GET"), b"")

            def _answer(self, received, raw):
                answer = tracker._next(received)
                if isinstance(answer, Forward):
                    answer = _forward(answer, self.path, self.headers, raw)
                time.sleep(answer.delay)
                body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        return Handler


def _forward(forward, path, headers, raw):
    request = urllib.request.Request(
        forward.upstream + path,
        data=raw,
        method="POST",
        headers={name: headers[name] for name in ("Authorization", "Content-Type")},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Canned(response.status, response.read().decode(), delay=forward.delay)
    except urllib.error.HTTPError as exc:
        return Canned(exc.code, exc.read().decode(), delay=forward.delay)


@pytest.fixture
def fake_tracker():
    """``fake_tracker(Canned(503), Forward(url), ...)`` starts a FakeTracker, closed after."""
    started = []

    def start(*script):
        started.append(FakeTracker(*script))
        return started[-1]

    yield start
    for tracker in started:
        tracker.close()


@pytest.fixture
def free_port():
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def write_json(tmp_path):
    def write(name, data):
        path = tmp_path / name
        path.write_text(json.dumps(data) if not isinstance(data, str) else data)
        return str(path)

    return write


def run_answer(body, status="passed", checks=(), run_id=7):
    """What the tracker answers to a post of ``body``: the stored run and its gate."""
    return {
        **body,
        "id": run_id,
        "url": f"http://tracker.test/runs/{run_id}/",
        "gate": {"status": status, "checks": list(checks)},
    }


def check(metric, status, rule="max_drop", slice="overall", **fields):
    """One gate check in the server's shape."""
    return {
        "metric": metric, "slice": slice, "rule": rule, "status": status,
        "message": fields.pop("message", f"{metric} {rule} {status}"), "value": 0.9,
        "baseline": 0.93, "limit": 0.925, "delta": -0.03, "passed": status != "failed",
        "p_value": None, "q_value": None, "method": None, "budget_used": None, **fields,
    }  # fmt: skip

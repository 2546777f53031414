"""The HTTP plumbing of the stand-ins for GitHub's and GitLab's APIs: a server on 127.0.0.1 in a
thread that records every request, answers each from the subclass' ``_route``, or all of them
with ``failure`` when it is set."""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.local_server import LocalServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with its query
    headers: dict  # names in lower case
    body: dict | None

    @property
    def route(self):
        return urlsplit(self.path).path


class FakeForge:
    """``failure``, when set to ``(status, body)``, is the answer to every request."""

    def __init__(self):
        self.requests: list[Request] = []
        self.failure = None
        self._ids = iter(range(1000, 10**6))
        self._lock = threading.Lock()
        self._server = LocalServer(self._handler())
        self.url = self._server.url

    def close(self):
        self._server.close()

    def calls(self, *methods):
        """``"GET /route"``, ... in order, for the methods given (all by default)."""
        return [
            f"{r.method} {r.route}" for r in self.requests if not methods or r.method in methods
        ]

    def answer(self, request: Request, base_url: str):
        """(status, headers, body) for one request."""
        with self._lock:
            self.requests.append(request)
            if self.failure:
                return self.failure[0], {}, self.failure[1]
            return self._route(request, base_url)

    def _route(self, request, base_url):
        raise NotImplementedError

    def _handler(self):
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._serve()

            def do_POST(self):
                self._serve()

            def do_PATCH(self):
                self._serve()

            def do_PUT(self):
                self._serve()

            def _serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(
                    self.command,
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                status, headers, body = forge.answer(request, forge.url)
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

"""A real HTTP server on a loopback port standing in for the far end of a channel (a webhook
receiver, Slack, Teams): it keeps every request and answers from a script of replies, e.g.
500 then 200, a 429 with Retry-After, or a hang longer than the caller's timeout."""

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.local_server import LocalServer


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: longer than a timeout is a hang


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class FarEnd:
    def __init__(self):
        self.requests: list[Received] = []
        self.replies: list[Reply] = []  # consumed in order; then 200 "ok"
        self._handler_class = self._handler()
        self.server = None

    @property
    def url(self):
        return f"{self.server.url}/hook"

    def _handler(self):
        far_end = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                far_end.requests.append(Received(self.path, dict(self.headers), body))
                reply = far_end.replies.pop(0) if far_end.replies else Reply()
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body.encode())
                except OSError:  # the caller gave up waiting
                    pass

            def log_message(self, *args):
                pass

        return Handler

    def start(self):
        self.server = LocalServer(self._handler_class)
        return self

    def stop(self):
        self.server.close()

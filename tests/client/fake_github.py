"""A stand-in for GitHub's REST API on 127.0.0.1: the issue comments and commit statuses the CI
client uses, kept in memory, with GitHub's paging (``per_page``, ``page`` and a ``Link``
header), and every request recorded."""

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
STATUSES = re.compile(r"^/repos/([^/]+/[^/]+)/statuses/([^/]+)$")


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with its query
    headers: dict  # names in lower case
    body: dict | None

    @property
    def route(self):
        return urlsplit(self.path).path


class FakeGitHub:
    """``comments`` maps a pull request's number to its comments (dicts with ``id``, ``body``,
    ``html_url``); ``statuses`` lists the statuses set, as ``(sha, body)``. ``failure``, when
    set to ``(status, body)``, is the answer to every request."""

    def __init__(self, repository="acme/models"):
        self.repository = repository
        self.comments: dict[int, list[dict]] = {}
        self.statuses: list[tuple[str, dict]] = []
        self.requests: list[Request] = []
        self.failure = None
        self._ids = iter(range(1000, 10**6))
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def add_comment(self, number, body):
        comment = {"id": next(self._ids), "body": body, "user": {"login": "someone"}}
        comment["html_url"] = f"https://github.test/pull/{number}#issuecomment-{comment['id']}"
        self.comments.setdefault(number, []).append(comment)
        return comment

    def calls(self, *methods):
        """``"GET /repos/.../comments"``, ... in order, for the methods given (all by default)."""
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
        route, query = request.route, parse_qs(urlsplit(request.path).query)
        if (match := COMMENTS.match(route)) and match[1] == self.repository:
            number = int(match[2])
            if request.method == "GET":
                return self._page(self.comments.get(number, []), route, query, base_url)
            if request.method == "POST":
                return 201, {}, self.add_comment(number, request.body["body"])
        if (match := COMMENT.match(route)) and request.method == "PATCH":
            for comment in (c for comments in self.comments.values() for c in comments):
                if comment["id"] == int(match[2]):
                    comment["body"] = request.body["body"]
                    return 200, {}, comment
        if (match := STATUSES.match(route)) and request.method == "POST":
            self.statuses.append((match[2], request.body))
            return 201, {}, {"id": len(self.statuses), **request.body}
        return 404, {}, {"message": "Not Found"}

    def _page(self, items, route, query, base_url):
        size = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        headers = {}
        if page * size < len(items):
            headers["Link"] = (
                f'<{base_url}{route}?per_page={size}&page={page + 1}>; rel="next", '
                f'<{base_url}{route}?per_page={size}&page={-(-len(items) // size)}>; rel="last"'
            )
        return 200, headers, items[(page - 1) * size : page * size]

    def _handler(self):
        github = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._serve()

            def do_POST(self):
                self._serve()

            def do_PATCH(self):
                self._serve()

            def _serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(
                    self.command,
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                status, headers, body = github.answer(request, github.url)
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

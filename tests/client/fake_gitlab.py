"""A stand-in for GitLab's REST API v4 on 127.0.0.1: the merge request notes and commit statuses
the CI client uses, kept in memory, with GitLab's offset paging (``per_page``, ``page``,
``sort``, and ``X-Next-Page`` and ``Link`` headers), the token checked, and every request
recorded."""

import re
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from tests.client.fake_forge import FakeForge

NOTES = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes$")
NOTE = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)$")
STATUSES = re.compile(r"^/api/v4/projects/([^/]+)/statuses/([^/]+)$")


class FakeGitLab(FakeForge):
    """``notes`` maps a merge request's IID to its notes (dicts with ``id``, ``body``,
    ``system``), oldest first; ``statuses`` lists the statuses set, as ``(sha, body)``.
    ``paging`` says which headers a page of notes carries: ``"both"`` (as GitLab's offset
    paging), ``"x-next-page"`` or ``"link"``."""

    def __init__(self, project="4242", token="glpat-secret"):
        self.project, self.token = quote(project, safe=""), token
        self.notes: dict[int, list[dict]] = {}
        self.statuses: list[tuple[str, dict]] = []
        self.paging = "both"
        super().__init__()

    @property
    def api_url(self):
        return f"{self.url}/api/v4"

    def add_note(self, iid, body, system=False):
        note = {"id": next(self._ids), "body": body, "system": system, "author": {"id": 1}}
        self.notes.setdefault(iid, []).append(note)
        return note

    def _route(self, request, base_url):
        if request.headers.get("private-token") != self.token:
            return 401, {}, {"message": "401 Unauthorized"}
        route = request.route
        if (match := NOTES.match(route)) and match[1] == self.project:
            iid = int(match[2])
            if request.method == "GET":
                return self._page(self.notes.get(iid, []), request, base_url)
            if request.method == "POST":
                return 201, {}, self.add_note(iid, request.body["body"])
        if (match := NOTE.match(route)) and match[1] == self.project and request.method == "PUT":
            for note in self.notes.get(int(match[2]), []):
                if note["id"] == int(match[3]):
                    note["body"] = request.body["body"]
                    return 200, {}, note
        match = STATUSES.match(route)
        if match and match[1] == self.project and request.method == "POST":
            self.statuses.append((match[2], request.body))
            return 201, {}, {"id": len(self.statuses), "sha": match[2], **request.body}
        return 404, {}, {"message": "404 Not found"}

    def _page(self, items, request, base_url):
        query = {name: values[0] for name, values in parse_qs(urlsplit(request.path).query).items()}
        if query.get("sort", "desc") == "desc":  # GitLab's default: newest first
            items = items[::-1]
        size = min(int(query.get("per_page", "20")), 100)
        page = int(query.get("page", "1"))
        following = page + 1 if page * size < len(items) else None
        headers = {}
        if self.paging in ("both", "x-next-page"):
            headers.update({"X-Page": str(page), "X-Per-Page": str(size),
                            "X-Next-Page": str(following or "")})  # fmt: skip
        if self.paging in ("both", "link"):
            address = f"{base_url}{request.route}?"
            links = [(1, "first"), (max(1, -(-len(items) // size)), "last")]
            if following:
                links.insert(0, (following, "next"))
            headers["Link"] = ", ".join(
                f'<{address}{urlencode({**query, "page": n})}>; rel="{rel}"' for n, rel in links
            )
        return 200, headers, items[(page - 1) * size : page * size]

"""A stand-in for GitHub's REST API on 127.0.0.1: the issue comments and commit statuses the CI
client uses, kept in memory, with GitHub's paging (``per_page``, ``page`` and a ``Link``
header), and every request recorded."""

import re
from urllib.parse import parse_qs, urlsplit

from tests.client.fake_forge import FakeForge

COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
STATUSES = re.compile(r"^/repos/([^/]+/[^/]+)/statuses/([^/]+)$")


class FakeGitHub(FakeForge):
    """``comments`` maps a pull request's number to its comments (dicts with ``id``, ``body``,
    ``html_url``); ``statuses`` lists the statuses set, as ``(sha, body)``. ``failure``, when
    set to ``(status, body)``, is the answer to every request."""

    def __init__(self, repository="acme/models"):
        self.repository = repository
        self.comments: dict[int, list[dict]] = {}
        self.statuses: list[tuple[str, dict]] = []
        super().__init__()

    def add_comment(self, number, body):
        comment = {"id": next(self._ids), "body": body, "user": {"login": "someone"}}
        comment["html_url"] = f"https://github.test/pull/{number}#issuecomment-{comment['id']}"
        self.comments.setdefault(number, []).append(comment)
        return comment

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

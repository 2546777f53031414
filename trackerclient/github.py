"""Telling a pull request on GitHub about the gate: one comment that stays current (the client
finds its own earlier comment by a hidden marker and edits it, so a pull request never collects
one comment per push) and a commit status, through GitHub's REST API.

Settings come from GitHub Actions' environment (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL,
GITHUB_EVENT_PATH, GITHUB_SHA). What is the same on GitLab (the marker, the report, warnings
rather than a changed exit code) is in review.py.
"""

import argparse
import json
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from . import http, report, review
from .review import NotConfigured

DEFAULT_API_URL = "https://api.github.com"
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100
STATES = {report.PASSED: "success", report.NO_BASELINE: "success", report.FAILED: "failure"}
PEER = "GitHub"
HINT = (
    "check the repository and pull request, and that the job's GITHUB_TOKEN has the "
    "permissions pull-requests: write (comments) and statuses: write"
)


@dataclass(frozen=True)
class Repository:
    """One repository on one GitHub (github.com, or an Enterprise server's API)."""

    api_url: str
    name: str  # owner/repo
    token: str
    retries: int = review.MAX_RETRIES
    timeout: float = 30.0
    backoff: float = 1.0

    def call(self, method, url, body=None, *, retries=None) -> http.Answer:
        """``url`` is a path under the API, or an address GitHub gave (a next page)."""
        if url.startswith("/"):
            url = self.api_url + url
        return http.request(
            method, url, token=self.token, body=body, peer=PEER, headers=HEADERS,
            retries=self.retries if retries is None else retries, timeout=self.timeout,
            backoff=self.backoff,
        )  # fmt: skip

    @property
    def path(self):
        return f"/repos/{self.name}"


def add_arguments(parser):
    """The ``post`` command's GitHub options, in their own group."""
    group = parser.add_argument_group(
        "GitHub (a failure here is a warning: the exit code stays the gate's)"
    )
    group.add_argument(
        "--github-comment", action="store_true",
        help="comment the gate's Markdown report on the pull request, editing the client's "
        "earlier comment for the same model and dataset rather than adding another",
    )  # fmt: skip
    group.add_argument(
        "--github-status", action="store_true",
        help="set a commit status (success or failure, linking to the run) on the pull "
        "request's head, else $GITHUB_SHA, else the run's commit",
    )  # fmt: skip
    group.add_argument(
        "--pr", type=_pull_request, metavar="N",
        help="the pull request's number (default: from $GITHUB_EVENT_PATH)",
    )  # fmt: skip
    group.add_argument(
        "--github-context", metavar="NAME",
        help=f"the status' name (default: {review.DEFAULT_CONTEXT}/MODEL)",
    )  # fmt: skip


def _pull_request(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a pull request's number, not {text!r}")
    return int(text)


def tell(args, summary, run, environ, note):
    """Comment and set the status, as ``args`` ask, for the gate ``summary`` of ``run`` (the
    body posted); ``note`` hears what was done, and a warning for anything that failed."""
    if not (args.github_comment or args.github_status):
        return
    try:
        repository = repository_from(
            environ, retries=review.retries(args), timeout=args.timeout, backoff=args.backoff
        )
        event = _event(environ)
    except NotConfigured as exc:
        note(f"warning: nothing sent to GitHub: {exc}")
        return
    if args.github_comment:
        review.attempt("comment on the pull request", HINT, _comment,
                       repository, args.pr, event, summary, run, note=note)  # fmt: skip
    if args.github_status:
        review.attempt("set the commit status", HINT, _status, repository, summary, run,
                       event, environ, args.github_context, note=note)  # fmt: skip


def repository_from(environ, **settings) -> Repository:
    """The repository Actions runs for, from GITHUB_TOKEN, GITHUB_REPOSITORY and
    GITHUB_API_URL; NotConfigured names what is missing."""
    token, name = environ.get("GITHUB_TOKEN"), environ.get("GITHUB_REPOSITORY")
    if not token:
        raise NotConfigured(
            "GITHUB_TOKEN is not set (give it to the step: env: GITHUB_TOKEN: "
            "${{ secrets.GITHUB_TOKEN }})"
        )
    if not name or name.count("/") != 1:
        raise NotConfigured(f"GITHUB_REPOSITORY must be owner/name, not {name!r}")
    api_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotConfigured(f"GITHUB_API_URL must be an http:// or https:// address: {api_url!r}")
    return Repository(api_url, name, token, **settings)


def _event(environ) -> dict:
    """The event that started the workflow (GITHUB_EVENT_PATH), or {} outside Actions."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as file:
            event = json.load(file)
    except (OSError, ValueError) as exc:
        raise NotConfigured(f"cannot read GITHUB_EVENT_PATH {path}: {exc}") from None
    return event if isinstance(event, dict) else {}


def _event_number(event) -> int:
    number = (event.get("pull_request") or {}).get("number")
    if not isinstance(number, int):
        raise NotConfigured(
            "no pull request: the workflow's event (GITHUB_EVENT_PATH) is not a pull "
            "request's, and --pr is not given"
        )
    return number


def _comment(repository, number, event, summary, run, *, note):
    number = number or _event_number(event)
    body = review.body(summary, run)
    found = find_comment(repository, number, review.marker(run))
    if found is None:
        # Not retried: a retry after an answer lost on its way back would post a second one.
        answer = repository.call(
            "POST", f"{repository.path}/issues/{number}/comments", {"body": body}, retries=0
        )
        done = "Commented on"
    else:
        answer = repository.call(
            "PATCH", f"{repository.path}/issues/comments/{found['id']}", {"body": body}
        )
        done = "Updated the comment on"
    url = answer.body.get("html_url") if isinstance(answer.body, dict) else None
    note(f"{done} pull request #{number}" + (f": {url}" if url else ""))


def find_comment(repository, number, tag) -> dict | None:
    """The pull request's first comment holding ``tag``, reading its comments page by page."""
    url = f"{repository.path}/issues/{number}/comments?per_page={PER_PAGE}"
    for _ in range(review.MAX_PAGES):
        answer = repository.call("GET", url)
        if not isinstance(answer.body, list):
            raise http.TrackerError("GitHub listed the comments as something else than a list")
        for comment in answer.body:
            if isinstance(comment, dict) and tag in str(comment.get("body") or ""):
                return comment
        url = review.next_page(answer.headers.get("Link"), repository.api_url, PEER)
        if url is None:
            return None
    return None


def _status(repository, summary, run, event, environ, context, *, note):
    sha = ((event.get("pull_request") or {}).get("head") or {}).get("sha")
    sha = sha or environ.get("GITHUB_SHA") or run.get("commit")
    if not sha:
        raise NotConfigured("no commit: GITHUB_SHA is not set and the run names no commit")
    state = STATES.get(summary.status, "error")
    context = review.context(run, context)
    body = {"state": state, "description": review.description(summary), "context": context}
    if summary.url:
        body["target_url"] = summary.url
    repository.call("POST", f"{repository.path}/statuses/{quote(sha)}", body)
    note(f"Set the commit status {context} of {sha[:12]}: {state}")

"""Telling a pull request on GitHub about the gate: one comment that stays current (the client
finds its own earlier comment by a hidden marker and edits it, so a pull request never collects
one comment per push) and a commit status, through GitHub's REST API.

Settings come from GitHub Actions' environment (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL,
GITHUB_EVENT_PATH, GITHUB_SHA). Nothing here changes the gate's exit code: a missing setting or
a failed call is a warning on stderr, since the verdict is the build's to give, not GitHub's.
"""

import argparse
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from . import http, report

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_CONTEXT = "model-metrics"
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 comments; a server that pages on past them is looping
MAX_RETRIES = 2
MAX_DESCRIPTION = 140  # GitHub's limit on a status' description
STATES = {report.PASSED: "success", report.NO_BASELINE: "success", report.FAILED: "failure"}
PEER = "GitHub"
LINK = re.compile(r"<([^>]+)>([^,]*)")  # <address>; rel="next", <address>; rel="last"
REL = re.compile(r'rel="?([^";]+)"?')


class NotConfigured(Exception):
    """A setting GitHub's calls need is missing; the message says which and where from."""


@dataclass(frozen=True)
class Repository:
    """One repository on one GitHub (github.com, or an Enterprise server's API)."""

    api_url: str
    name: str  # owner/repo
    token: str
    retries: int = MAX_RETRIES
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
        help=f"the status' name (default: {DEFAULT_CONTEXT}/MODEL)",
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
        # A GitHub outage costs the build a few seconds, not the tracker's whole patience.
        retries = min(args.retries, MAX_RETRIES)
        repository = repository_from(
            environ, retries=retries, timeout=args.timeout, backoff=args.backoff
        )
        event = _event(environ)
    except NotConfigured as exc:
        note(f"warning: nothing sent to GitHub: {exc}")
        return
    if args.github_comment:
        try:
            _comment(repository, args.pr or _event_number(event), summary, run, note)
        except (NotConfigured, http.TrackerError) as exc:
            note(f"warning: could not comment on the pull request: {_why(exc)}")
    if args.github_status:
        try:
            _status(repository, summary, run, event, environ, args.github_context, note)
        except (NotConfigured, http.TrackerError) as exc:
            note(f"warning: could not set the commit status: {_why(exc)}")


def _why(exc):
    return f"{exc}{_explain(exc)}" if isinstance(exc, http.Refused) else str(exc)


def _explain(refused):
    message = refused.body.get("message") if isinstance(refused.body, dict) else None
    text = f" ({message})" if message else ""
    if refused.status in (401, 403, 404):
        text += (
            "; check the repository and pull request, and that the job's GITHUB_TOKEN has the "
            "permissions pull-requests: write (comments) and statuses: write"
        )
    return text


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


def marker(run) -> str:
    """The hidden line that marks the client's comment for the run's model and dataset."""
    dataset = run.get("dataset")
    if isinstance(dataset, dict):
        dataset = dataset.get("name")
    return f"<!-- trackerclient gate: {quote(str(run.get('model')))} on {quote(str(dataset))} -->"


def _comment(repository, number, summary, run, note):
    tag = marker(run)
    body = f"{tag}\n{report.markdown(summary)}"
    found = find_comment(repository, number, tag)
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
    for _ in range(MAX_PAGES):
        answer = repository.call("GET", url)
        if not isinstance(answer.body, list):
            raise http.TrackerError("GitHub listed the comments as something else than a list")
        for comment in answer.body:
            if isinstance(comment, dict) and tag in str(comment.get("body") or ""):
                return comment
        url = next_page(answer.headers.get("Link"), repository.api_url)
        if url is None:
            return None
    return None


def next_page(link, api_url) -> str | None:
    """The ``rel="next"`` address of a Link header, when it is on the API's own server (the
    token goes with it)."""
    for address, params in LINK.findall(link or ""):
        rel = REL.search(params)
        if rel and "next" in rel.group(1).split():
            if urlsplit(address)[:2] != urlsplit(api_url)[:2]:
                raise http.TrackerError(f"GitHub's next page is on another server: {address}")
            return address
    return None


def _status(repository, summary, run, event, environ, context, note):
    sha = ((event.get("pull_request") or {}).get("head") or {}).get("sha")
    sha = sha or environ.get("GITHUB_SHA") or run.get("commit")
    if not sha:
        raise NotConfigured("no commit: GITHUB_SHA is not set and the run names no commit")
    state = STATES.get(summary.status, "error")
    description = f"{summary.word}: {report.counts(summary)}"
    if len(description) > MAX_DESCRIPTION:
        description = description[: MAX_DESCRIPTION - 3] + "..."
    context = context or f"{DEFAULT_CONTEXT}/{run.get('model')}"
    body = {"state": state, "description": description, "context": context}
    if summary.url:
        body["target_url"] = summary.url
    repository.call("POST", f"{repository.path}/statuses/{quote(sha)}", body)
    note(f"Set the commit status {context} of {sha[:12]}: {state}")

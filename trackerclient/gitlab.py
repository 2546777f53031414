"""Telling a merge request on GitLab about the gate: one note that stays current (the client
finds its own earlier note by the hidden marker and edits it, so a merge request never collects
one note per push) and a commit status, through GitLab's REST API v4.

Settings come from GitLab CI's predefined variables (CI_API_V4_URL, CI_PROJECT_ID,
CI_MERGE_REQUEST_IID, CI_COMMIT_SHA, CI_MERGE_REQUEST_SOURCE_BRANCH_SHA, CI_PROJECT_URL) and the
token from GITLAB_TOKEN, sent as PRIVATE-TOKEN: the job's own CI_JOB_TOKEN may not write notes
or statuses. What is the same on GitHub is in review.py.
"""

import argparse
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from . import http, report, review
from .review import NotConfigured

DEFAULT_API_URL = "https://gitlab.com/api/v4"
PER_PAGE = 100
STATES = {report.PASSED: "success", report.NO_BASELINE: "success", report.FAILED: "failed"}
PEER = "GitLab"
HINT = (
    "check the project and merge request, and that GITLAB_TOKEN is a project or personal "
    "access token with the api scope and the Developer role (CI_JOB_TOKEN cannot write notes)"
)


@dataclass(frozen=True)
class Project:
    """One project on one GitLab (gitlab.com, or a self-managed server's API)."""

    api_url: str  # .../api/v4
    id: str  # the numeric ID, or the path group/project
    token: str
    web_url: str | None = None  # for links to the note
    retries: int = review.MAX_RETRIES
    timeout: float = 30.0
    backoff: float = 1.0

    def call(self, method, url, body=None, *, retries=None) -> http.Answer:
        """``url`` is a path under the API, or an address GitLab gave (a next page)."""
        if url.startswith("/"):
            url = self.api_url + url
        return http.request(
            method, url, token=None, body=body, peer=PEER, headers={"PRIVATE-TOKEN": self.token},
            retries=self.retries if retries is None else retries, timeout=self.timeout,
            backoff=self.backoff,
        )  # fmt: skip

    @property
    def path(self):
        return f"/projects/{quote(self.id, safe='')}"


def add_arguments(parser):
    """The ``post`` command's GitLab options, in their own group."""
    group = parser.add_argument_group(
        "GitLab (a failure here is a warning: the exit code stays the gate's)"
    )
    group.add_argument(
        "--gitlab-comment", action="store_true",
        help="post the gate's Markdown report as a note on the merge request, editing the "
        "client's earlier note for the same model and dataset rather than adding another",
    )  # fmt: skip
    group.add_argument(
        "--gitlab-status", action="store_true",
        help="set a commit status (success or failed, linking to the run) on the merge "
        "request's source branch head, else $CI_COMMIT_SHA, else the run's commit",
    )  # fmt: skip
    group.add_argument(
        "--mr", type=_merge_request, metavar="N",
        help="the merge request's IID (default: $CI_MERGE_REQUEST_IID)",
    )  # fmt: skip
    group.add_argument(
        "--gitlab-status-name", metavar="NAME",
        help=f"the status' name (default: {review.DEFAULT_CONTEXT}/MODEL)",
    )  # fmt: skip


def _merge_request(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a merge request's IID, not {text!r}")
    return int(text)


def tell(args, summary, run, environ, note):
    """Post the note and set the status, as ``args`` ask, for the gate ``summary`` of ``run``
    (the body posted); ``note`` hears what was done, and a warning for anything that failed."""
    if not (args.gitlab_comment or args.gitlab_status):
        return
    try:
        project = project_from(
            environ, retries=review.retries(args), timeout=args.timeout, backoff=args.backoff
        )
    except NotConfigured as exc:
        note(f"warning: nothing sent to GitLab: {exc}")
        return
    if args.gitlab_comment:
        review.attempt("comment on the merge request", HINT, _comment,
                       project, args.mr, environ, summary, run, note=note)  # fmt: skip
    if args.gitlab_status:
        review.attempt("set the commit status", HINT, _status, project, summary, run,
                       environ, args.gitlab_status_name, note=note)  # fmt: skip


def project_from(environ, **settings) -> Project:
    """The project the pipeline runs for, from GITLAB_TOKEN, CI_PROJECT_ID and CI_API_V4_URL;
    NotConfigured names what is missing."""
    token, project_id = environ.get("GITLAB_TOKEN"), environ.get("CI_PROJECT_ID")
    if not token:
        raise NotConfigured(
            "GITLAB_TOKEN is not set (a project or personal access token with the api scope, "
            "as a masked CI/CD variable; the job's CI_JOB_TOKEN cannot write notes or statuses)"
        )
    if not project_id:
        raise NotConfigured(
            "CI_PROJECT_ID is not set (GitLab CI sets it; elsewhere, set it to the project's "
            "ID or its path, group/project)"
        )
    api_url = (environ.get("CI_API_V4_URL") or DEFAULT_API_URL).rstrip("/")
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotConfigured(f"CI_API_V4_URL must be an http:// or https:// address: {api_url!r}")
    web_url = (environ.get("CI_PROJECT_URL") or "").rstrip("/") or None
    return Project(api_url, project_id, token, web_url, **settings)


def _iid(given, environ) -> int:
    if given:
        return given
    iid = environ.get("CI_MERGE_REQUEST_IID") or ""
    if not iid.isdigit():
        raise NotConfigured(
            "no merge request: CI_MERGE_REQUEST_IID is not set (the job runs in a merge request "
            'pipeline only with rules: - if: $CI_PIPELINE_SOURCE == "merge_request_event"), '
            "and --mr is not given"
        )
    return int(iid)


def _comment(project, iid, environ, summary, run, *, note):
    iid = _iid(iid, environ)
    notes = f"{project.path}/merge_requests/{iid}/notes"
    body = review.body(summary, run)
    found = find_note(project, iid, review.marker(run))
    if found is None:
        # Not retried: a retry after an answer lost on its way back would post a second one.
        answer = project.call("POST", notes, {"body": body}, retries=0)
        done = "Commented on"
    else:
        answer = project.call("PUT", f"{notes}/{found['id']}", {"body": body})
        done = "Updated the note on"
    note_id = answer.body.get("id") if isinstance(answer.body, dict) else None
    url = f"{project.web_url}/-/merge_requests/{iid}#note_{note_id}"
    note(f"{done} merge request !{iid}" + (f": {url}" if project.web_url and note_id else ""))


def find_note(project, iid, tag) -> dict | None:
    """The merge request's oldest note holding ``tag``, reading its notes page by page, oldest
    first (the client's note is among the first of a long discussion)."""
    first = (
        f"{project.path}/merge_requests/{iid}/notes"
        f"?sort=asc&order_by=created_at&per_page={PER_PAGE}"
    )
    url = first
    for _ in range(review.MAX_PAGES):
        answer = project.call("GET", url)
        if not isinstance(answer.body, list):
            raise http.TrackerError("GitLab listed the notes as something else than a list")
        for found in answer.body:
            if isinstance(found, dict) and tag in str(found.get("body") or ""):
                return found
        url = _next_page(answer.headers, project, first)
        if url is None:
            return None
    return None


def _next_page(headers, project, first) -> str | None:
    """The next page: X-Next-Page (empty on the last page) on the first page's address, else
    the Link header's rel="next" (all GitLab sends for keyset pagination)."""
    page = headers.get("X-Next-Page")
    if page is None:
        return review.next_page(headers.get("Link"), project.api_url, PEER)
    page = page.strip()
    if not page:
        return None
    if not page.isdigit():
        raise http.TrackerError(f"GitLab's X-Next-Page is not a page number: {page!r}")
    return f"{first}&page={page}"


def _status(project, summary, run, environ, name, *, note):
    # In a merged results pipeline CI_COMMIT_SHA is the merge's; the review shows the branch's.
    sha = environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or environ.get("CI_COMMIT_SHA")
    sha = sha or run.get("commit")
    if not sha:
        raise NotConfigured("no commit: CI_COMMIT_SHA is not set and the run names no commit")
    state = STATES.get(summary.status, "failed")
    name = review.context(run, name)
    body = {"state": state, "name": name, "description": review.description(summary)}
    if summary.url:
        body["target_url"] = summary.url
    project.call("POST", f"{project.path}/statuses/{quote(sha, safe='')}", body)
    note(f"Set the commit status {name} of {sha[:12]}: {state}")

"""What the client tells a code review about the gate, the same on GitHub and on GitLab: the
report it posts, the hidden line by which it finds its own earlier post again, the commit
status' description, paging by Link header, and how a failure becomes a warning.

Nothing here changes the gate's exit code: the verdict is the build's to give, not the forge's,
so a missing setting or a failed call is a ``warning:`` line on stderr.
"""

import json
import re
from urllib.parse import quote, urlsplit

from . import http, report

MAX_RETRIES = 2  # a forge's outage costs the build a few seconds, not the tracker's patience
MAX_PAGES = 100  # 10,000 comments at 100 a page; a server that pages on past them is looping
MAX_DESCRIPTION = 140  # GitHub's limit on a status' description; GitLab shows as much
DEFAULT_CONTEXT = "model-metrics"
LINK = re.compile(r"<([^>]+)>([^,]*)")  # <address>; rel="next", <address>; rel="last"
REL = re.compile(r'rel="?([^";]+)"?')


class NotConfigured(Exception):
    """A setting the forge's calls need is missing; the message says which and where from."""


def retries(args) -> int:
    return min(args.retries, MAX_RETRIES)


def marker(run) -> str:
    """The hidden line that marks the client's post for the run's model and dataset."""
    dataset = run.get("dataset")
    if isinstance(dataset, dict):
        dataset = dataset.get("name")
    return f"<!-- trackerclient gate: {quote(str(run.get('model')))} on {quote(str(dataset))} -->"


def body(summary, run) -> str:
    """The comment: the marker, then the gate's Markdown report."""
    return f"{marker(run)}\n{report.markdown(summary)}"


def description(summary) -> str:
    text = f"{summary.word}: {report.counts(summary)}"
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 3] + "..."
    return text


def context(run, given=None) -> str:
    """The status' name: ``given``, else model-metrics/MODEL."""
    return given or f"{DEFAULT_CONTEXT}/{run.get('model')}"


def next_page(link, api_url, peer) -> str | None:
    """The ``rel="next"`` address of a Link header, when it is on the API's own server (the
    token goes with it)."""
    for address, params in LINK.findall(link or ""):
        rel = REL.search(params)
        if rel and "next" in rel.group(1).split():
            if urlsplit(address)[:2] != urlsplit(api_url)[:2]:
                raise http.TrackerError(f"{peer}'s next page is on another server: {address}")
            return address
    return None


def attempt(doing, hint, action, *args, note):
    """``action(*args, note=note)``; a missing setting or a failed call is told to ``note`` as
    a warning that it could not do ``doing``, with ``hint`` added when the forge refused."""
    try:
        action(*args, note=note)
    except (NotConfigured, http.TrackerError) as exc:
        note(f"warning: could not {doing}: {why(exc, hint)}")


def why(exc, hint) -> str:
    if not isinstance(exc, http.Refused):
        return str(exc)
    text = str(exc)
    message = _message(exc.body)
    if message:
        text += f" ({message})"
    if exc.status in (401, 403, 404):
        text += f"; {hint}"
    return text


def _message(body):
    """The forge's own words: GitHub's ``message``; GitLab's ``message`` (text, or fields and
    their errors) or an OAuth ``error_description``."""
    if not isinstance(body, dict):
        return None
    message = body.get("message") or body.get("error_description") or body.get("error")
    if message is None or isinstance(message, str):
        return message
    return json.dumps(message)

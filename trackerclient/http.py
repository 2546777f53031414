"""JSON over HTTP for the client: posting a run to the tracker, with retries that never store
it twice, and the other calls (reads, pins, GitHub's and GitLab's REST APIs) on the same footing.

Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff (or after
the server's Retry-After); the body, and so its ``external_id``, is the same on every attempt,
so the server answers a retry of a stored run with that run. Other 4xx are final. Redirects
are not followed: urllib would turn the POST into a GET.
"""

import email.utils
import http.client
import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from urllib.parse import urlsplit

RUNS_PATH = "/api/v1/runs/"
MAX_BACKOFF = 30.0  # seconds between two attempts, at most
MAX_RETRY_AFTER = 120.0  # a longer Retry-After is cut to this: CI jobs have time limits
USER_AGENT = "trackerclient (model metrics tracker CI client)"
TRACKER = "the tracker"


class TrackerError(Exception):
    """A call to the tracker (or to GitHub or GitLab) failed; the message says why, for a person."""


class Refused(TrackerError):
    """The server answered with an error that a retry cannot fix (4xx other than 429);
    ``status`` and ``body`` (its JSON, else its text) are the answer's."""

    def __init__(self, status, body, message=None):
        self.status, self.body = status, body
        super().__init__(message or f"the tracker refused the run: HTTP {status} {_reason(status)}")


@dataclass(frozen=True)
class Answer:
    status: int  # 201 stored, 200 a replay of a stored run
    body: dict | list
    headers: Message = field(default_factory=Message, compare=False, repr=False)


class _Retryable(Exception):
    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.retry_after = retry_after


def runs_endpoint(url, *, dry_run=False) -> str:
    """``<url>/api/v1/runs/``, with ``?dry_run=1`` to have the gate evaluated but nothing stored."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TrackerError(f"--url must be an http:// or https:// address, not {url!r}")
    return url.rstrip("/") + RUNS_PATH + ("?dry_run=1" if dry_run else "")


def post_run(
    *, url, token, body, dry_run=False, retries=4, timeout=30.0, backoff=1.0, log=None
) -> Answer:
    """POST ``body`` (a run, as a dict) and return the tracker's answer (see ``post``)."""
    endpoint = runs_endpoint(url, dry_run=dry_run)
    return post(endpoint, token=token, body=body, retries=retries, timeout=timeout,
                backoff=backoff, log=log)  # fmt: skip


def endpoint(url, path) -> str:
    """``<url><path>``, for a tracker address given as http:// or https://."""
    return runs_endpoint(url).removesuffix(RUNS_PATH) + path


def post(endpoint, *, token, body, retries=4, timeout=30.0, backoff=1.0, log=None) -> Answer:
    """POST ``body`` (a dict, as JSON) to the tracker's ``endpoint`` and return its answer.

    Waits ``backoff``, 2 x ``backoff``, 4 x ... seconds (at most MAX_BACKOFF) between the
    ``retries`` retries; ``log`` (a callable taking a line) hears about each one. Raises
    Refused for a final HTTP error and TrackerError when every attempt failed. Retrying is
    safe where the endpoint is idempotent (a run's external_id, a window's window_id)."""
    answer = request("POST", endpoint, token=token, body=body, retries=retries,
                     timeout=timeout, backoff=backoff, log=log)  # fmt: skip
    if not isinstance(answer.body, dict):
        excerpt = _excerpt(answer.body, b"")
        raise TrackerError(
            f"the tracker answered {answer.status} but not with a JSON object: {excerpt}"
        )
    return answer


def request(
    method, endpoint, *, token, body=None, retries=4, timeout=30.0, backoff=1.0, log=None,
    peer=TRACKER, headers=None,
) -> Answer:  # fmt: skip
    """Send ``method`` to ``endpoint`` with ``body`` (None, or JSON) and return the JSON answer
    (an object or a list) of ``peer`` ("the tracker", "GitHub": how messages name it).

    Retries as ``post`` says; ``headers`` are added to the request's (a ``token`` of None sends
    no Authorization, for a peer that takes its token in a header of its own). Raises Refused
    for a final HTTP error (its message says what ``peer`` refused) and TrackerError otherwise."""
    prepared = urllib.request.Request(
        endpoint,
        data=None if body is None else json.dumps(body, allow_nan=False).encode(),
        method=method,
        headers={
            **({} if token is None else {"Authorization": f"Bearer {token}"}),
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        },
    )
    attempt = 0
    while True:
        try:
            return _send(prepared, timeout, peer)
        except _Retryable as exc:
            if attempt == retries:
                tries = f"{attempt + 1} attempts" if attempt else "1 attempt"
                raise TrackerError(f"{exc} (gave up after {tries})") from None
            delay = exc.retry_after
            if delay is None:
                delay = min(backoff * 2**attempt, MAX_BACKOFF)
            attempt += 1
            if log:
                log(f"{exc}; retrying in {delay:g} s (attempt {attempt + 1} of {retries + 1})")
            time.sleep(delay)


def _send(request, timeout, peer):
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        _raise_for_error(exc, request, peer)
    except TimeoutError:
        raise _Retryable(f"no answer from {_host(request)} within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _Retryable(f"no answer from {_host(request)} within {timeout:g} s") from None
        if isinstance(exc.reason, ssl.SSLCertVerificationError):  # no retry will fix it
            raise TrackerError(f"{_host(request)}: {exc.reason.verify_message}") from None
        raise _Retryable(f"cannot reach {_host(request)}: {_describe(exc.reason)}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Retryable(f"connection to {_host(request)} failed: {_describe(exc)}") from None
    body = _json(raw)
    if not isinstance(body, dict | list):
        excerpt = _excerpt(body, raw)
        raise TrackerError(f"{peer} answered {status} but not with JSON: {excerpt}")
    return Answer(status=status, body=body, headers=headers)


def _raise_for_error(exc, request, peer):
    try:
        raw = exc.read()
    except (OSError, http.client.HTTPException):
        raw = b""
    finally:
        exc.close()
    status, body = exc.code, _json(raw)
    if status == 429 or status >= 500:
        detail = f": {_excerpt(body, raw)}" if raw else ""
        raise _Retryable(
            f"{_host(request)} answered HTTP {status} {_reason(status)}{detail}",
            retry_after=_retry_after(exc.headers.get("Retry-After")),
        ) from None
    if 300 <= status < 400:
        location = exc.headers.get("Location", "another address")
        hint = ": use that address as --url" if peer == TRACKER else ""
        raise TrackerError(
            f"{peer} redirected the {request.get_method()} to {location}{hint}"
        ) from None
    body = body if body is not None else raw.decode("utf-8", "replace")
    if peer == TRACKER:
        raise Refused(status, body) from None
    message = f"{peer} refused the {request.get_method()}: HTTP {status} {_reason(status)}"
    raise Refused(status, body, message) from None


def _retry_after(value):
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


def _json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _excerpt(body, raw, limit=200):
    text = json.dumps(body) if body is not None else raw.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(reason):
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _host(request):
    parts = urlsplit(request.full_url)
    return f"{parts.scheme}://{parts.netloc}"


def _reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""

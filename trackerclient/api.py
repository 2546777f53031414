"""The tracker's REST API from Python: post a run and have its verdict, read a metric's history
(as dicts, or as a pandas DataFrame when pandas is installed), read and pin baselines, list
findings.

    from trackerclient import Tracker

    tracker = Tracker("https://metrics.example.com", token)
    answer = tracker.post_run(body)  # the stored run, with answer["gate"]["status"]
    points = tracker.series("fraud-detector", "accuracy", dataset="holdout")

Standard library only; every call goes through ``http.request``, so reads, pins and posts are
retried after connection errors, timeouts, 429 and 5xx as the CI client's posts are.
"""

import uuid
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from . import http

FRAME_COLUMNS = ("version", "value", "n", "ci_low", "ci_high", "run_id", "at")


class APIError(http.Refused):
    """The tracker refused a call (a 4xx other than 429: a bad field, a wrong token, a scope
    too small, something not found).

    ``status`` is the HTTP status; ``errors`` the API's field errors as it sent them, e.g.
    ``{"metrics": {"0": {"value": ["Must be a finite number, not NaN."]}}}`` or
    ``{"detail": "Invalid token."}``; ``body`` the whole answer (its text when not JSON)."""

    def __init__(self, status: int, body: Any, method: str, path: str):
        self.errors: dict = body if isinstance(body, dict) else {"detail": str(body)}
        reason = http._reason(status)
        message = f"the tracker refused {method} {path}: HTTP {status} {reason}".rstrip()
        if self.errors:
            message += f": {_flatten(self.errors)}"
        super().__init__(status, body, message)


def _flatten(errors, prefix=""):
    """``metrics.0.value: Must be a finite number, not NaN.; dataset: Required.``"""
    if isinstance(errors, dict):
        parts = [_flatten(value, f"{prefix}{key}.") for key, value in errors.items()]
        return "; ".join(part for part in parts if part)
    if isinstance(errors, list):
        return "; ".join(_flatten(item, prefix) for item in errors)
    return f"{prefix.rstrip('.')}: {errors}" if prefix else str(errors)


class Tracker:
    """A client of one tracker and one project (the token's).

    ``timeout`` is per answer, in seconds; ``retries`` and ``backoff`` as the CI client's
    ``--retries`` and ``--backoff``. Calls raise APIError when the tracker refuses them and
    TrackerError (its base) when it cannot be reached after the retries."""

    def __init__(
        self, url: str, token: str, *, timeout: float = 30.0, retries: int = 4,
        backoff: float = 1.0,
    ):  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the tracker's URL must be an http:// or https:// address: {url!r}")
        if not token:
            raise ValueError("a project's API token is needed")
        self.url, self.token = url.rstrip("/"), token
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    def __repr__(self):
        return f"Tracker({self.url!r})"

    def post_run(self, body: dict, *, dry_run: bool = False) -> dict:
        """Post a run (the body ``POST /api/v1/runs/`` takes) and return the tracker's answer:
        the stored run, its ``url`` and its verdict, ``gate`` (``status``: passed, failed or
        no_baseline, and its ``checks``).

        A body without ``external_id`` is given one, the same on every retry, so that a retry
        never stores the run twice. ``dry_run`` has the gate judge it and nothing stored."""
        if body.get("external_id") is None:
            body = {**body, "external_id": f"trackerclient-{uuid.uuid4()}"}
        path = "/api/v1/runs/" + ("?dry_run=1" if dry_run else "")
        return self._call("POST", path, body)

    def series(
        self, model: str, metric: str, *, dataset: str | None = None,
        dataset_version: str | None = None, slice: str = "overall", branch: str | None = None,
        environment: str = "offline", limit: int | None = None,
    ) -> list[dict]:  # fmt: skip
        """The history of ``metric`` of ``model`` in time order: one dict per run, with
        ``version``, ``value``, ``n``, ``ci_low``, ``ci_high``, ``run_id`` and ``at`` (UTC ISO
        8601).

        ``dataset`` may be left out when the model was evaluated on one dataset only;
        ``dataset_version`` defaults to the latest one used; ``branch`` to the project's
        default branch; ``environment`` is offline, shadow, canary or production; ``limit``
        keeps the latest N points."""
        query = {"dataset": dataset, "dataset_version": dataset_version, "slice": slice,
                 "branch": branch, "environment": environment, "limit": limit}  # fmt: skip
        return self._series(model, metric, query)["points"]

    def series_frame(
        self, model: str, metric: str, *, dataset: str | None = None,
        dataset_version: str | None = None, slice: str = "overall", branch: str | None = None,
        environment: str = "offline", limit: int | None = None,
    ):  # fmt: skip
        """``series`` as a pandas DataFrame, one row per run (columns ``FRAME_COLUMNS``, ``at``
        as UTC timestamps), with the series' model, metric, direction, unit, dataset, slice,
        branch and environment in ``frame.attrs``. Needs pandas, which the rest of this client
        does without; raises ImportError, saying so, when it is missing."""
        try:
            # The one import outside the standard library, and only when a frame is asked
            # for (the import contracts allow exactly this one).
            import pandas
        except ImportError as exc:
            raise ImportError(
                "Tracker.series_frame needs pandas, which is not installed: pip install pandas "
                "(or use Tracker.series, which returns plain dicts)"
            ) from exc
        query = {"dataset": dataset, "dataset_version": dataset_version, "slice": slice,
                 "branch": branch, "environment": environment, "limit": limit}  # fmt: skip
        answer = self._series(model, metric, query)
        frame = pandas.DataFrame(answer["points"], columns=list(FRAME_COLUMNS))
        frame["at"] = pandas.to_datetime(frame["at"], utc=True)
        keys = ("model", "metric", "direction", "unit", "dataset", "slice", "branch", "environment")
        frame.attrs.update({key: answer.get(key) for key in keys})
        return frame

    def _series(self, model, metric, query):
        return self._call("GET", _model_path(model, "series") + _query(metric=metric, **query))

    def baseline(self, model: str, dataset: str, *, branch: str | None = None) -> dict:
        """The baseline of ``model`` on ``dataset`` (by name): the current pin (``baseline``,
        None when nothing is pinned), its ``values`` and the pins' ``history``."""
        query = _query(dataset=dataset, branch=branch)
        return self._call("GET", _model_path(model, "baseline") + query)

    def pin_baseline(
        self, model: str, dataset: str, version: str, *, dataset_version: str | None = None,
        branch: str | None = None, note: str = "",
    ) -> dict:  # fmt: skip
        """Pin ``version`` as the baseline of ``model`` on ``dataset`` (needs an ``admin``
        token) and return the baseline as ``baseline`` does; earlier pins stay as history."""
        body = {"dataset": dataset, "version": version, "note": note}
        if dataset_version is not None:
            body["dataset_version"] = dataset_version
        if branch is not None:
            body["branch"] = branch
        return self._call("PUT", _model_path(model, "baseline"), body)

    def findings(
        self, *, model: str | None = None, dataset: str | None = None,
        metric: str | None = None, slice: str | None = None, status: str | None = None,
        kind: str | None = None, branch: str | None = None, environment: str | None = None,
    ) -> list[dict]:  # fmt: skip
        """The project's findings (drifts, steps, drops, threshold breaches), newest first,
        every page of them; the arguments narrow the list (``status``: open, acknowledged,
        resolved, false_alarm; ``branch`` and ``environment``: ``*`` for any, else the default
        branch and ``offline``)."""
        query = {"model": model, "dataset": dataset, "metric": metric, "slice": slice,
                 "status": status, "kind": kind, "branch": branch,
                 "environment": environment}  # fmt: skip
        found, page = [], 1
        while True:
            path = "/api/v1/findings/" + _query(**query, page=page, page_size=500)
            answer = self._call("GET", path)
            found += answer["results"]
            if not answer.get("next"):
                return found
            page += 1

    def _call(self, method, path, body=None):
        try:
            answer = http.request(
                method, self.url + path, token=self.token, body=body, retries=self.retries,
                timeout=self.timeout, backoff=self.backoff,
            )  # fmt: skip
        except http.Refused as exc:
            raise APIError(exc.status, exc.body, method, path.split("?")[0]) from None
        return answer.body


def _model_path(model, what):
    return f"/api/v1/models/{quote(model, safe='')}/{what}/"


def _query(**params):
    """``?a=1&b=x`` of the parameters that are not None."""
    given = {name: value for name, value in params.items() if value is not None}
    return "?" + urlencode(given) if given else ""

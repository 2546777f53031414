"""The seam every channel plugs into: a ``Transport`` per channel kind whose ``notify()`` sends
one delivery (one alert, or a digest of several) or raises ``Failed``, saying whether trying
again may help. What is sent is in plain values (``Alert``), built once for every kind."""

from dataclasses import dataclass, field

import requests
from django.conf import settings


@dataclass(frozen=True)
class Alert:
    """One thing to tell: a finding that opened, grew or recovered, or an experiment's
    decision. ``title`` is the one-line summary (an e-mail's subject), ``sentence`` the
    explanation; ``facts`` the plain fields a receiver may act on; ``links`` absolute URLs."""

    kind: str
    event: str
    title: str
    sentence: str
    model: str
    facts: dict
    links: dict
    source: object = None  # the Finding or ExperimentDecision, for the e-mail's templates


@dataclass
class Delivery:
    """What one call of ``notify()`` sends: ``id`` is the same on every retry of it."""

    id: str
    channel: object
    recipient: str
    notifications: list
    alerts: list[Alert]
    held: int = 0  # of them held back by the rate limit before
    project: str = ""
    extra: dict = field(default_factory=dict)


class Failed(Exception):
    """The far end did not take the delivery. ``permanent``: trying again will not help (a
    4xx other than 408/429: a wrong URL, a revoked webhook); ``retry_after``: the seconds the
    far end asked for (a 429's Retry-After)."""

    def __init__(self, message, *, permanent=False, retry_after=None):
        super().__init__(message)
        self.permanent, self.retry_after = permanent, retry_after


class Transport:
    """Sends deliveries to one channel."""

    def __init__(self, channel):
        self.channel = channel

    def notify(self, delivery: Delivery) -> str:
        """Send ``delivery``; return its summary (recorded as the notifications' subject)."""
        raise NotImplementedError


class HttpTransport(Transport):
    """A channel that POSTs JSON to the channel's URL."""

    def post(self, body: bytes, headers: dict | None = None) -> None:
        try:
            response = requests.post(
                self.channel.url,
                data=body,
                headers={"Content-Type": "application/json", **(headers or {})},
                timeout=settings.CHANNEL_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:  # unreachable, refused, timed out: retry
            raise Failed(f"{type(exc).__name__}: {exc}") from exc
        judge_response(response)


def judge_response(response) -> None:
    """2xx is delivered; 408, 429 and 5xx are worth retrying (429 after its Retry-After); any
    other status is a permanent failure."""
    status = response.status_code
    if 200 <= status < 300:
        return
    told = f"HTTP {status}: {response.text[:200]}".strip()
    if status == 429:
        raise Failed(told, retry_after=_seconds(response.headers.get("Retry-After")))
    if status == 408 or status >= 500:
        raise Failed(told)
    raise Failed(told, permanent=True)


def _seconds(value) -> float | None:
    """Retry-After in seconds (an HTTP date is read as no advice), bounded to an hour."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return min(max(seconds, 1.0), 3600.0)

"""What a decision on an online comparison hands back, and the metric specs the policies share.

A policy (``canary``, ``shadow``, ``interleaving``, ``bandit``) is a pure function from
cumulative arm statistics and a config to a ``Decision``: an action, the reasons as sentences
for people, and the figures behind them. Numbers are finite or None, never NaN.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .arms import METRIC_TYPES
from .srm import SampleRatio

DIRECTIONS = ("higher_is_better", "lower_is_better")
STATUSES = ("breached", "cleared", "open")


@dataclass(frozen=True)
class MetricSpec:
    """A compared metric: ``type`` "proportion" or "mean"; ``max_degradation`` is how much
    worse the candidate may be, absolute, in the metric's units (a proportion's units are its
    own: 0.005 is half a point), >= 0."""

    name: str
    type: str
    direction: str
    max_degradation: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a metric needs a name")
        if self.type not in METRIC_TYPES:
            raise ValueError(f"metric type must be one of {METRIC_TYPES}, not {self.type!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {self.direction!r}")
        if not (math.isfinite(self.max_degradation) and self.max_degradation >= 0):
            raise ValueError(f"max_degradation must be >= 0, not {self.max_degradation}")


@dataclass(frozen=True)
class MetricCheck:
    """One metric judged: ``estimate`` (candidate - control, or the share itself) with its
    confidence sequence ``lower``..``upper`` at ``level`` (None while unbounded); ``limit`` the
    value it is held to; ``status`` "breached" (certainly beyond the limit), "cleared"
    (certainly within it) or "open"."""

    name: str
    role: str
    estimate: float | None
    lower: float | None
    upper: float | None
    level: float
    limit: float
    status: str


@dataclass(frozen=True)
class Decision:
    """The action for a ``kind`` of experiment and its ``reasons``, with the figures behind
    them: the metric ``checks``, the sample-ratio test ``srm``, a bandit's ``allocation`` and
    ``best_probability`` per arm, interleaving's ``impressions_needed`` (still needed for the
    planned power at the current effect; None when no effect has shown yet)."""

    kind: str
    action: str
    reasons: tuple[str, ...]
    checks: tuple[MetricCheck, ...] = ()
    srm: SampleRatio | None = None
    allocation: Mapping[str, float] = field(default_factory=dict)
    best_probability: Mapping[str, float] = field(default_factory=dict)
    impressions_needed: int | None = None


def check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, float | int) and 0.0 < alpha < 0.5):
        raise ValueError(f"alpha must be in (0, 0.5), not {alpha!r}")


def decimals_for(*scales: float | None) -> int:
    """Decimals that show two significant digits of the smallest nonzero scale (0 to 6)."""
    sizes = [abs(s) for s in scales if s is not None and math.isfinite(s) and s != 0]
    if not sizes:
        return 2
    return min(6, max(0, 1 - math.floor(math.log10(min(sizes)))))


def in_units(value: float, kind: str) -> float:
    """A proportion's differences read in percentage points; a mean's in its own units."""
    return 100.0 * value if kind == "proportion" else value


def unit_name(kind: str) -> str:
    return " points" if kind == "proportion" else ""


def percent(level: float) -> str:
    text = f"{100 * level:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def count(units: int) -> str:
    return f"{units:,}"

"""Cumulative aggregates of one metric on one arm, as serving systems post them per window.

A window carries per arm ``n`` (units of traffic) and per metric either ``{"successes": k}``
(a proportion) or ``{"sum": s, "sum_sq": q}`` (a mean). Both are kept as (n, sum, sum_sq): for a
proportion each unit is 0 or 1, so sum = sum_sq = successes. Windows add up by adding the three
numbers, which is all the decisions need.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

METRIC_TYPES = ("proportion", "mean")


@dataclass(frozen=True)
class ArmStats:
    """n units with values summing to ``sum`` and their squares to ``sum_sq``."""

    n: int
    sum: float
    sum_sq: float

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int):
            raise ValueError(f"n must be a whole number, not {self.n!r}")
        if self.n < 0:
            raise ValueError(f"n must not be negative, not {self.n}")
        if not (math.isfinite(self.sum) and math.isfinite(self.sum_sq)):
            raise ValueError("sum and sum_sq must be finite numbers")
        if self.sum_sq < 0:
            raise ValueError(f"sum_sq must not be negative, not {self.sum_sq}")
        if self.n == 0 and (self.sum != 0 or self.sum_sq != 0):
            raise ValueError("a window with n = 0 cannot have a sum")
        # Cauchy-Schwarz: sum^2 <= n * sum_sq, up to rounding of the posted sums.
        if self.sum * self.sum > self.n * self.sum_sq * (1 + 1e-9) + 1e-9:
            raise ValueError("sum_sq is too small for sum and n (sum^2 > n * sum_sq)")

    @classmethod
    def from_successes(cls, *, successes: int, n: int) -> "ArmStats":
        """A proportion: ``successes`` of ``n`` units (0 <= successes <= n)."""
        if isinstance(successes, bool) or not isinstance(successes, int):
            raise ValueError(f"successes must be a whole number, not {successes!r}")
        if successes < 0:
            raise ValueError(f"successes must not be negative, not {successes}")
        if isinstance(n, int) and not isinstance(n, bool) and successes > n:
            raise ValueError(f"successes ({successes}) cannot exceed n ({n})")
        return cls(n=n, sum=float(successes), sum_sq=float(successes))

    @classmethod
    def from_sums(cls, *, n: int, sum: float, sum_sq: float) -> "ArmStats":
        """A mean: ``n`` values summing to ``sum``, their squares to ``sum_sq``."""
        return cls(n=n, sum=float(sum), sum_sq=float(sum_sq))

    @classmethod
    def from_window(cls, *, n: int, aggregate: Mapping[str, float], kind: str) -> "ArmStats":
        """One metric of one arm's window as posted: ``{"successes": k}`` for a proportion,
        ``{"sum": s, "sum_sq": q}`` for a mean."""
        if kind == "proportion":
            if set(aggregate) != {"successes"}:
                raise ValueError('a proportion is posted as {"successes": k}')
            return cls.from_successes(successes=aggregate["successes"], n=n)
        if kind == "mean":
            if set(aggregate) != {"sum", "sum_sq"}:
                raise ValueError('a mean is posted as {"sum": s, "sum_sq": q}')
            return cls.from_sums(n=n, sum=aggregate["sum"], sum_sq=aggregate["sum_sq"])
        raise ValueError(f"metric type must be one of {METRIC_TYPES}, not {kind!r}")

    def __add__(self, other: "ArmStats") -> "ArmStats":
        return ArmStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    @property
    def mean(self) -> float | None:
        """The mean (the rate, for a proportion); None without data."""
        return self.sum / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """The unbiased sample variance of one unit; None below two units. Rounding in
        sum_sq - sum^2 / n is clipped at 0."""
        if self.n < 2:
            return None
        return max(0.0, (self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1))


EMPTY = ArmStats(0, 0.0, 0.0)


def total(windows: Iterable[ArmStats]) -> ArmStats:
    """The cumulative aggregates of several windows of one metric on one arm."""
    result = EMPTY
    for window in windows:
        result = result + window
    return result

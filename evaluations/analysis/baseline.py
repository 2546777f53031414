"""Cumulative drop from a baseline, and when a floor or budget will be breached.

Small steps that no single test can see add up: the current level is compared with the
baseline value by a one-sided test whose variance counts both the current level's error and
the baseline's own (the baseline is one evaluation, as noisy as any other point). The forecast
extrapolates the fitted slope linearly: versions = ceil((level - limit) / |slope|).
Every value here is oriented: worse is lower.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtr


@dataclass(frozen=True)
class Level:
    """The current level of a series, its standard error, and the fitted slope of its recent
    fall (per version, oriented; ``None`` when no rate of change applies)."""

    value: float
    se: float
    slope: float | None


@dataclass(frozen=True)
class BaselineDrop:
    """How far the current level is below the baseline (``drop`` > 0 = worse), and the
    one-sided p-value that it is below it at all."""

    drop: float
    z: float
    p_value: float


def mean_level(y: np.ndarray, sigma: np.ndarray) -> Level:
    """The weighted (1/sigma^2) mean of ``y`` and its standard error."""
    weight = 1.0 / sigma**2
    return Level(
        float(np.sum(weight * y) / np.sum(weight)), float(np.sqrt(1 / np.sum(weight))), None
    )


def line_end_level(y: np.ndarray, sigma: np.ndarray, slope: float, intercept: float) -> Level:
    """The end point of a fitted line over ``y`` (x = 0, 1, ...), with the least-squares
    standard error of a line's end point, sigma * sqrt(1/m + (x_end - mean x)^2 / Sxx)."""
    size = y.size
    x = np.arange(size, dtype=float)
    sxx = float(np.sum((x - x.mean()) ** 2)) or 1.0
    se = float(np.sqrt(np.mean(sigma**2) * (1 / size + (x[-1] - x.mean()) ** 2 / sxx)))
    return Level(intercept + slope * x[-1], se, slope)


def baseline_drop(baseline: float, level: Level, *, baseline_se: float, dof: float) -> BaselineDrop:
    """One-sided Student-t test that ``level`` is below ``baseline``."""
    drop = baseline - level.value
    se = math.hypot(level.se, baseline_se)
    z = drop / se if se > 0 else (math.inf if drop > 0 else 0.0)
    return BaselineDrop(drop, z, float(stdtr(dof, -z)))


def breach_limit(baseline: float | None, floor: float | None, budget: float | None) -> float | None:
    """The oriented worst acceptable level: the floor, or the baseline less the budget,
    whichever a falling series reaches first (the higher)."""
    limits = [floor] if floor is not None else []
    if budget is not None and baseline is not None:
        limits.append(baseline - budget)
    return max(limits) if limits else None


def versions_to_breach(
    level: float, slope: float | None, limit: float | None, *, latest: float | None = None
) -> int | None:
    """How many more versions until ``level`` falling at ``slope`` per version reaches
    ``limit``: 0 when it already has, or when the ``latest`` value is already past it (the
    fitted level lags a series that has just crossed, and forecasting a breach that the last
    run already shows would tell people the wrong thing); ``None`` when there is no limit or
    no fall."""
    if limit is None:
        return None
    if level <= limit or (latest is not None and latest <= limit):
        return 0
    if slope is None or slope >= 0:
        return None
    return math.ceil((level - limit) / -slope)

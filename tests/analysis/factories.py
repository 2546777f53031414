"""Hand-made metric histories for the analysis tests (fixed seeds)."""

import numpy as np


def noisy(size: int, *, seed: int, level: float = 0.9, sigma: float = 0.004) -> np.ndarray:
    return level + sigma * np.random.default_rng(seed).standard_normal(size)


def ar1(size: int, *, seed: int, phi: float = 0.5, sigma: float = 0.004) -> np.ndarray:
    """AR(1) noise with lag-1 autocorrelation ``phi`` and stationary scatter ``sigma``, around
    0.9."""
    rng = np.random.default_rng(seed)
    values = np.empty(size)
    values[0] = rng.standard_normal()
    for index in range(1, size):
        values[index] = phi * values[index - 1] + np.sqrt(1 - phi**2) * rng.standard_normal()
    return 0.9 + sigma * values


def with_drift(values: np.ndarray, *, start: int, per_version: float) -> np.ndarray:
    """A linear change from ``start`` on: the point at ``start`` is the last unchanged one."""
    ramp = np.maximum(0, np.arange(values.size) - start)
    return values + per_version * ramp


def with_step(values: np.ndarray, *, at: int, by: float) -> np.ndarray:
    """A level shift of ``by`` from the point ``at`` on."""
    shifted = values.copy()
    shifted[at:] += by
    return shifted


def labels(size: int) -> list[str]:
    return [f"1.{index}.0" for index in range(size)]

"""Hand-made metric histories for the analysis tests (fixed seeds)."""

import numpy as np


def noisy(size: int, *, seed: int, level: float = 0.9, sigma: float = 0.004) -> np.ndarray:
    return level + sigma * np.random.default_rng(seed).standard_normal(size)


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

"""One metric's history made ready for the tests: validated, oriented so that worse is down,
cut to the recent window, its noise estimated and its isolated outliers clipped."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .noise import Noise, allow_for, clip_outliers, estimate_noise, orient, sampling_sigma


@dataclass(frozen=True)
class PreparedSeries:
    """The recent window of an oriented series.

    ``y``: oriented values; ``clean``: the same with isolated outliers clipped; ``sigma``: the
    noise of each point as the tests of averages see it (raised for autocorrelation);
    ``offset``: index in the whole series of the window's first point; ``sign``: +1 or -1,
    what turns an original value into an oriented one (and back)."""

    y: np.ndarray
    clean: np.ndarray
    sigma: np.ndarray
    noise: Noise
    offset: int
    sign: float
    labels: tuple[str, ...]
    is_rate: bool
    point_sigma: np.ndarray  # each point's own noise, before any allowance for autocorrelation
    sampling: np.ndarray  # each point's sampling error (0 where none was given)

    @property
    def size(self) -> int:
        return self.y.size

    def allowing_for(self, phi: float) -> "PreparedSeries":
        """The same series, its tests' noise raised for a lag-1 autocorrelation ``phi``."""
        noise, sigma = allow_for(self.noise, self.point_sigma, self.sampling, phi)
        return replace(self, noise=noise, sigma=sigma)

    def since(self, start: int) -> "PreparedSeries":
        """The window from its point ``start`` on; each point keeps the noise estimated over the
        whole window (more points, and a level shift costs that estimate one difference)."""
        part = slice(start, None)
        return replace(
            self,
            y=self.y[part],
            clean=self.clean[part],
            sigma=self.sigma[part],
            offset=self.offset + start,
            point_sigma=self.point_sigma[part],
            sampling=self.sampling[part],
        )

    def label(self, index: int) -> str:
        """The version label of a window index."""
        return self.labels[self.offset + index]

    def original(self, oriented: float) -> float:
        """An oriented value (or change) back in the metric's own sign."""
        return self.sign * oriented


def as_array(name: str, data, size: int, *, allow_missing: bool) -> np.ndarray | None:
    """A float array of ``size`` from a sequence (``None`` stays ``None``); missing entries
    (None or NaN) are allowed only where ``allow_missing``."""
    if data is None:
        return None
    array = np.array([np.nan if item is None else item for item in data], dtype=float)
    if array.ndim != 1 or array.size != size:
        raise ValueError(f"{name} must have one entry per value ({size}), not {array.size}")
    if np.any(np.isinf(array)) or (not allow_missing and np.any(np.isnan(array))):
        raise ValueError(f"{name} must be finite numbers")
    return array


def validated(values, n, ci_low, ci_high, versions) -> tuple:
    """The inputs as arrays, checked: finite values, positive sample sizes, paired intervals
    in order, one version label per value."""
    array = as_array("values", values, len(values), allow_missing=False)
    size = array.size
    sizes = as_array("n", n, size, allow_missing=True)
    if sizes is not None and np.any(sizes[~np.isnan(sizes)] <= 0):
        raise ValueError("n must be positive")
    low = as_array("ci_low", ci_low, size, allow_missing=True)
    high = as_array("ci_high", ci_high, size, allow_missing=True)
    if (low is None) != (high is None):
        raise ValueError("ci_low and ci_high go together")
    if low is not None and np.any(low > high):
        raise ValueError("ci_low must not exceed ci_high")
    labels = tuple(str(v) for v in versions) if versions is not None else None
    if labels is None:
        labels = tuple(f"#{index}" for index in range(size))
    if len(labels) != size:
        raise ValueError(f"versions must have one label per value ({size}), not {len(labels)}")
    return array, sizes, low, high, labels


def prepare(
    values: Sequence[float],
    *,
    direction: str,
    window: int,
    versions: Sequence[str] | None = None,
    n: Sequence[float | None] | None = None,
    ci_low: Sequence[float | None] | None = None,
    ci_high: Sequence[float | None] | None = None,
    phi: float = 0.0,
) -> PreparedSeries:
    """The last ``window`` points of a series, oriented, with their noise and outliers
    clipped (see ``noise``), the tests' noise raised for a lag-1 autocorrelation ``phi``."""
    array, sizes, low, high, labels = validated(values, n, ci_low, ci_high, versions)
    sign = float(orient(np.ones(1), direction)[0])
    offset = max(0, array.size - window)
    part = array[offset:]
    cut = [None if a is None else a[offset:] for a in (sizes, low, high)]
    sampling = sampling_sigma(part, *cut)
    y = sign * part
    noise, point, long_run = estimate_noise(y, sampling, phi=phi)
    return PreparedSeries(
        y=y,
        clean=clip_outliers(y, point),  # a point's own scatter says what an outlier is
        sigma=long_run,
        noise=noise,
        offset=offset,
        sign=sign,
        labels=labels,
        is_rate=bool(np.all((array >= 0.0) & (array <= 1.0))),
        point_sigma=point,
        sampling=sampling,
    )

"""How noisy a metric's history is, and the series made ready for the tests.

The noise of a point is the largest of three estimates: the series' own scatter (a robust
estimate from its first differences), its local scatter (the same, over the nearest points, so
that a noisy stretch does not look like a change), and its sampling error when the caller gave
sample sizes or intervals. Isolated outliers are then clipped (a Hampel filter) so that one bad
evaluation cannot move a mean by much.
"""

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # posted intervals are read as central 95% intervals
MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a normal sample -> its sigma
LOCAL_HALF_WIDTH = 10  # differences on each side used for the local scatter
LOCAL_TRIM = 3  # largest deviations left out of the local scatter (of 21 differences)
# mean of that trimmed estimate over 21 differences of unit normal noise (by simulation)
TRIMMED_CONSISTENCY = 0.740
CLIP_SIGMAS = 2.5  # a point further than this from its neighbours' median is clipped
WINSOR_CONSISTENCY = 0.9887163311348744  # sqrt(E[min(Z^2, 2.5^2)]) for a standard normal Z


@dataclass(frozen=True)
class Noise:
    """The noise of one series, in the metric's units.

    ``sigma``: the typical (median) standard deviation of a point, as used by the tests;
    ``series_sigma``: the series' own robust scatter; ``sampling_sigma``: the median sampling
    standard error of a point (0 when neither sample sizes nor intervals were given);
    ``dof``: degrees of freedom that the estimate is worth (for Student-t p-values)."""

    sigma: float
    series_sigma: float
    sampling_sigma: float
    dof: float


def orient(values: np.ndarray, direction: str) -> np.ndarray:
    """The series with "worse" pointing down: lower-is-better metrics are negated."""
    if direction == "higher_is_better":
        return values
    if direction == "lower_is_better":
        return -values
    raise ValueError(f"direction must be higher_is_better or lower_is_better, not {direction!r}")


def _difference_sigma(diffs: np.ndarray) -> np.ndarray:
    """Winsorised scatter of first differences, row by row: the differences are centred on
    their median, clipped at 2.5 MAD-sigmas (so a step's jump or an outlier counts little),
    and their root mean square is made consistent for normal noise (Huber 1981, sec. 5.4).
    It is about twice as efficient as the MAD alone, which matters on short series."""
    deviations = diffs - np.median(diffs, axis=-1, keepdims=True)
    absolute = np.abs(deviations)
    mad = MAD_TO_SIGMA * np.median(absolute, axis=-1, keepdims=True)
    mad = np.where(mad > 0, mad, np.mean(absolute, axis=-1, keepdims=True) * np.sqrt(np.pi / 2))
    clipped = np.clip(deviations, -CLIP_SIGMAS * mad, CLIP_SIGMAS * mad)
    count = max(1, diffs.shape[-1] - 1)
    return np.sqrt(np.sum(clipped**2, axis=-1) / count) / WINSOR_CONSISTENCY


def robust_sigma(y: np.ndarray) -> float:
    """The noise of one point, from the series' first differences: differencing removes the
    level, so a step costs one outlying difference and a drift only shifts their median; the
    differences' scatter is sqrt(2) times a point's."""
    if y.size < 3:
        return 0.0
    return float(_difference_sigma(np.diff(y)) / np.sqrt(2.0))


def _trimmed_sigma(windows: np.ndarray, trim: int) -> np.ndarray:
    """Scatter of each row of differences with its ``trim`` largest deviations from the row's
    median left out (a trimmed root mean square, made consistent for normal noise): a step
    makes one large difference and an outlier two (mirrored at the ends, more), and neither
    should make a stretch look noisy."""
    deviations = np.abs(windows - np.median(windows, axis=-1, keepdims=True))
    kept = np.sort(deviations, axis=-1)[..., : windows.shape[-1] - trim]
    return np.sqrt(np.mean(kept**2, axis=-1)) / TRIMMED_CONSISTENCY


def local_sigma(y: np.ndarray, half_width: int = LOCAL_HALF_WIDTH) -> np.ndarray:
    """The noise around each point, from the ``2 * half_width + 1`` differences centred on it,
    so that a stretch where the metric scatters more is judged by its own noise. At the ends
    the differences are mirrored, which counts the newest ones twice: a series whose noise
    has just grown is judged by it at once. Where there are too few differences, the series'
    own estimate."""
    diffs = np.diff(y)
    width = 2 * half_width + 1
    if diffs.size < width:
        return np.full(y.size, robust_sigma(y))
    padded = np.pad(diffs, half_width, mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    per_diff = _trimmed_sigma(windows, LOCAL_TRIM) / np.sqrt(2.0)
    # a point sits between two differences; take the larger of their estimates
    return np.maximum(np.append(per_diff, per_diff[-1]), np.insert(per_diff, 0, per_diff[0]))


def sampling_sigma(
    values: np.ndarray,
    n: np.ndarray | None,
    ci_low: np.ndarray | None,
    ci_high: np.ndarray | None,
) -> np.ndarray:
    """The sampling standard error of each point, 0 where nothing says what it is.

    From a posted interval: its width / (2 * 1.96). From a sample size, for rates in [0, 1]:
    the binomial standard error sqrt(p(1-p)/n), with p shrunk as (pn + 0.5)/(n + 1) so that a
    perfect score still has some error. A sample size says nothing about other metrics."""
    sigma = np.zeros(values.size)
    if ci_low is not None and ci_high is not None:
        width = np.where(np.isnan(ci_low) | np.isnan(ci_high), 0.0, ci_high - ci_low)
        sigma = np.maximum(sigma, width / (2 * Z95))
    if n is not None and np.all((values >= 0.0) & (values <= 1.0)):
        known = ~np.isnan(n)
        sizes = n[known]
        p = (values[known] * sizes + 0.5) / (sizes + 1.0)
        sigma[known] = np.maximum(sigma[known], np.sqrt(p * (1.0 - p) / sizes))
    return sigma


def estimate_noise(y: np.ndarray, sampling: np.ndarray) -> tuple[Noise, np.ndarray]:
    """The noise of an oriented series and the standard deviation of each of its points: the
    largest of the series, local and sampling estimates, never zero (a constant series gets a
    tiny relative floor, so that any sustained change in it is real).

    The winsorised difference estimate is worth about 0.55 (n - 1) degrees of freedom on
    normal noise (measured by simulation); 0.5 (n - 2) is used, a little conservative."""
    series = robust_sigma(y)
    point = np.maximum(np.maximum(series, local_sigma(y)), sampling)
    floor = 1e-9 * max(1.0, float(np.max(np.abs(y))))
    point = np.maximum(point, floor)
    noise = Noise(
        sigma=float(np.median(point)),
        series_sigma=series,
        sampling_sigma=float(np.median(sampling)),
        dof=max(1.0, 0.5 * (y.size - 2)),
    )
    return noise, point


def clip_outliers(y: np.ndarray, sigma: np.ndarray, half_width: int = 2) -> np.ndarray:
    """Hampel filter (Hampel 1974; Pearson 2002): each point is pulled to within
    ``CLIP_SIGMAS`` noise units of the median of the 5 points nearest to it (a centred window,
    shifted inwards at the ends). A single outlier moves no median, so it is cut down to size,
    while a sustained shift moves the median with it and survives. At the newest end the
    window is the last 5 points: one or two bad versions are clipped against the three before,
    and a good version after two bad ones is not taken for the outlier."""
    size = y.size
    width = 2 * half_width + 1
    if size < width:
        return y.copy()
    medians = np.median(np.lib.stride_tricks.sliding_window_view(y, width), axis=1)
    centre = medians[np.clip(np.arange(size) - half_width, 0, size - width)]
    bound = CLIP_SIGMAS * sigma
    return np.clip(y, centre - bound, centre + bound)

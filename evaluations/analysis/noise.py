"""How noisy a metric's history is, and the series made ready for the tests.

The noise of a point is the largest of three estimates: the series' own scatter (a robust
estimate from its first differences), its local scatter (the same, over the nearest points, so
that a noisy stretch does not look like a change), and its sampling error when the caller gave
sample sizes or intervals. Isolated outliers are then clipped (a Hampel filter) so that one bad
evaluation cannot move a mean by much.

Successive evaluations are often correlated (a shared data pipeline, a slowly changing test
set): then first differences underestimate how far an average of several points strays, which
is what the tests compare. Where the window is long enough, the lag-1 autocorrelation phi is
estimated from the first differences (for AR(1) noise their lag-1 autocorrelation is
-(1 - phi) / 2, whatever the level does: a step costs one outlying difference, which the
winsorising absorbs, and a drift only shifts their mean), lowered by one standard error so that
white noise is rarely taken for correlated noise, and the series' own scatter is raised to the
long-run standard deviation of AR(1) noise, sigma_d * sqrt(1 + phi) / (1 - phi), where sigma_d
is the difference-based estimate (Var(y_t - y_t-1) = 2 sigma^2 (1 - phi), and the long-run
variance is sigma^2 (1 + phi) / (1 - phi): Box & Jenkins 1976, ch. 3; the variance of means of
an AR(1) process, e.g. Brockwell & Davis 1991, sec. 7.1). Sampling error from ``n`` or
intervals is independent between evaluations and is not raised.
"""

from dataclasses import dataclass, replace

import numpy as np

Z95 = 1.959963984540054  # posted intervals are read as central 95% intervals
MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a normal sample -> its sigma
LOCAL_HALF_WIDTH = 10  # differences on each side used for the local scatter
LOCAL_TRIM = 3  # largest deviations left out of the local scatter (of 21 differences)
# mean of that trimmed estimate over 21 differences of unit normal noise (by simulation)
TRIMMED_CONSISTENCY = 0.740
CLIP_SIGMAS = 2.5  # a point further than this from its neighbours' median is clipped
WINSOR_CONSISTENCY = 0.9887163311348744  # sqrt(E[min(Z^2, 2.5^2)]) for a standard normal Z
DOF_PER_POINT = 0.5  # degrees of freedom of the noise estimate per point (see estimate_noise)
AUTOCORRELATION_MIN_POINTS = 30  # shorter windows say too little about phi
MAX_PHI = 0.9  # beyond it the series is more a random walk than noise around a level
MAX_FIT_CORRECTION = 2.0  # the most ``autocorrelation`` raises phi for what a fit absorbed


@dataclass(frozen=True)
class Noise:
    """The noise of one series, in the metric's units.

    ``sigma``: the typical (median) standard deviation of a point, as used by the tests;
    ``series_sigma``: the series' own robust scatter; ``sampling_sigma``: the median sampling
    standard error of a point (0 when neither sample sizes nor intervals were given);
    ``dof``: degrees of freedom that the estimate is worth (for Student-t p-values);
    ``phi``: the lag-1 autocorrelation allowed for (0 when none was found or the window is
    short); ``inflation``: the factor by which it raised the series' scatter."""

    sigma: float
    series_sigma: float
    sampling_sigma: float
    dof: float
    phi: float = 0.0
    inflation: float = 1.0


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


def autocorrelation(
    residuals: np.ndarray, z: float = 2.0, assumed: float = 0.0, fit_bias: float = 0.0
) -> float:
    """The lag-1 autocorrelation phi of the noise, from the residuals around a fitted level:
    their lag-1 autocorrelation r (winsorised at 2.5 MAD-sigmas, so that an outlier counts
    little), corrected for its small-sample bias, phi = (n r + 1) / (n - 3) (Kendall 1954;
    Marriott & Pope 1954: E[r] is about phi - (1 + 3 phi) / n when the mean is estimated),
    clipped to [0, MAX_PHI]. A pretest keeps white noise from being taken for correlated
    noise: an estimate less than ``z`` standard errors (1 / sqrt(n)) above 0 counts as 0.
    Fewer than ``AUTOCORRELATION_MIN_POINTS`` residuals say too little: then ``assumed``.

    ``fit_bias``: residuals around a fit chosen to match the series (a split or an onset
    picked among many) lose part of the noise's wander to the fit, more so the shorter the
    series, so r understates phi by about the factor 1 - fit_bias / n: the estimate that
    passed the pretest is divided by it (by at most ``MAX_FIT_CORRECTION``, in windows
    shorter than twice ``fit_bias``)."""
    size = residuals.size
    if size < AUTOCORRELATION_MIN_POINTS:
        return assumed
    deviations = residuals - np.median(residuals)
    mad = MAD_TO_SIGMA * np.median(np.abs(deviations))
    if mad <= 0:
        return 0.0
    clipped = np.clip(deviations, -CLIP_SIGMAS * mad, CLIP_SIGMAS * mad)
    clipped = clipped - clipped.mean()
    r = float(np.dot(clipped[1:], clipped[:-1]) / np.dot(clipped, clipped))
    phi = (size * r + 1.0) / (size - 3.0)
    if phi < z / np.sqrt(size):
        return 0.0
    if fit_bias > 0:
        phi /= max(1.0 - fit_bias / size, 1.0 / MAX_FIT_CORRECTION)
    return float(min(phi, MAX_PHI))


def long_run_factor(phi: float) -> float:
    """What turns the difference-based scatter of AR(1) noise into its long-run standard
    deviation, the scatter that governs averages: sqrt(1 + phi) / (1 - phi)."""
    return float(np.sqrt(1.0 + phi) / (1.0 - phi))


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


def estimate_noise(
    y: np.ndarray, sampling: np.ndarray, *, phi: float = 0.0
) -> tuple[Noise, np.ndarray, np.ndarray]:
    """The noise of an oriented series, the standard deviation of each of its points (the
    largest of the series, local and sampling estimates, never zero: a constant series gets a
    tiny relative floor, so that any sustained change in it is real), and the same with the
    series' own scatter raised for an autocorrelation ``phi`` (``allow_for``), which is what
    the tests of averages use.

    The winsorised difference estimate is worth about 0.55 (n - 1) degrees of freedom on
    normal noise (measured by simulation); 0.5 (n - 2) is used, a little conservative."""
    series = robust_sigma(y)
    scatter = np.maximum(series, local_sigma(y))
    floor = 1e-9 * max(1.0, float(np.max(np.abs(y))))
    point = np.maximum(np.maximum(scatter, sampling), floor)
    noise = Noise(
        sigma=float(np.median(point)),
        series_sigma=series,
        sampling_sigma=float(np.median(sampling)),
        dof=max(1.0, DOF_PER_POINT * (y.size - 2)),
    )
    noise, long_run = allow_for(noise, point, sampling, phi)
    return noise, point, long_run


def allow_for(
    noise: Noise, point: np.ndarray, sampling: np.ndarray, phi: float
) -> tuple[Noise, np.ndarray]:
    """The noise and each point's standard deviation with the part that is the series' own
    scatter (not its sampling error, which is independent between evaluations) raised for a
    lag-1 autocorrelation ``phi`` (``long_run_factor``)."""
    if phi <= 0:
        return noise, point
    inflation = long_run_factor(phi)
    raised = np.where(point > sampling, inflation * point, point)
    return replace(noise, sigma=float(np.median(raised)), phi=phi, inflation=inflation), raised


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

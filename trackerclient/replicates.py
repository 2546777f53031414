"""A replicate set: one version evaluated several times with distinct seeds, as one point.

Its value is the runs' mean and its noise their spread (the sample standard deviation, the
mean's standard error sd / sqrt(k)); its 95% interval is the mean ± t(0.975, k - 1) sd /
sqrt(k), widened by what the runs' own intervals say. Standard library only: the server
summarises with it when a seed is stored, and the gate judges the summaries.
"""

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from . import stats

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Summary:
    replicates: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    n: int | None  # the runs' sample size when they all had the same one


def summarise(
    values: Sequence[float],
    *,
    n: Sequence[int | None] = (),
    ci_low: Sequence[float | None] = (),
    ci_high: Sequence[float | None] = (),
) -> Summary:
    """The summary of two or more replicates' values (and their own n and intervals).

    The seeds' interval (Student's t on k - 1 degrees of freedom) measures how the version
    varies from seed to seed on this dataset. The runs' own intervals measure the dataset's
    sampling error, which every seed shares (the same examples), so averaging seeds does not
    shrink it: their mean half-width is added in quadrature, the two errors being independent.
    """
    k = len(values)
    if k < 2:
        raise ValueError("a replicate set has at least two values")
    mean = math.fsum(v / k for v in values)  # divided first: no overflow near the float range
    sd = _sample_sd(values, mean)
    half = stats.student_t_ppf(0.975, k - 1) * sd / math.sqrt(k)
    own = [high - low for low, high in zip(ci_low, ci_high, strict=False)
           if low is not None and high is not None]  # fmt: skip
    if own:
        half = math.hypot(half, math.fsum(own) / (2 * len(own)))
    sizes = set(n)
    common = sizes.pop() if len(sizes) == 1 and len(n) == k else None
    return Summary(k, mean, sd, _finite(mean - half, mean), _finite(mean + half, mean), common)


def _sample_sd(values, mean):
    """Two passes, the second on deviations scaled by the largest: values near the float
    range square to infinity otherwise."""
    scale = max(abs(v - mean) for v in values)
    if scale == 0 or not math.isfinite(scale):
        return 0.0 if scale == 0 else sys.float_info.max
    spread = scale * math.sqrt(
        math.fsum(((v - mean) / scale) ** 2 for v in values) / (len(values) - 1)
    )
    return min(spread, sys.float_info.max)


def _finite(bound, mean):
    # Values near the float range can make the bound overflow; the mean then stands for it.
    return bound if math.isfinite(bound) else mean

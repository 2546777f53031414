"""Sample-ratio mismatch: whether the arms received the traffic the plan gave them.

Pearson's chi-square test of the observed units per arm against the planned split (k - 1
degrees of freedom). A mismatch means the assignment or the logging is broken, and then no
comparison of the arms can be trusted (Fabijan et al. 2019, "Diagnosing sample ratio mismatch
in online controlled experiments"). The threshold p < 0.001 is theirs: strict, because the test
is repeated after every window and a false alarm blocks a healthy rollout.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import chdtrc

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SampleRatio:
    """The test: units ``observed`` and ``expected`` per arm, the chi-square ``statistic``,
    its ``p_value`` and whether it is a ``mismatch`` (p below the threshold)."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    mismatch: bool


def sample_ratio_mismatch(
    observed: Sequence[int], planned: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SampleRatio:
    """Chi-square test of ``observed`` units per arm against ``planned`` shares (any positive
    weights: (1, 1) and (50, 50) are the same plan)."""
    if len(observed) != len(planned) or len(observed) < 2:
        raise ValueError("need the units and the planned share of at least two arms")
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in observed):
        raise ValueError(f"units must be whole numbers >= 0, not {list(observed)}")
    if any(not (math.isfinite(w) and w > 0) for w in planned):
        raise ValueError(f"planned shares must be positive, not {list(planned)}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), not {threshold}")
    units, weight = sum(observed), math.fsum(planned)
    expected = tuple(units * w / weight for w in planned)
    if units == 0:
        return SampleRatio(tuple(observed), expected, 0.0, 1.0, False)
    statistic = math.fsum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p_value = float(chdtrc(len(observed) - 1, statistic))
    return SampleRatio(tuple(observed), expected, statistic, p_value, p_value < threshold)

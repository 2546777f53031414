"""Shadow mode: the candidate answers the same requests as the control without serving them, and
each compared request either agrees or not. Safe to switch once the agreement is certainly at
least the required minimum; not safe once it is certainly below it.

The agreement's confidence sequence is the beta-binomial mixture (``sequential.share_bounds``),
exact for Bernoulli data at any sample size (``agreement_prior`` says how it is tuned), so both
verdicts keep their error below alpha however often the shadow is looked at.
"""

import math
from dataclasses import dataclass

from .decision import Decision, MetricCheck, check_alpha, count, percent
from .sequential import beta_prior, share_bounds

ACTIONS = ("continue", "safe_to_switch", "not_safe")


@dataclass(frozen=True)
class ShadowConfig:
    """``min_agreement``: the share of requests on which the candidate must agree."""

    min_agreement: float = 0.95
    alpha: float = 0.05

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if not 0.0 < self.min_agreement < 1.0:
            raise ValueError(f"min_agreement must be in (0, 1), not {self.min_agreement}")


def agreement_prior(required: float) -> tuple[float, float]:
    """The mixture's prior: Beta centred at the required agreement with half the allowed
    disagreement, (1 - required) / 2, as its standard deviation: the agreements that take
    long to tell from the requirement are those a few tenths of the allowance away."""
    return beta_prior(required, (1.0 - required) / 2.0)


def decide_shadow(
    config: ShadowConfig, *, n: int, agree: int, abs_diff_sum: float | None = None
) -> Decision:
    """The verdict on ``agree`` of ``n`` compared requests (cumulative); ``abs_diff_sum``, the
    sum of |candidate - control| over them for numeric outputs, is reported as a mean."""
    for name, value in (("n", n), ("agree", agree)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    if agree > n:
        raise ValueError(f"agree ({agree}) cannot exceed n ({n})")
    if abs_diff_sum is not None and not (math.isfinite(abs_diff_sum) and abs_diff_sum >= 0):
        raise ValueError(f"abs_diff_sum must be a finite number >= 0, not {abs_diff_sum}")
    required = config.min_agreement
    if n == 0:
        check = MetricCheck(
            "agreement", "primary", None, None, None, 1 - config.alpha, required, "open"
        )
        return Decision("shadow", "continue", ("no compared requests yet",), (check,))
    low, high = share_bounds(agree, n, config.alpha, agreement_prior(required))
    status = "cleared" if low >= required else "breached" if high < required else "open"
    check = MetricCheck(
        "agreement", "primary", agree / n, low, high, 1 - config.alpha, required, status
    )
    told = (
        f"agreement {agree / n:.2%} on {count(n)} requests ({percent(1 - config.alpha)} CS "
        f"{low:.2%} to {high:.2%})"
    )
    if status == "cleared":
        reasons = [f"{told} is at least the required {required:.1%}: safe to switch"]
        action = "safe_to_switch"
    elif status == "breached":
        reasons = [f"{told} is below the required {required:.1%}: not safe to switch"]
        action = "not_safe"
    else:
        reasons = [f"{told} is not yet decided against the required {required:.1%}"]
        action = "continue"
    if abs_diff_sum is not None:
        reasons.append(f"mean absolute difference of the outputs {abs_diff_sum / n:.4g}")
    return Decision("shadow", action, tuple(reasons), (check,))

"""Shadow mode: the candidate answers the same requests as the control without serving them, and
each compared request either agrees or not. Safe to switch once the agreement is certainly at
least the required minimum; not safe once it is certainly below it, or once an operational
guardrail (latency, errors: per-arm metrics, as a canary's) is certainly worse than allowed.

The agreement's confidence sequence is the beta-binomial mixture (``sequential.share_bounds``),
exact for Bernoulli data at any sample size (``agreement_prior`` says how it is tuned); the
guardrails are judged as a canary's (``checks``). With m guardrails the agreement is tested at
alpha / (1 + m) and the guardrails share the rest, so every verdict keeps its error below alpha
however often the shadow is looked at. Guardrails are tripwires: they make a shadow not safe
when breached; they need not be proven safe for it to be safe to switch.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .arms import ArmStats
from .checks import judge_all, sentence
from .decision import Decision, MetricCheck, MetricSpec, check_alpha, count, percent
from .sequential import DEFAULT_TUNING_UNITS, beta_prior, share_bounds

ACTIONS = ("continue", "safe_to_switch", "not_safe")


@dataclass(frozen=True)
class ShadowConfig:
    """``min_agreement``: the share of requests on which the candidate must agree;
    ``guardrails``: per-arm operational metrics the candidate may not be worse on by more than
    their ``max_degradation``."""

    min_agreement: float = 0.95
    alpha: float = 0.05
    guardrails: tuple[MetricSpec, ...] = ()
    tuning_units: int = DEFAULT_TUNING_UNITS

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if not 0.0 < self.min_agreement < 1.0:
            raise ValueError(f"min_agreement must be in (0, 1), not {self.min_agreement}")
        names = [g.name for g in self.guardrails]
        if len(set(names)) != len(names):
            raise ValueError(f"guardrail names must differ, not {names}")


def agreement_prior(required: float) -> tuple[float, float]:
    """The mixture's prior: Beta centred at the required agreement with half the allowed
    disagreement, (1 - required) / 2, as its standard deviation: the agreements that take
    long to tell from the requirement are those a few tenths of the allowance away."""
    return beta_prior(required, (1.0 - required) / 2.0)


def decide_shadow(
    config: ShadowConfig,
    *,
    n: int,
    agree: int,
    abs_diff_sum: float | None = None,
    control: Mapping[str, ArmStats] | None = None,
    candidate: Mapping[str, ArmStats] | None = None,
) -> Decision:
    """The verdict on ``agree`` of ``n`` compared requests (cumulative); ``abs_diff_sum``, the
    sum of |candidate - control| over them for numeric outputs, is reported as a mean;
    ``control`` and ``candidate`` hold each guardrail's cumulative statistics per arm."""
    for name, value in (("n", n), ("agree", agree)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    if agree > n:
        raise ValueError(f"agree ({agree}) cannot exceed n ({n})")
    if abs_diff_sum is not None and not (math.isfinite(abs_diff_sum) and abs_diff_sum >= 0):
        raise ValueError(f"abs_diff_sum must be a finite number >= 0, not {abs_diff_sum}")
    required = config.min_agreement
    guardrails = judge_all(
        None, config.guardrails, control or {}, candidate or {},
        alpha=config.alpha - agreement_alpha(config), tuning_units=config.tuning_units,
    )  # fmt: skip
    agreement = _agreement(config, n, agree)
    checks = (agreement, *guardrails)
    told = [
        sentence(spec, check) for spec, check in zip(config.guardrails, guardrails, strict=True)
    ]
    breached = [line for line, c in zip(told, guardrails, strict=True) if c.status == "breached"]
    if agreement.estimate is None:
        said = "no compared requests yet"
    else:
        said = (
            f"agreement {agreement.estimate:.2%} on {count(n)} requests "
            f"({percent(agreement.level)} CS {agreement.lower:.2%} to {agreement.upper:.2%})"
        )
    if agreement.status == "breached":
        reasons = [f"{said} is below the required {required:.1%}: not safe to switch", *told]
        action = "not_safe"
    elif breached:
        reasons = [*breached, f"{said}; a guardrail is breached: not safe to switch"]
        action = "not_safe"
    elif agreement.status == "cleared":
        reasons = [f"{said} is at least the required {required:.1%}: safe to switch", *told]
        action = "safe_to_switch"
    elif agreement.estimate is None:
        reasons, action = [said, *told], "continue"
    else:
        reasons = [f"{said} is not yet decided against the required {required:.1%}", *told]
        action = "continue"
    if abs_diff_sum is not None and n:
        reasons.append(f"mean absolute difference of the outputs {abs_diff_sum / n:.4g}")
    return Decision("shadow", action, tuple(reasons), checks)


def agreement_alpha(config: ShadowConfig) -> float:
    """The agreement's share of alpha: all of it without guardrails."""
    return config.alpha / (1 + len(config.guardrails))


def _agreement(config: ShadowConfig, n: int, agree: int) -> MetricCheck:
    alpha, required = agreement_alpha(config), config.min_agreement
    if n == 0:
        return MetricCheck("agreement", "primary", None, None, None, 1 - alpha, required, "open")
    low, high = share_bounds(agree, n, alpha, agreement_prior(required))
    status = "cleared" if low >= required else "breached" if high < required else "open"
    return MetricCheck("agreement", "primary", agree / n, low, high, 1 - alpha, required, status)

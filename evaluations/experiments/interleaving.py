"""Interleaving: each impression mixes both rankers' results and credits the side whose results
were used; ties are left out. Under no preference each credited impression is a fair coin, so
the candidate's win share is tested against 1/2 with the beta-binomial confidence sequence
(``sequential``), valid at every look: ``candidate_better`` or ``control_better`` when the
sequence leaves 1/2 behind (the chance of either under no preference is at most alpha).

``no_difference`` is said only once the planned power is reached: the credited impressions by
which a true share of ``planned_share`` (52/48 by default) would have been told apart from 1/2
with probability ``power`` (at that look alone, so the figure is conservative). Until then the
decision says how many impressions the current effect would still need.
"""

import math
from dataclasses import dataclass
from functools import lru_cache

from scipy.optimize import brentq
from scipy.special import bdtrc, betaln

from .decision import Decision, MetricCheck, check_alpha, count, percent
from .sequential import beta_prior, log_share_mixture, share_bounds

ACTIONS = ("continue", "candidate_better", "control_better", "no_difference")
MAX_IMPRESSIONS = 10**13  # beyond this the power search gives up: None, "too small to tell"


@dataclass(frozen=True)
class InterleavingConfig:
    """``planned_share``: the smallest win share worth detecting (0.52 = 52/48)."""

    alpha: float = 0.05
    planned_share: float = 0.52
    power: float = 0.8

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if not 0.5 < self.planned_share < 1.0:
            raise ValueError(f"planned_share must be in (0.5, 1), not {self.planned_share}")
        if not 0.5 <= self.power < 1.0:
            raise ValueError(f"power must be in [0.5, 1), not {self.power}")


def share_prior(planned_share: float) -> tuple[float, float]:
    """The mixture's prior: Beta centred at 1/2 with the planned effect as its standard
    deviation, which makes the sequence tightest near the sample a fixed test of that effect
    would need (for a 52/48 plan it halves the uniform prior's cost at the planned power)."""
    return beta_prior(0.5, planned_share - 0.5)


def critical_wins(impressions: int, alpha: float, prior: tuple[float, float]) -> float | None:
    """The fewest wins of ``impressions`` by which the confidence sequence leaves 1/2 behind
    (log mixture >= log 1/alpha), as a real number; None if no count can."""
    threshold = math.log(1.0 / alpha) + float(betaln(*prior))
    size, (a, b) = float(impressions), prior

    def excess(wins: float) -> float:
        return float(betaln(wins + a, size - wins + b)) + size * math.log(2.0) - threshold

    if excess(size) < 0:
        return None
    if excess(size / 2) >= 0:
        return size / 2
    return brentq(excess, size / 2, size, xtol=1e-6)


def power_at(impressions: int, share: float, alpha: float, prior: tuple[float, float]) -> float:
    """P(the candidate is declared better at this look) when its true win share is ``share``."""
    wins = critical_wins(impressions, alpha, prior)
    if wins is None:
        return 0.0
    return float(bdtrc(math.ceil(wins) - 1, impressions, share))


@lru_cache(maxsize=4096)
def impressions_for_power(
    share: float, power: float, alpha: float, prior: tuple[float, float]
) -> int | None:
    """The fewest credited impressions at which a true win share ``share`` (or 1 - share) is
    told apart from 1/2 with probability ``power``; None beyond ``MAX_IMPRESSIONS``. A doubling
    search, then bisection: at most ~90 evaluations."""
    share = max(share, 1.0 - share)
    if share <= 0.5:
        return None
    high = 16
    while power_at(high, share, alpha, prior) < power:
        high *= 2
        if high > MAX_IMPRESSIONS:
            return None
    low = high // 2
    while high - low > max(1, low // 1000):  # 0.1% is precise enough for a plan
        middle = (low + high) // 2
        if power_at(middle, share, alpha, prior) >= power:
            high = middle
        else:
            low = middle
    return high


def decide_interleaving(
    config: InterleavingConfig, *, candidate_wins: int, control_wins: int, ties: int = 0
) -> Decision:
    """The verdict on the cumulative credit of an interleaving experiment."""
    for name, value in (("candidate", candidate_wins), ("control", control_wins), ("ties", ties)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} wins must be a whole number >= 0, not {value!r}")
    credited = candidate_wins + control_wins
    prior = share_prior(config.planned_share)
    planned = impressions_for_power(config.planned_share, config.power, config.alpha, prior)
    plan = (
        f"{count(planned)} credited impressions give {config.power:.0%} power at "
        f"{100 * config.planned_share:g}/{100 - 100 * config.planned_share:g}"
    )
    if credited == 0:
        check = MetricCheck("win_share", "primary", None, None, None, 1 - config.alpha, 0.5, "open")
        return Decision(
            "interleaving", "continue", (f"no credited impressions yet; {plan}",), (check,)
        )
    share = candidate_wins / credited
    low, high = share_bounds(candidate_wins, credited, config.alpha, prior)
    evidence = float(log_share_mixture(candidate_wins, credited, 0.5, prior))
    decided = evidence >= math.log(1 / config.alpha)
    told = (
        f"candidate won {count(candidate_wins)} of {count(credited)} credited impressions "
        f"({share:.2%}, {percent(1 - config.alpha)} CS {low:.2%} to {high:.2%}; "
        f"{count(ties)} ties left out)"
    )
    status = "cleared" if decided else "open"
    check = MetricCheck("win_share", "primary", share, low, high, 1 - config.alpha, 0.5, status)
    if decided:
        action = "candidate_better" if share > 0.5 else "control_better"
        return Decision("interleaving", action, (f"{told}: {action.replace('_', ' ')}",), (check,))
    needed = None
    if round(share, 4) != 0.5:  # rounded so that the plans of nearby shares are cached
        needed = impressions_for_power(round(share, 4), config.power, config.alpha, prior)
    still = None if needed is None else max(0, needed - credited)
    if credited >= planned:
        strength = f"{100 * config.planned_share:g}/{100 - 100 * config.planned_share:g}"
        reason = f"{told}: no preference as strong as {strength} shows; {plan}"
        return Decision(
            "interleaving", "no_difference", (reason,), (check,), impressions_needed=still
        )
    if still is None:
        wait = "no effect shows yet"
    else:
        wait = (
            f"about {count(still)} more would tell the current effect at {config.power:.0%} power"
        )
    reason = f"{told}: undecided; {wait}; {plan}, {count(planned - credited)} still to go"
    return Decision("interleaving", "continue", (reason,), (check,), impressions_needed=still)

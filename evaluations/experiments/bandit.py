"""Multi-armed bandits: Thompson sampling of the traffic split, and when one arm has won.

Thompson sampling (Thompson 1933; Chapelle and Li 2011) gives each arm the posterior
probability that it is the best, estimated from ``draws`` joint posterior draws: Beta(1 + k,
1 + n - k) for a proportion (a uniform prior), Normal(mean, s^2 / n) for a mean (the large-sample
posterior under a flat prior). Every arm keeps at least ``floor`` of the traffic, so that the
estimates of arms that fell behind early keep improving and a drift can still be seen:
weight = floor + (1 - arms * floor) * P(best).

Winner: an arm whose posterior probability of being best reaches ``threshold`` (0.95 by
default, the rule of Scott 2015, "Multi-armed bandit experiments in the online service
economy") **and** that is shown better than every other arm by an always-valid confidence
sequence (``sequential.difference_bounds``, one-sided at ``alpha / (arms - 1)`` each,
Bonferroni). The posterior alone is a Bayesian statement that does not bound how often a tie is
called a win when the bandit is looked at after every window (two arms 4% apart: a wrong
winner in about 2 of 5 calls); the confidence sequence holds at every look, so a winner is
wrong at most ``alpha`` of the time however often anyone looks.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .arms import ArmStats
from .decision import Decision, MetricSpec, count
from .sequential import difference_bounds

ACTIONS = ("continue", "winner")
MAX_DRAWS = 100_000  # posterior draws per decision: bounds the cost at MAX_DRAWS x MAX_ARMS
MAX_ARMS = 20


@dataclass(frozen=True)
class BanditConfig:
    """``metric``: what "best" means (its direction); ``floor``: the least share of traffic per
    arm; ``threshold``: the posterior probability of being best that makes a winner;
    ``draws``: posterior draws per decision (at most ``MAX_DRAWS``)."""

    metric: MetricSpec
    floor: float = 0.05
    threshold: float = 0.95
    draws: int = 10_000
    alpha: float = 0.05  # the error of a winner, over every look

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), not {self.alpha}")
        if not 0.0 <= self.floor < 1.0:
            raise ValueError(f"floor must be in [0, 1), not {self.floor}")
        if not 0.5 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0.5, 1), not {self.threshold}")
        if not 100 <= self.draws <= MAX_DRAWS:
            raise ValueError(f"draws must be in [100, {MAX_DRAWS}], not {self.draws}")


def best_probabilities(
    arms: Mapping[str, ArmStats], config: BanditConfig, *, seed: int | None
) -> dict[str, float] | None:
    """Each arm's posterior probability of being the best; None while an arm of a mean has
    fewer than two units (no posterior spread yet)."""
    rng = np.random.default_rng(seed)
    names = list(arms)
    samples = np.empty((config.draws, len(names)))
    for column, name in enumerate(names):
        arm = arms[name]
        if config.metric.type == "proportion":
            if arm.sum > arm.n or arm.sum != arm.sum_sq:
                raise ValueError(f"arm {name!r} is not a proportion (successes <= n)")
            samples[:, column] = rng.beta(1.0 + arm.sum, 1.0 + arm.n - arm.sum, config.draws)
        else:
            if arm.variance is None:
                return None
            spread = np.sqrt(arm.variance / arm.n)
            samples[:, column] = rng.normal(arm.mean, spread, config.draws)
    if config.metric.direction == "lower_is_better":
        samples = -samples
    wins = np.bincount(np.argmax(samples, axis=1), minlength=len(names))
    return {name: float(w) / config.draws for name, w in zip(names, wins, strict=True)}


def thompson_allocation(
    arms: Mapping[str, ArmStats], config: BanditConfig, *, seed: int | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """(traffic weights, P(best)) per arm; equal weights while an arm cannot be judged.
    Reproducible for a given ``seed``."""
    if not 2 <= len(arms) <= MAX_ARMS:
        raise ValueError(f"a bandit needs 2 to {MAX_ARMS} arms, not {len(arms)}")
    if config.floor * len(arms) > 1.0:
        raise ValueError(f"a floor of {config.floor} per arm is more than all traffic")
    best = best_probabilities(arms, config, seed=seed)
    if best is None:
        equal = {name: 1.0 / len(arms) for name in arms}
        return equal, {}
    spare = 1.0 - config.floor * len(arms)
    return {name: config.floor + spare * p for name, p in best.items()}, best


def decide_bandit(
    config: BanditConfig, arms: Mapping[str, ArmStats], *, seed: int | None = None
) -> Decision:
    """The next traffic split, and ``winner`` once an arm is best with probability at least
    ``threshold``."""
    weights, best = thompson_allocation(arms, config, seed=seed)
    if not best:
        short = [name for name, arm in arms.items() if arm.n < 2]
        reason = f"too little data on {', '.join(short)}: equal traffic until each has 2 units"
        return Decision("bandit", "continue", (reason,), allocation=weights)
    leader = max(best, key=best.get)
    arm = arms[leader]
    shown = "no data" if arm.mean is None else f"mean {arm.mean:.4g} over {count(arm.n)} units"
    told = (
        f"{leader} ({shown}) is best with posterior probability {best[leader]:.1%}"
        f" (winner at {config.threshold:.0%})"
    )
    split = ", ".join(f"{name} {weight:.1%}" for name, weight in weights.items())
    unproven = _not_yet_better(config, arms, leader) if best[leader] >= config.threshold else None
    if best[leader] >= config.threshold and not unproven:
        return Decision(
            "bandit", "winner", (f"{told}: winner",), allocation=weights, best_probability=best
        )
    if unproven:
        told += f", but not yet shown better than {', '.join(unproven)} at every look"
    return Decision(
        "bandit",
        "continue",
        (told, f"next split: {split}"),
        allocation=weights,
        best_probability=best,
    )


def _not_yet_better(config, arms, leader) -> list[str]:
    """The arms ``leader`` is not yet shown better than by an always-valid bound."""
    level = config.alpha / max(1, len(arms) - 1)
    higher = config.metric.direction == "higher_is_better"
    behind = []
    for name, arm in arms.items():
        if name == leader:
            continue
        bounds = difference_bounds(
            arm, arms[leader], kind=config.metric.type, lower_alpha=level, upper_alpha=level
        )
        edge = bounds.lower if higher else bounds.upper
        if edge is None or (edge <= 0 if higher else edge >= 0):
            behind.append(name)
    return behind

"""Canary releases: roll back, hold, or move the candidate to the next traffic step.

Every metric's difference candidate - control gets always-valid one-sided bounds
(``sequential.difference_bounds``), so the canary may be judged after every window:

- rollback when any metric is certainly worse than it may get: the bound on the harmful side
  is beyond ``max_degradation`` (the primary's margin, or a guardrail's allowance). These are
  one-sided tests at alpha / (2 m) each, m = 1 + guardrails (Bonferroni).
- promote when the primary is certainly no worse than its margin (non-inferiority: its bound
  in the good direction clears -margin), at alpha / 2, and no metric is breached. Guardrails
  are tripwires: they roll back when breached, they do not have to be proven safe to promote.
  Promoting onto 100% (or from the last step) ends the experiment: ``complete``. A step lasts
  at least ``min_windows_per_step`` windows, so that every traffic level is watched for a while
  before the next (the guardrails gather evidence meanwhile).
- a sample-ratio mismatch of the current step's units blocks promotion (a rollback still goes).

The chance that an A/A canary ever rolls back, or ever promotes at a margin of 0, is then at
most alpha however often it is looked at.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from .arms import ArmStats
from .checks import judge_all, sentence
from .decision import Decision, MetricSpec, check_alpha, count
from .sequential import DEFAULT_TUNING_UNITS
from .srm import SampleRatio, sample_ratio_mismatch

ACTIONS = ("continue", "promote", "complete", "rollback")


@dataclass(frozen=True)
class CanaryConfig:
    """``traffic_steps``: the candidate's percent of traffic per step, increasing.
    ``planned_split``: (control, candidate) weights of the compared traffic at every step;
    None means the control serves the rest (95/5 at a 5% step). ``tuning_units``: where the
    confidence sequences are tightest (``sequential``). ``min_windows_per_step``: windows a
    step lasts at least before a promotion."""

    primary: MetricSpec
    guardrails: tuple[MetricSpec, ...] = ()
    alpha: float = 0.05
    traffic_steps: tuple[float, ...] = (1, 5, 25, 50, 100)
    planned_split: tuple[float, float] | None = None
    tuning_units: int = DEFAULT_TUNING_UNITS
    min_windows_per_step: int = 1

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if self.min_windows_per_step < 1:
            raise ValueError(f"min_windows_per_step must be >= 1, not {self.min_windows_per_step}")
        steps = self.traffic_steps
        if not steps or any(not 0 < s <= 100 for s in steps):
            raise ValueError(f"traffic steps must be percents in (0, 100], not {steps}")
        if any(b <= a for a, b in pairwise(steps)):
            raise ValueError(f"traffic steps must increase, not {steps}")
        names = [self.primary.name, *(g.name for g in self.guardrails)]
        if len(set(names)) != len(names):
            raise ValueError(f"metric names must differ, not {names}")
        if self.planned_split is not None and (
            len(self.planned_split) != 2 or min(self.planned_split) <= 0
        ):
            raise ValueError(f"planned_split must be two positive weights: {self.planned_split}")

    def split_at(self, step: int) -> tuple[float, float]:
        if self.planned_split is not None:
            return self.planned_split
        return 100.0 - self.traffic_steps[step], float(self.traffic_steps[step])


def decide_canary(
    config: CanaryConfig,
    *,
    step: int,
    control: Mapping[str, ArmStats],
    candidate: Mapping[str, ArmStats],
    step_units: tuple[int, int],
    windows_at_step: int = 1,
) -> Decision:
    """The canary's action at ``step`` (an index into ``traffic_steps``), from each metric's
    cumulative statistics per arm, the (control, candidate) units since the step began and the
    windows seen at this step."""
    if not 0 <= step < len(config.traffic_steps):
        raise ValueError(f"step must index traffic_steps, not {step}")
    split = config.split_at(step)
    if min(split) <= 0:
        raise ValueError("at 100% there is no control left to compare with")
    metrics = (config.primary, *config.guardrails)
    checks = judge_all(
        config.primary, config.guardrails, control, candidate,
        alpha=config.alpha, tuning_units=config.tuning_units,
    )  # fmt: skip
    srm = sample_ratio_mismatch(step_units, split)
    reasons = [sentence(spec, check) for spec, check in zip(metrics, checks, strict=True)]
    breached = [s for s, c in zip(reasons, checks, strict=True) if c.status == "breached"]
    if srm.mismatch:
        srm_reason = mismatch_sentence(srm, split)
        if breached:
            return Decision("canary", "rollback", (*breached, srm_reason), checks, srm)
        return Decision("canary", "continue", (srm_reason, *reasons), checks, srm)
    if breached:
        return Decision("canary", "rollback", tuple(breached), checks, srm)
    waiting = config.min_windows_per_step - windows_at_step
    if checks[0].status == "cleared" and waiting > 0:
        hold = f"ready to promote; the step lasts {waiting} more window{'s' * (waiting > 1)}"
        return Decision("canary", "continue", (*reasons, hold), checks, srm)
    if checks[0].status == "cleared":
        last = step == len(config.traffic_steps) - 1 or config.traffic_steps[step + 1] >= 100
        if last:
            move = "promote to all traffic: the canary is complete"
        else:
            move = f"promote to the next step, {config.traffic_steps[step + 1]:g}% of traffic"
        action = "complete" if last else "promote"
        return Decision("canary", action, (*reasons, move), checks, srm)
    return Decision("canary", "continue", tuple(reasons), checks, srm)


def mismatch_sentence(srm: SampleRatio, split: Sequence[float]) -> str:
    control, candidate = srm.observed
    planned = f"{split[0]:g}/{split[1]:g}"
    return (
        f"traffic split mismatch: {count(control)} control and {count(candidate)} candidate "
        f"units at this step against a planned {planned} (chi-square p = {srm.p_value:.1e}): "
        "promotion is blocked until the assignment is fixed"
    )

"""One metric of an online comparison judged: always-valid bounds on candidate - control
(``sequential.difference_bounds``), whether the candidate's harm is certainly beyond the allowed
degradation (breached), certainly within it (cleared) or undecided (open), and the sentence that
says so. Canaries and shadows judge their metrics alike."""

from collections.abc import Mapping, Sequence

from .arms import EMPTY, ArmStats
from .decision import MetricCheck, MetricSpec, decimals_for, in_units, percent, unit_name
from .sequential import DEFAULT_TUNING_UNITS, MIN_UNITS, difference_bounds


def judge_all(
    primary: MetricSpec | None,
    guardrails: Sequence[MetricSpec],
    control: Mapping[str, ArmStats],
    candidate: Mapping[str, ArmStats],
    *,
    alpha: float,
    tuning_units: int = DEFAULT_TUNING_UNITS,
) -> tuple[MetricCheck, ...]:
    """The primary metric (when there is one) and the guardrails, with alpha shared out so
    that the chance of any false breach stays below alpha / 2 however often they are looked at:
    each harmful side is tested at alpha / (2 m), m the number of metrics (Bonferroni); the
    primary's other side, the one a promotion needs, at alpha / 2."""
    metrics = [*([primary] if primary is not None else []), *guardrails]
    harmful_alpha = alpha / (2 * max(1, len(metrics)))
    return tuple(
        judge(
            spec,
            control.get(spec.name, EMPTY),
            candidate.get(spec.name, EMPTY),
            harmful_alpha=harmful_alpha,
            other_alpha=alpha / 2 if spec is primary else harmful_alpha,
            tuning_units=tuning_units,
            role="primary" if spec is primary else "guardrail",
        )
        for spec in metrics
    )


def judge(
    spec: MetricSpec,
    control: ArmStats,
    candidate: ArmStats,
    *,
    harmful_alpha: float,
    other_alpha: float,
    tuning_units: int,
    role: str,
) -> MetricCheck:
    """One metric's bounds on candidate - control, and whether its harm is beyond
    ``max_degradation`` (breached), certainly within it (cleared) or undecided (open)."""
    higher = spec.direction == "higher_is_better"
    # harm = how much worse the candidate is: -difference when higher is better, so the
    # harmful side is the difference's upper bound then, its lower bound otherwise.
    bounds = difference_bounds(
        control,
        candidate,
        kind=spec.type,
        lower_alpha=other_alpha if higher else harmful_alpha,
        upper_alpha=harmful_alpha if higher else other_alpha,
        tuning_units=tuning_units,
    )
    least_harm = negate(bounds.upper) if higher else bounds.lower
    most_harm = negate(bounds.lower) if higher else bounds.upper
    status = "open"
    if least_harm is not None and least_harm > spec.max_degradation:
        status = "breached"
    elif most_harm is not None and most_harm < spec.max_degradation:
        status = "cleared"
    return MetricCheck(
        name=spec.name,
        role=role,
        estimate=bounds.estimate,
        lower=bounds.lower,
        upper=bounds.upper,
        level=1.0 - harmful_alpha - other_alpha,
        limit=spec.max_degradation,
        status=status,
    )


def negate(value: float | None) -> float | None:
    return None if value is None else -value


def sentence(spec: MetricSpec, check: MetricCheck) -> str:
    """e.g. "error_rate: candidate 0.60 points worse than control (difference +0.60, 97.5% CS
    +0.31 to +0.89), beyond the allowed 0.50"."""
    kind, unit = spec.type, unit_name(spec.type)
    limit = in_units(spec.max_degradation, kind)
    if check.estimate is None or check.lower is None or check.upper is None:
        return f"{spec.name}: too little data yet (each arm needs {MIN_UNITS} units and spread)"
    lower, upper = in_units(check.lower, kind), in_units(check.upper, kind)
    estimate = in_units(check.estimate, kind)
    places = decimals_for((upper - lower) / 2, limit)
    worse = estimate < 0 if spec.direction == "higher_is_better" else estimate > 0
    told = f"{abs(estimate):.{places}f}{unit} {'worse' if worse else 'better'} than control"
    if round(estimate, places) == 0:
        told = "level with control"
    figures = (
        f"(difference {estimate:+.{places}f}, {percent(check.level)} CS "
        f"{lower:+.{places}f} to {upper:+.{places}f})"
    )
    allowed = f"{limit:.{places}f}{unit}"
    if check.status == "breached":
        return f"{spec.name}: candidate {told} {figures}, beyond the allowed {allowed}"
    if check.status == "cleared":
        if check.role == "primary" and spec.max_degradation == 0:
            return f"{spec.name}: candidate {told} {figures}, shown not worse"
        if check.role == "primary":
            return f"{spec.name}: candidate {told} {figures}, shown within the margin {allowed}"
        return f"{spec.name}: candidate {told} {figures}, shown within the allowed {allowed}"
    return f"{spec.name}: candidate {told} {figures}, not yet decided against {allowed}"

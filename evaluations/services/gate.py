"""The regression gate a run's answer carries.

Until a model has a pinned baseline and thresholds there is nothing to compare against,
and the verdict is ``no_baseline``.
"""

from dataclasses import dataclass, field


@dataclass
class GateCheck:
    metric: str
    slice: str
    status: str
    message: str


@dataclass
class GateResult:
    status: str
    checks: list[GateCheck] = field(default_factory=list)


def evaluate_gate(*, run) -> GateResult:
    return GateResult(status="no_baseline")

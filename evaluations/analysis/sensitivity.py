"""How eager the trend analysis is: the project's choice of ``strict``, ``balanced`` or
``sensitive``, each a set of the detector's parameters, and the false-alarm rate and recall each
was measured to have (``benchmarks/detection.py`` writes ``sensitivity_figures.json`` beside
this module; the settings page shows those figures beside the choice).
"""

import json
from dataclasses import dataclass
from pathlib import Path

STRICT, BALANCED, SENSITIVE = "strict", "balanced", "sensitive"
SENSITIVITIES = (STRICT, BALANCED, SENSITIVE)
DEFAULT_SENSITIVITY = BALANCED
FIGURES_PATH = Path(__file__).with_name("sensitivity_figures.json")


@dataclass(frozen=True)
class Sensitivity:
    """The detector's parameters for one setting.

    ``alpha``: the largest p-value a finding may have; ``reference``: how many points before a
    split a step is judged against (more points, a steadier level to compare with, but an old
    change blurs a new one for longer); ``recent``: the latest points that must still be down;
    ``autocorrelation_z``: how many standard errors above 0 the estimated autocorrelation
    must be before it raises the noise (more: white noise is less often mistaken for
    correlated noise, and correlated noise more often left uncorrected)."""

    name: str
    alpha: float
    reference: int = 30
    recent: int = 5
    autocorrelation_z: float = 2.0
    assumed_autocorrelation: float = 0.0


_PRESETS = {
    STRICT: Sensitivity(STRICT, alpha=0.02),
    BALANCED: Sensitivity(BALANCED, alpha=0.02),
    SENSITIVE: Sensitivity(SENSITIVE, alpha=0.02),
}


def sensitivity(name: str) -> Sensitivity:
    """The parameters of a setting by its name; ``ValueError`` for an unknown name."""
    try:
        return _PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown sensitivity {name!r}: one of {', '.join(SENSITIVITIES)}"
        ) from None


def measured_figures() -> dict[str, dict]:
    """Per setting, what the detection benchmark measured: ``{"false_alarms_per_1000": {noise:
    rate}, "recall": {scenario: share}, ...}``; an empty dict for a setting not yet measured."""
    try:
        stored = json.loads(FIGURES_PATH.read_text())
    except FileNotFoundError:
        stored = {}
    return {name: stored.get(name, {}) for name in SENSITIVITIES}

"""The sensitivity settings: each a valid set of the detector's parameters, ordered from strict
to sensitive, and each measured."""

import pytest

from evaluations.analysis.detect import WINDOW, analyse
from evaluations.analysis.sensitivity import (
    BALANCED,
    SENSITIVE,
    SENSITIVITIES,
    STRICT,
    measured_figures,
    sensitivity,
)

from .factories import noisy, with_step


def test_settings_are_named_strict_balanced_sensitive_and_unknown_names_are_refused():
    assert SENSITIVITIES == ("strict", "balanced", "sensitive")
    assert [sensitivity(name).name for name in SENSITIVITIES] == list(SENSITIVITIES)
    with pytest.raises(ValueError, match="unknown sensitivity 'loud'"):
        sensitivity("loud")


@pytest.mark.parametrize("name", SENSITIVITIES)
def test_each_setting_is_a_valid_parameter_set(name):
    setting = sensitivity(name)

    assert 0 < setting.alpha < 0.5
    assert 5 <= setting.reference <= WINDOW
    assert 3 <= setting.recent <= setting.reference
    assert setting.autocorrelation_z >= 0


def test_settings_are_ordered_from_fewest_false_alarms_to_most_recall():
    strict, balanced, sensitive = (sensitivity(n) for n in (STRICT, BALANCED, SENSITIVE))

    assert strict.alpha < balanced.alpha < sensitive.alpha
    # correlated noise: the stricter, the readier to allow for it
    assert strict.autocorrelation_z <= balanced.autocorrelation_z <= sensitive.autocorrelation_z
    assert (
        strict.assumed_autocorrelation
        >= balanced.assumed_autocorrelation
        >= sensitive.assumed_autocorrelation
    )


def test_a_step_that_only_the_sensitive_setting_reports():
    values = with_step(noisy(80, seed=59, sigma=0.004), at=70, by=-0.0036)
    kinds = {
        name: [f.kind for f in analyse(values, direction="higher_is_better",
                                       sensitivity=sensitivity(name)).degradations]
        for name in SENSITIVITIES
    }  # fmt: skip

    assert kinds == {STRICT: [], BALANCED: [], SENSITIVE: ["step"]}


def test_alpha_overrides_the_settings_threshold():
    values = with_step(noisy(80, seed=59, sigma=0.004), at=70, by=-0.0036)
    sensitive = sensitivity(SENSITIVE)

    found = analyse(values, direction="higher_is_better", alpha=sensitive.alpha)
    default = analyse(values, direction="higher_is_better")
    tight = analyse(values, direction="higher_is_better", sensitivity=sensitive, alpha=1e-6)

    assert found.p_value == default.p_value  # the same tests, judged at another threshold
    assert ([f.kind for f in found.degradations], default.degradations) == (["step"], ())
    assert tight.degradations == ()


def test_no_setting_means_balanced():
    values = with_step(noisy(60, seed=8), at=50, by=-0.01)

    plain = analyse(values, direction="higher_is_better")
    balanced = analyse(values, direction="higher_is_better", sensitivity=sensitivity(BALANCED))

    assert plain == balanced


def test_every_setting_has_its_measured_figures():
    figures = measured_figures()

    assert set(figures) == set(SENSITIVITIES)
    for measured in figures.values():
        assert set(measured["false_alarms_per_1000"]) >= {"white", "t3", "outliers", "ar1"}
        assert set(measured["recall"]) >= {"step_1sigma", "step_2sigma", "drift_2sigma_50"}
        assert set(measured["median_delay"]) >= set(measured["recall"])
    rates = [figures[n]["false_alarms_per_1000"]["white"] for n in SENSITIVITIES]
    recalls = [figures[n]["recall"]["step_1sigma"] for n in SENSITIVITIES]
    assert rates == sorted(rates)
    assert recalls == sorted(recalls)

"""False-discovery-rate control across the series of one sweep."""

import numpy as np
import pytest

from evaluations.analysis.detect import analyse, control_fdr

from .factories import noisy, with_step


def test_fdr_suppresses_chance_findings_across_many_null_series():
    null = [
        analyse(noisy(60, seed=seed), direction="higher_is_better", alpha=0.9)
        for seed in range(300)
    ]
    planted = [
        analyse(
            with_step(noisy(60, seed=1000 + seed), at=50, by=-0.03), direction="higher_is_better"
        )
        for seed in range(5)
    ]

    chance = sum(1 for result in null if result.degradations)
    discoveries = control_fdr(null + planted, alpha=0.05)

    assert chance >= 5  # a lenient per-series level lets chance through...
    assert {d.series for d in discoveries} == set(range(300, 305))  # ...the sweep does not
    assert all(d.q_value <= 0.05 for d in discoveries)
    assert all(d.degradation.kind == "step" for d in discoveries)


def test_fdr_ignores_series_too_short_to_judge_and_needs_a_valid_alpha():
    short = analyse([0.9] * 5, direction="higher_is_better")

    assert control_fdr([short]) == []
    with pytest.raises(ValueError, match="alpha"):
        control_fdr([short], alpha=1.5)


def test_series_p_values_are_roughly_uniform_or_conservative_under_no_change():
    p_values = np.array(
        [
            analyse(noisy(80, seed=2000 + seed), direction="higher_is_better").p_value
            for seed in range(200)
        ]
    )

    assert np.mean(p_values <= 0.1) <= 0.1 + 0.05
    assert np.mean(p_values <= 0.5) <= 0.5 + 0.1

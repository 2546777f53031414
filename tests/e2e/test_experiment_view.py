"""An experiment's page in a real browser, under the content security policy: a chart per
metric with every version's line and band, the rollback marked, no console complaint."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.e2e.test_security import complaints, draw_every_chart, watched  # noqa: F401
from tests.test_experiment_pages import rolled_back

pytestmark = pytest.mark.browser


def test_a_rolled_back_canary_is_drawn_with_its_decision(watched, api):  # noqa: F811
    experiment, windows = rolled_back(api)
    page = watched

    page.goto(f"/experiments/{experiment['id']}/")

    assert draw_every_chart(page) == 3  # the primary metric and two guardrails
    chart = page.locator('.chart[data-metric="1"]')  # error_rate
    lines = chart.evaluate(
        "element => element.data.filter(t => t.name).map(t => [t.name, t.y.length])"
    )
    assert lines == [["1.4.0 (control)", windows], ["1.5.0", windows]]
    expect(chart.locator(".annotation-text", has_text="rollback")).to_have_count(1)
    expect(page.locator("#latest-decision")).to_have_text("rollback")
    shot(page, "experiment-rollback")
    assert complaints(page) == []

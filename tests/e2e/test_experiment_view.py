"""An experiment's page in a real browser, under the content security policy: a chart per
metric with every version's line and band, the rollback marked, no console complaint."""

import re

import pytest
from playwright.sync_api import expect

from evaluations.models import Channel
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


def test_the_projects_experiments_lead_to_each_page_and_its_alerts(watched, api, project):  # noqa: F811
    Channel.objects.create(project=project, name="oncall", emails=["ana@example.com"])
    experiment, _ = rolled_back(api)
    page = watched

    page.goto("/projects/acme/")
    page.locator("#experiments-link").click()

    rows = page.locator("#experiments tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("fraud 1.5 canary")
    expect(rows.first).to_contain_text("rollback")
    shot(page, "experiments-list")
    rows.first.get_by_role("link", name="fraud 1.5 canary").click()
    expect(page).to_have_url(re.compile(rf"/experiments/{experiment['id']}/$"))
    alerts = page.locator("#alerts tbody tr")
    expect(alerts).to_have_count(1)
    expect(alerts.first).to_contain_text("ana@example.com")
    expect(alerts.first).to_contain_text("Canary rolled back, guardrail breached")
    assert draw_every_chart(page) == 3
    shot(page, "experiment-alerts")
    assert complaints(page) == []

"""Missed regressions in a real browser: a member marks one from the model page's form, sees
it listed and starred on the chart, with the alerts' recall beside their precision, and
withdraws it, after which it is listed apart as withdrawn."""

import re

import pytest
from playwright.sync_api import expect

from tests import test_missed_api
from tests.e2e.conftest import drawn_chart, shot

pytestmark = pytest.mark.browser

MODEL = "/projects/acme/models/fraud-detector/"


history = test_missed_api.history  # the same versions posted (a fixture)


def chart_traces(page, metric_index):
    return drawn_chart(page, metric_index).evaluate(
        "element => element.data.map(trace => trace.name)"
    )


def test_a_member_marks_a_missed_regression_and_withdraws_it(member_page, history):
    page = member_page
    page.goto(MODEL)
    expect(page.locator("#alert-quality")).to_contain_text("recall nothing known yet")

    page.get_by_label("Series").select_option(label="accuracy")
    page.get_by_label("Should have been found at").fill("1.6.0")
    page.get_by_label("Note").fill("a new data source lowered accuracy")
    page.get_by_role("button", name="Mark as missed").click()

    expect(page.get_by_role("status")).to_contain_text("should have been found at 1.6.0")
    row = page.locator("#missed-marks").get_by_role("row", name=re.compile("1.6.0"))
    expect(row).to_contain_text("a new data source lowered accuracy")
    expect(row).to_contain_text("missed")
    expect(page.locator("#alert-quality")).to_contain_text("recall 0 (0 found, 1 missed)")
    assert "marked as missed" in chart_traces(page, 0)  # accuracy, the first chart
    shot(page, "missed-marked")

    row.get_by_role("button", name="Withdraw").click()

    expect(page.get_by_role("status")).to_contain_text("no longer counts as missed")
    expect(page.locator("#missed-marks")).to_contain_text("None marked")
    assert "marked as missed" not in chart_traces(page, 0)
    # Kept as a record, apart: who marked it, who withdrew it and when.
    kept = page.locator("#withdrawn-marks").get_by_role("row", name=re.compile("1.6.0"))
    expect(kept).to_contain_text("a new data source lowered accuracy")
    expect(kept).to_contain_text(re.compile(r"withdrawn by ana \d{4}-\d\d-\d\d \d\d:\d\d"))
    expect(kept.get_by_role("button")).to_have_count(0)
    expect(page.locator("#alert-quality")).to_contain_text("recall nothing known yet")
    page.locator("#missed").scroll_into_view_if_needed()
    shot(page, "missed-withdrawn")

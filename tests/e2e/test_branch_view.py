"""A pull request's branch drawn over the main line, in a real browser: both lines drawn and
named in the legend, each point's hover naming its branch, and the branch selector keeping
the line in the URL."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import drawn_chart, shot
from tests.histories import post_branched_history

pytestmark = pytest.mark.browser

MODEL = "/projects/acme/models/fraud-detector/"


def hover_text(page, chart, role, point):
    """What the hover box says over the ``point``-th drawn point of the trace of ``role``."""
    x, y = chart.evaluate(
        """(element, [role, point]) => {
            const trace = element.data.find(t => t.meta.role === role);
            const k = trace.y.map((v, i) => v === null ? -1 : i).filter(i => i >= 0)[point];
            const {xaxis, yaxis} = element._fullLayout;
            const box = element.getBoundingClientRect();
            return [box.left + xaxis._offset + xaxis.d2p(trace.x[k]),
                    box.top + yaxis._offset + yaxis.d2p(trace.y[k])];
        }""",
        [role, point],
    )
    hover = chart.locator(".hoverlayer .hovertext")
    page.mouse.move(0, 0)  # away first: the box of a point hovered before goes
    expect(hover).to_have_count(0)
    page.mouse.move(x, y)
    expect(hover).to_have_count(1)
    return " ".join(hover.text_content().split())


def test_a_pull_request_is_drawn_over_the_main_line(member_page, api):
    post_branched_history(api)
    page = member_page
    page.goto(MODEL + "?branch=feature%2Fx&over=main")

    chart = drawn_chart(page, 0)  # accuracy
    traces = chart.evaluate(
        """element => element.data.map(t => ({name: t.name, role: t.meta.role,
            colour: t.line.color, points: t.y.filter(v => v !== null).length}))"""
    )
    shot(page, "branch-over-main")

    lines = [(t["name"], t["role"], t["points"]) for t in traces if t["role"] in ("value", "over")]
    # Main's 40 runs beneath as the reference, the branch's 3 on top, in another colour.
    assert lines == [("main", "over", 40), ("feature/x", "value", 3)]
    main, branch = (t for t in traces if t["role"] in ("over", "value"))
    assert main["colour"] != branch["colour"]
    legend = chart.locator(".legendtext").all_text_contents()
    assert "main" in legend and "feature/x" in legend
    assert "on feature/x" in hover_text(page, chart, "value", 2)
    assert "on main" in hover_text(page, chart, "over", 0)
    expect(page.locator("h1")).to_contain_text("on feature/x, offline")

    # Choosing the main line leaves the branch and the overlay out of the URL.
    page.locator("#branch-select").select_option(label="main")
    page.wait_for_url(re.compile(r"\?dataset=holdout$"))
    main_only = drawn_chart(page, 0).evaluate("element => element.data.map(t => t.meta.role)")
    assert "over" not in main_only
    # And another branch opens drawn over main.
    page.locator("#branch-select").select_option(label="release/2")
    page.wait_for_url(re.compile(r"branch=release%2F2&over=main$"))
    expect(page.locator("h1")).to_contain_text("on release/2, offline")

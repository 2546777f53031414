"""The dashboards in a real browser: overview, a model's Plotly charts with baseline and drift
markers, the dataset selector, comparing two versions and pinning a baseline."""

import re

import pytest
from playwright.sync_api import expect

from evaluations.models import BaselinePin
from tests.e2e.conftest import PASSWORD, shot
from tests.histories import add_rule, drifting_history, pin_baseline, post_batch

pytestmark = pytest.mark.browser

MODEL = "/projects/acme/models/fraud-detector/"


@pytest.fixture
def history(api):
    """50 versions on holdout@v1 with a planted accuracy drift (analysed in-process as they
    are stored), then a baseline and a threshold rule, then 12 later versions on holdout@v2
    (judged against them as they are posted)."""
    post_batch(api, drifting_history())
    pin_baseline(api, "1.10", dataset_version="v1")
    add_rule(api, metric="accuracy", min=0.9, max_drop=0.01)
    post_batch(
        api, drifting_history(count=12, dataset={"name": "holdout", "version": "v2"}, start=60)
    )


def drawn_traces(page, metric_index=0):
    """The names of the traces Plotly drew in a chart, once it has drawn it."""
    chart = page.locator(f'.chart[data-metric="{metric_index}"]')
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(chart.locator(".scatterlayer .trace").first).to_be_attached()
    return chart.evaluate("element => element.data.map(trace => trace.name)")


def test_overview_to_model_page_with_baseline_thresholds_and_drift_markers(member_page, history):
    page = member_page
    page.goto("/")

    expect(page).to_have_url(re.compile(r"/projects/acme/$"))
    row = page.get_by_role("row", name=re.compile("fraud-detector"))
    # The latest run is on holdout@v2, whose accuracy is above the rule's floor of 0.9.
    expect(row.locator(".badge.gate-passed")).to_be_visible()
    expect(page.get_by_role("link", name="Drift").first).to_be_visible()
    expect(row.locator("svg.sparkline")).to_be_visible()
    shot(page, "overview")

    row.get_by_role("link", name="fraud-detector").click()
    page.wait_for_load_state()  # the page's scripts wire the selectors
    expect(page.get_by_role("heading", name=re.compile("fraud-detector"))).to_contain_text(
        "holdout@v2"
    )
    page.get_by_label("Dataset").select_option(label="holdout@v1")

    expect(page).to_have_url(re.compile(r"dataset=holdout&dataset_version=v1"))
    expect(page.get_by_role("heading", name=re.compile("fraud-detector"))).to_contain_text(
        "holdout@v1"
    )
    names = drawn_traces(page, 0)  # accuracy
    assert names[0] == "accuracy"
    assert "baseline 1.10" in names
    assert "detected change" in names
    assert "fitted trend" in names
    assert any(name.startswith("threshold min 0.9") for name in names)
    assert any(name.startswith("threshold max drop") for name in names)
    points = page.locator('.chart[data-metric="0"] .scatterlayer .trace').first.locator(".point")
    expect(points).to_have_count(50)
    latency = drawn_traces(page, 1)
    assert latency[0] == "latency_p95_ms"
    expect(page.locator('.chart[data-metric="1"] .errorbar').first).to_be_attached()
    shot(page, "model-page")
    # The page fits a 1280-px laptop screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_every_slice_of_a_metric_together(member_page, history):
    page = member_page
    page.goto(MODEL + "?dataset=holdout&dataset_version=v1")
    page.wait_for_load_state()

    page.get_by_label("Slice").select_option(label="every slice together")

    expect(page).to_have_url(re.compile(r"slice=\*"))
    names = drawn_traces(page, 1)  # f1 (accuracy, f1, latency by name)
    assert [name for name in names if name.startswith("country")] == ["country=DE", "country=US"]
    assert "baseline 1.10 (country=US)" in names
    shot(page, "model-page-slices")


def test_compare_two_versions_and_pin_a_baseline(member_page, history):
    page = member_page
    page.goto(MODEL + "?dataset=holdout&dataset_version=v1")

    page.get_by_role("link", name="Compare two versions").click()
    page.get_by_label("Version A").select_option("1.20")
    page.get_by_label("Version B").select_option("1.49")
    page.get_by_role("button", name="Compare").click()

    expect(page.get_by_role("heading", name="1.20 → 1.49")).to_be_visible()
    accuracy = page.get_by_role("row", name=re.compile(r"^accuracy overall"))
    expect(accuracy.locator(".badge")).to_have_text("▼ worse")
    expect(accuracy).to_contain_text("significant")
    shot(page, "compare")

    page.get_by_role("link", name="Pin 1.49 as baseline…").click()
    expect(page.get_by_role("heading")).to_contain_text("Pin fraud-detector 1.49")
    page.get_by_label("Why").fill("accepted the new tokenizer")
    page.get_by_role("button", name="Yes, pin 1.49").click()

    expect(page.get_by_role("status")).to_contain_text("1.49 is now the baseline on holdout")
    pin = BaselinePin.objects.order_by("-pinned_at", "-id").first()
    assert (pin.model_version.label, pin.pinned_by, pin.note) == (
        "1.49", "ana", "accepted the new tokenizer"
    )  # fmt: skip
    page.goto(MODEL + "?dataset=holdout&dataset_version=v1")
    assert "baseline 1.49" in drawn_traces(page, 0)


def test_the_finding_page_charts_the_change(member_page, history):
    page = member_page
    page.goto("/projects/acme/")

    page.get_by_role("link", name="Drift").first.click()

    expect(page.get_by_role("heading", name=re.compile("Drift"))).to_be_visible()
    names = drawn_traces(page, 0)
    assert {"accuracy", "detected change", "fitted trend"} <= set(names)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("heading", name=re.compile("acknowledged"))).to_be_visible()
    shot(page, "finding")


def test_the_tables_work_without_javascript(browser, live_server, log_in_as, history):
    log_in_as("ana")  # makes the member; this test browses in a context without scripts
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        page.goto("/login/")
        page.get_by_label("Username").fill("ana")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(MODEL)

        # The selectors still work: the form's submit button is there without the script.
        page.get_by_label("Dataset").select_option(label="holdout@v1")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", name=re.compile("fraud-detector"))).to_contain_text(
            "holdout@v1"
        )
        latest = page.get_by_role("row", name=re.compile(r"^accuracy overall 1\.49"))
        expect(latest.get_by_role("link", name="drift")).to_be_visible()
        page.goto(MODEL + "compare/?dataset=holdout&dataset_version=v1&a=1.20&b=1.49")
        expect(page.get_by_role("row", name=re.compile(r"^accuracy overall"))).to_contain_text(
            "worse"
        )
        shot(page, "model-page-without-javascript")
    finally:
        context.close()

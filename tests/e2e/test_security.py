"""The pages under their Content-Security-Policy in a real browser: nothing is refused, the
charts and the API docs still draw, and labels with markup stay text in the charts."""

import pytest
from playwright.sync_api import expect

from evaluations.models import EvaluationRun, Finding
from tests.e2e.conftest import shot
from tests.e2e.test_dashboard import MODEL, history  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

# Records what the policy refuses (the browser's own event, fired before any page script).
LISTEN_FOR_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber} (${event.sample})`);
});
"""
LINK = '<a href="https://evil.example">1.0</a>'


@pytest.fixture
def watched(member_page):
    """The member's page, recording console messages and policy violations."""
    member_page.context.add_init_script(LISTEN_FOR_VIOLATIONS)
    member_page.console = []
    member_page.on(
        "console",
        lambda message: member_page.console.append(f"{message.type}: {message.text}"),
    )
    return member_page


def complaints(page):
    """The policy violations and console errors or warnings the page had so far."""
    violations = page.evaluate("window.__violations")
    console = [line for line in page.console if line.startswith(("error", "warning"))]
    return violations + console


def draw_every_chart(page):
    charts = page.locator(".chart[data-metric]")
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        expect(chart).to_have_attribute("data-drawn", "true")
        expect(chart.locator("svg.main-svg").first).to_be_attached()
        expect(chart.locator(".scatterlayer .trace").first).to_be_attached()
    return charts.count()


def hover_over(page, point):
    """Moves the mouse onto a chart's point (Plotly's drag layer above it takes the events)."""
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_every_page_works_under_the_policy(watched, history):  # noqa: F811
    page = watched
    run = EvaluationRun.objects.get(model_version__label="1.49", dataset__version="v1")
    finding = Finding.objects.filter(kind="drift").first()
    assert finding is not None, "the planted drift was found"
    pages = {
        "overview": ("/projects/acme/", 0),
        "model": (MODEL + "?dataset=holdout&dataset_version=v1", 2),
        "model-every-slice": (MODEL + "?dataset=holdout&dataset_version=v1&slice=*", 3),
        "compare": (MODEL + "compare/?dataset=holdout&dataset_version=v1&a=1.20&b=1.49", 0),
        "run": (f"/runs/{run.pk}/", 0),
        "finding": (f"/findings/{finding.pk}/", 1),
        "settings": ("/projects/acme/settings/", 0),
        "tokens": ("/projects/acme/settings/tokens/", 0),
    }
    for name, (path, charts) in pages.items():
        response = page.goto(path)
        assert "script-src 'self'" in response.headers["content-security-policy"], name
        page.wait_for_load_state("load")
        assert draw_every_chart(page) == charts, name
        # Hovering a point draws Plotly's hover label, which styles its text as it goes.
        if charts:
            hover_over(page, page.locator(".chart .scatterlayer .trace .point").nth(1))
            expect(page.locator(".hoverlayer .hovertext").first).to_be_attached()
        assert complaints(page) == [], name
        shot(page, f"csp-{name}")

    page.get_by_role("button", name="Log out").click()
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert complaints(page) == [], "login"


def test_the_api_docs_work_under_the_policy(watched):
    page = watched

    response = page.goto("/api/v1/docs/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Model metrics tracker API")
    page.get_by_text("/api/v1/runs/", exact=True).first.click()  # opens an operation
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert complaints(page) == []
    shot(page, "csp-api-docs")


@pytest.fixture
def labels_with_markup(api):
    """Five versions of a model, the third labelled with a link, on a slice named in bold."""
    versions = ["0.7", "0.8", LINK, "0.9", "<b>x</b>"]
    runs = [
        {"model": "fraud-detector", "version": version, "commit": f"<b>c{i}</b>",
         "dataset": {"name": "holdout", "version": "v1"},
         "finished_at": f"2026-01-0{i + 1}T00:00:00Z",
         "metrics": [{"name": "accuracy", "value": 0.9 + i / 100, "n": 1000},
                     {"name": "accuracy", "value": 0.8, "slice": "<b>bold</b>"},
                     {"name": "<i>loss</i>", "value": 1.0 - i / 10, "unit": "<b>u</b>"}]}
        for i, version in enumerate(versions)
    ]  # fmt: skip
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()
    pinned = api.put(
        "/api/v1/models/fraud-detector/baseline/",
        {"dataset": "holdout", "version": LINK},
        format="json",
    )
    assert pinned.status_code in (200, 201), pinned.json()


def test_version_labels_with_markup_show_as_text_in_the_chart(watched, labels_with_markup):
    page = watched
    page.goto(MODEL + "?slice=*")
    page.wait_for_load_state("load")
    assert draw_every_chart(page) == 2
    accuracy = page.locator('.chart[data-metric="1"]')  # <i>loss</i> sorts first

    ticks = accuracy.locator(".xaxislayer-above .xtick text").all_text_contents()
    assert LINK in ticks and "<b>x</b>" in ticks
    assert "<b>bold</b>" in accuracy.locator(".legend .legendtext").all_text_contents()
    loss = page.locator('.chart[data-metric="0"]')
    expect(loss.locator(".g-ytitle")).to_have_text("<b>u</b>")
    # Plotly draws <a href> as an svg link and <b> as a bold tspan: neither is in any chart.
    svg_links = page.locator(".chart svg a")
    expect(svg_links).to_have_count(0)
    assert page.locator('.chart [href*="evil.example"]').count() == 0
    assert page.locator('.chart tspan[style*="bold"]').count() == 0

    hover_over(page, accuracy.locator(".scatterlayer .trace").first.locator(".point").nth(2))
    hover = page.locator(".hoverlayer .hovertext")
    expect(hover).to_contain_text(LINK)
    expect(hover).to_contain_text("commit <b>c2</b>")
    expect(hover.locator("a")).to_have_count(0)
    assert complaints(page) == []
    shot(page, "csp-labels-with-markup")

    page.goto(MODEL)  # one slice: the baseline has its own legend entry
    page.wait_for_load_state("load")
    draw_every_chart(page)
    legend = page.locator('.chart[data-metric="1"] .legend .legendtext').all_text_contents()
    assert f"baseline {LINK}" in legend
    expect(page.locator(".chart svg a")).to_have_count(0)
    assert complaints(page) == []

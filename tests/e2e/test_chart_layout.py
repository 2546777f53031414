"""What the model page's charts draw, in a real browser: each slice's threshold bands are its
own rules', and Plotly's toolbar never covers the legend."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot

pytestmark = pytest.mark.browser

MODEL = "/projects/acme/models/fraud-detector/"


def run(i):
    return {
        "model": "fraud-detector", "version": f"2.{i}",
        "dataset": {"name": "holdout", "version": "v1"},
        "finished_at": f"2026-02-{i + 1:02d}T00:00:00Z",
        "metrics": [
            {"name": "recall", "value": 0.82 + 0.002 * (i % 3)},
            {"name": "recall", "value": 0.78 + 0.002 * (i % 4), "slice": "country=DE"},
            {"name": "precision", "value": 0.86 + 0.001 * (i % 2)},
            {"name": "precision", "value": 0.84, "slice": "country=DE"},
        ],
    }  # fmt: skip


@pytest.fixture
def sliced(api):
    """recall and precision on overall and country=DE; a floor and a largest drop (drawn
    once a baseline is pinned) on recall for the overall slice only, and a floor on precision
    for every slice."""
    response = api.post("/api/v1/runs/batch/", {"runs": [run(i) for i in range(20)]}, format="json")
    assert response.status_code == 201, response.json()
    for rule in (
        {"metric": "recall", "slice": "overall", "min": 0.8, "max_drop": 0.01},
        {"metric": "precision", "min": 0.7},
    ):
        answer = api.post("/api/v1/models/fraud-detector/thresholds/", rule, format="json")
        assert answer.status_code == 201, answer.json()


def traces(page, index):
    chart = page.locator(f'.chart[data-metric="{index}"]')
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-drawn", "true")
    return chart.evaluate(
        """element => element.data.map(t => ({name: t.name, role: t.meta.role,
            group: t.legendgroup || null, colour: t.line && t.line.color}))"""
    )


def test_a_slices_threshold_is_drawn_as_that_slices_own(member_page, sliced):
    page = member_page
    page.goto(MODEL + "?dataset=holdout&dataset_version=v1&slice=*")

    precision, recall = traces(page, 0), traces(page, 1)
    shot(page, "every-slice-thresholds")

    recall_limits = [t for t in recall if t["role"] == "threshold"]
    overall = next(t for t in recall if t["role"] == "value" and t["group"] == "overall")
    # The floor of the overall slice, named and coloured as the overall slice's, in its group:
    # nothing says country=DE (at 0.78, below it) fails it.
    assert [(t["name"], t["group"], t["colour"]) for t in recall_limits] == [
        ("threshold min 0.8 (overall)", "overall", overall["colour"])
    ]
    # A floor for every slice is drawn once, in no slice's group.
    assert [(t["name"], t["group"]) for t in precision if t["role"] == "threshold"] == [
        ("threshold min 0.7", None)
    ]


@pytest.mark.parametrize("slice_query", ["*", "overall"])
def test_the_toolbar_does_not_cover_the_legend(member_page, api, sliced, slice_query):
    # A baseline adds its line and the drop's band to the legend, which then runs wide.
    pinned = api.put(
        "/api/v1/models/fraud-detector/baseline/",
        {"dataset": "holdout", "version": "2.0", "dataset_version": "v1"},
        format="json",
    )
    assert pinned.status_code in (200, 201), pinned.json()
    page = member_page
    page.goto(MODEL + f"?dataset=holdout&dataset_version=v1&slice={slice_query}")
    chart = page.locator('.chart[data-metric="1"]')
    traces(page, 1)

    chart.hover()  # Plotly shows its toolbar while the pointer is over the chart
    modebar = chart.locator(".modebar")
    expect(modebar).to_be_visible()
    shot(page, f"toolbar-and-legend-{slice_query}")

    toolbar = modebar.bounding_box()
    legend = chart.locator("g.legend").bounding_box()
    apart = (
        toolbar["y"] + toolbar["height"] <= legend["y"]
        or legend["y"] + legend["height"] <= toolbar["y"]
        or toolbar["x"] + toolbar["width"] <= legend["x"]
        or legend["x"] + legend["width"] <= toolbar["x"]
    )
    assert apart, f"toolbar {toolbar} overlaps legend {legend}"

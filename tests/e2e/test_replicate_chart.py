"""A replicate set on the model page, in a real browser: one place on the axis with its seeds'
interval as an error bar, and a hover that says it is a mean of seeds."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import drawn_chart, shot

pytestmark = pytest.mark.browser

MODEL = "/projects/acme/models/ranker/"
SEEDS = {  # per version: each seed's accuracy (a single run for 1.0 and 1.3)
    "1.0": [0.900],
    "1.1": [0.905, 0.925, 0.915],
    "1.2": [0.880, 0.920, 0.900, 0.890],
    "1.3": [0.930],
}


@pytest.fixture
def seeded(api):
    runs = [
        {"model": "ranker", "version": version, "seed": seed,
         "dataset": {"name": "holdout", "version": "v1"},
         "finished_at": f"2026-02-0{v + 1}T00:{seed:02d}:00Z",
         "metrics": [{"name": "accuracy", "value": value}]}
        for v, (version, values) in enumerate(SEEDS.items())
        for seed, value in enumerate(values)
    ]  # fmt: skip
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()


def test_a_replicate_set_is_one_point_with_an_error_bar(member_page, seeded):
    page = member_page
    page.goto(MODEL + "?dataset=holdout&dataset_version=v1")
    chart = drawn_chart(page)

    drawn = chart.evaluate(
        """element => { const t = element.data.find(t => t.meta.role === "value");
            return {x: t.x, y: t.y, plus: t.error_y && t.error_y.array,
                    seeds: t.customdata.map(c => c[5])}; }"""
    )
    assert drawn["x"] == ["1.0", "1.1", "1.2", "1.3"]
    assert drawn["y"][1] == pytest.approx(0.915) and drawn["y"][2] == pytest.approx(0.8975)
    assert drawn["plus"][0] is None and drawn["plus"][1] > 0.02 and drawn["plus"][2] > 0.02
    assert drawn["seeds"][1] == " (mean of 3 seeds ± 0.01)"
    assert drawn["seeds"][2].startswith(" (mean of 4 seeds ± 0.0170") and drawn["seeds"][0] == ""
    chart.evaluate(
        """element => Plotly.Fx.hover(element, [{curveNumber:
            element.data.findIndex(t => t.meta.role === "value"), pointNumber: 1}])"""
    )
    expect(chart.locator(".hovertext")).to_contain_text("mean of 3 seeds ± 0.01")
    shot(page, "replicate-set-chart")


def test_a_seeded_runs_page_lists_its_siblings(member_page, seeded):
    page = member_page
    page.goto(MODEL + "?dataset=holdout&dataset_version=v1")
    chart = drawn_chart(page)
    run_id = chart.evaluate(
        """element => element.data.find(t => t.meta.role === "value").customdata[1][3]"""
    )

    page.goto(f"/runs/{run_id}/")
    expect(page.locator("#replicates")).to_have_text("Seed replicates")
    expect(page.locator("table.replicates tbody tr")).to_have_count(2)
    shot(page, "replicate-siblings-run-page")
